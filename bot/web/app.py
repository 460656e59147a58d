"""The bot's web server: the citizen web chat (on by default), /health and /metrics.

The web chat offers what the Telegram channel does: text, buttons, photos/videos/voice notes
(POST /api/chat/upload), a location pin and replies to a message about a ticket ("Bổ sung").
Every inbound message is stored in the inbox before anything else happens to it."""

from __future__ import annotations

import asyncio
import hashlib
import math
import re
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog
from aiohttp import BodyPartReader, web
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core.attachments import (
    MAX_ATTACHMENT_BYTES,
    AttachmentRefused,
    base_type,
    media_type_for,
    stage_attachment,
)
from bot.core.messaging import Inbound, due_outbound, mark_sent, store_inbound
from bot.dialogue.pipeline import Pipeline, button_key
from bot.settings import Settings
from bot.store.db import session_scope
from bot.store.files import LocalFileStorage
from bot.store.models import InboxMessage, OutboxMessage, Ticket
from bot.web.ops import setup_ops

log = structlog.get_logger(__name__)

STATIC = Path(__file__).parent / "static"
SESSION_COOKIE = "nd_chat"
MAX_REQUEST_TEXT = 20000  # beyond any real message: refused whole, never cut
MAX_JSON_BYTES = 64 * 1024
MAX_FIELD_BYTES = 4 * MAX_REQUEST_TEXT  # a caption of MAX_REQUEST_TEXT characters in UTF-8
UPLOAD_CHUNK = 256 * 1024
UPLOAD_FIELDS = ("caption", "client_message_id", "reply_to")
CHANNEL = "web"
PIPELINE = web.AppKey("pipeline", Pipeline)
SETTINGS = web.AppKey("settings", Settings)
# The page loads nothing from elsewhere; the browser enforces it too.
PAGE_POLICY = ("default-src 'self'; img-src 'self' blob:; media-src 'self' blob:; "
               "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")

BAD_REQUEST_TEXT = "Dạ, nội dung gửi lên không hợp lệ."
TOO_LONG_TEXT = "Dạ, tin nhắn dài quá, Ông/Bà vui lòng chia nhỏ."
NO_FILE_TEXT = "Dạ, Ông/Bà chưa chọn tệp để gửi ạ."
BAD_LOCATION_TEXT = ("Dạ, vị trí gửi lên không hợp lệ. Ông/Bà vui lòng thử lại, hoặc nhắn tên "
                     "thôn, đường, địa điểm gần đó ạ.")
NOT_SAVED_TEXT = "Dạ, chưa lưu được tệp. Ông/Bà vui lòng thử lại sau ít phút ạ."


class ChatInputError(Exception):
    """A request we cannot take; the message is meant for the citizen."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class UploadedFile:
    content_type: str
    data: bytes
    size: int  # bytes received; when too large, only how far we read
    too_large: bool

    @property
    def kind(self) -> str:
        """photo | video | voice, by the content type; "document" for anything else."""
        major = self.content_type.split("/")[0]
        return media_type_for(self.content_type) or {
            "image": "photo", "video": "video", "audio": "voice"}.get(major, "document")

    def describe(self) -> dict[str, Any]:
        return {"type": self.kind, "content_type": self.content_type, "file_size": self.size}


def _visitor(request: web.Request) -> tuple[str, str | None]:
    """(external id, new cookie or None). The id is a hash of the random cookie, so a database
    reader cannot take over a chat."""
    token = request.cookies.get(SESSION_COOKIE)
    new = None
    if not token or len(token) < 20:
        token = new = secrets.token_urlsafe(24)
    return hashlib.sha256(token.encode()).hexdigest()[:40], new


def _deliver(session: Session, external_id: str, clock) -> list[dict]:
    """Web delivery: the page fetches what is pending for it; fetched means sent. The outbox id
    is the platform message id, so a reply names the message the way every channel does."""
    rows = due_outbound(session, CHANNEL, clock(), recipient=external_id)
    codes = _ticket_codes(session, rows)
    out = []
    for row in rows:
        out.append(_message_json(row, codes.get(row.ticket_id)))
        mark_sent(row, clock(), str(row.id))
    return out


def _ticket_codes(session: Session, rows: list[OutboxMessage]) -> dict[int, str]:
    ids = {row.ticket_id for row in rows if row.ticket_id is not None}
    if not ids:
        return {}
    return dict(session.execute(select(Ticket.id, Ticket.code).where(Ticket.id.in_(ids))).all())


def _message_json(row: OutboxMessage, ticket_code: str | None = None) -> dict:
    buttons = [{"title": b["title"], "key": button_key(row.id, i)}
               for i, b in enumerate(row.buttons)]
    message: dict[str, Any] = {"id": row.id, "text": row.text, "buttons": buttons}
    if ticket_code:
        message["ticket"] = ticket_code  # the page offers "Bổ sung" under it
    return message


def _error(error: ChatInputError) -> web.Response:
    return web.json_response({"error": str(error)}, status=error.status)


def _with_cookie(response: web.Response, new_cookie: str | None) -> web.Response:
    if new_cookie:
        response.set_cookie(SESSION_COOKIE, new_cookie, httponly=True, samesite="Lax",
                            max_age=180 * 24 * 3600)
    return response


def _location_pin(value: object) -> dict[str, float]:
    """{"latitude", "longitude"} checked to be a real place on Earth."""
    if not isinstance(value, dict):
        raise ChatInputError(BAD_LOCATION_TEXT)
    pin = {}
    for name, bound in (("latitude", 90.0), ("longitude", 180.0)):
        number = value.get(name)
        if isinstance(number, bool) or not isinstance(number, int | float):
            raise ChatInputError(BAD_LOCATION_TEXT)
        if not math.isfinite(number) or not -bound <= number <= bound:
            raise ChatInputError(BAD_LOCATION_TEXT)
        pin[name] = float(number)
    return pin


def _reply_to(value: object) -> str | None:
    """The id of a message we sent (its platform message id); empty means no reply."""
    text = str(value if value is not None else "").strip()
    if not text:
        return None
    if not re.fullmatch(r"\d{1,18}", text):
        raise ChatInputError(BAD_REQUEST_TEXT)
    return text


def _client_id(value: object) -> str:
    """The page's id for this message: a retry carries the same one and is stored once."""
    return str(value or uuid.uuid4())[:64]


async def _json_inbound(request: web.Request, external_id: str) -> Inbound:
    if (request.content_length or 0) > MAX_JSON_BYTES:
        raise ChatInputError(TOO_LONG_TEXT, 413)
    try:
        body = await request.json()
    except ValueError:
        raise ChatInputError(BAD_REQUEST_TEXT) from None
    except web.HTTPRequestEntityTooLarge:  # a body sent without a length
        raise ChatInputError(TOO_LONG_TEXT, 413) from None
    if not isinstance(body, dict):
        raise ChatInputError(BAD_REQUEST_TEXT)
    text = str(body.get("text") or "")
    if len(text) > MAX_REQUEST_TEXT:
        raise ChatInputError(TOO_LONG_TEXT, 413)
    payload: dict[str, Any] = {}
    button = str(body.get("button") or "")[:40]
    if button:
        payload["button"] = button
    if body.get("location") is not None:
        payload["location_pin"] = _location_pin(body["location"])
        text = ""  # a pin is a message of its own, as on Telegram
    if reply_to := _reply_to(body.get("reply_to")):
        payload["reply_to"] = reply_to
    client_id = _client_id(body.get("client_message_id"))
    return Inbound(CHANNEL, f"{external_id}:{client_id}", external_id, text or None, payload)


async def _read_part(part: BodyPartReader, limit: int) -> tuple[bytes, bool]:
    """(bytes, too_large): stops one chunk past the limit, so an oversized part is never
    held in memory whole."""
    chunks, size = [], 0
    while chunk := await part.read_chunk(UPLOAD_CHUNK):
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            return b"".join(chunks), True
    return b"".join(chunks), False


async def _read_upload(request: web.Request) -> tuple[UploadedFile, dict[str, str]]:
    """The `file` part and the text fields. The body is streamed part by part (the app's small
    request-size limit does not apply to it), and the file is cut off past 20 MB; fields sent
    after an oversized file are never read."""
    if not request.content_type.startswith("multipart/form-data"):
        raise ChatInputError(BAD_REQUEST_TEXT)
    upload, fields = None, {}
    try:
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                raise ChatInputError(BAD_REQUEST_TEXT)
            if part.name == "file":
                if upload is not None:
                    break  # one file per message; the rest is not read
                upload = await _read_file(part)
                if upload.too_large:
                    break
                continue
            data, too_long = await _read_part(part, MAX_FIELD_BYTES)
            if too_long:
                raise ChatInputError(TOO_LONG_TEXT, 413)
            if part.name in UPLOAD_FIELDS:
                fields.setdefault(part.name, data.decode("utf-8"))
    except (ValueError, AssertionError):  # not valid multipart, or not UTF-8
        raise ChatInputError(BAD_REQUEST_TEXT) from None
    if upload is None:
        raise ChatInputError(NO_FILE_TEXT)
    return upload, fields


async def _read_file(part: BodyPartReader) -> UploadedFile:
    content_type = base_type(part.headers.get("Content-Type") or "")
    data, too_large = await _read_part(part, MAX_ATTACHMENT_BYTES)
    return UploadedFile(content_type, data, len(data), too_large)


def _keep_file(session: Session, storage: LocalFileStorage, row: InboxMessage,
               upload: UploadedFile) -> None:
    """Stage the file against its inbox row; a refused one is recorded on the row instead
    (the pipeline tells the citizen)."""
    if media_type_for(upload.content_type) is None:
        reason = "refused"
    elif upload.too_large:
        reason = "too_large"
    else:
        try:
            stage_attachment(session, storage, row.id, upload.content_type, upload.data)
            return
        except AttachmentRefused:
            reason = "refused"
    failed = [*row.payload.get("media_failed", []), {"type": upload.kind, "reason": reason}]
    row.payload = {**row.payload, "media_failed": failed}  # a new dict, so it is saved
    log.info("web_attachment_refused", inbox_id=row.id, reason=reason,
             content_type=upload.content_type)


def _store(db_url: str, storage_dir: Path, inbound: Inbound, upload: UploadedFile | None,
           now) -> int | None:
    """The inbox row (and its file) in one transaction: a crash keeps neither, and the page's
    retry with the same client_message_id stores them then. None for a retry of a stored one."""
    with session_scope(db_url) as session:
        row = store_inbound(session, inbound, now)
        if row is None:
            return None
        if upload is not None:
            _keep_file(session, LocalFileStorage(storage_dir), row, upload)
        return row.id


async def _accept(request: web.Request, inbound: Inbound, upload: UploadedFile | None,
                  new_cookie: str | None) -> web.Response:
    """Store, let the pipeline answer, hand back what is pending for this visitor."""
    pipeline, settings = request.app[PIPELINE], request.app[SETTINGS]
    try:  # in a thread: writing a 20 MB file must not stall every other chat
        inbox_id = await asyncio.to_thread(_store, pipeline.db_url, settings.storage_dir,
                                           inbound, upload, pipeline.clock())
    except OSError:
        log.exception("web_upload_not_saved")
        return _error(ChatInputError(NOT_SAVED_TEXT, 503))
    if inbox_id is not None:
        await pipeline.process_inbound(inbox_id)
    with session_scope(pipeline.db_url) as session:
        messages = _deliver(session, inbound.sender_external_id, pipeline.clock)
    return _with_cookie(web.json_response({"messages": messages}), new_cookie)


async def index(_request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "chat.html", headers={
        "Content-Security-Policy": PAGE_POLICY, "Cache-Control": "no-cache",
        "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"})


async def post_message(request: web.Request) -> web.Response:
    """Text, a pressed button or a location pin; any of them may reply to one of our messages."""
    external_id, new_cookie = _visitor(request)
    try:
        inbound = await _json_inbound(request, external_id)
    except ChatInputError as error:
        return _error(error)
    return await _accept(request, inbound, None, new_cookie)


async def upload(request: web.Request) -> web.Response:
    """One photo, video or voice note (multipart `file`), with an optional caption."""
    external_id, new_cookie = _visitor(request)
    try:
        file, fields = await _read_upload(request)
        reply_to = _reply_to(fields.get("reply_to"))
    except ChatInputError as error:
        return _error(error)
    caption = fields.get("caption", "").strip()
    if len(caption) > MAX_REQUEST_TEXT:
        return _error(ChatInputError(TOO_LONG_TEXT, 413))
    payload: dict[str, Any] = {"media": [file.describe()]}
    if reply_to:
        payload["reply_to"] = reply_to
    client_id = _client_id(fields.get("client_message_id"))
    inbound = Inbound(CHANNEL, f"{external_id}:{client_id}", external_id, caption or None,
                      payload)
    return await _accept(request, inbound, file, new_cookie)


async def get_messages(request: web.Request) -> web.Response:
    pipeline = request.app[PIPELINE]
    external_id, _ = _visitor(request)
    with session_scope(pipeline.db_url) as session:
        messages = _deliver(session, external_id, pipeline.clock)
    return web.json_response({"messages": messages})


def create_app(settings: Settings, pipeline: Pipeline,
               extra_routes: Callable[[web.Application], None] | None = None) -> web.Application:
    """`extra_routes` mounts a channel's own endpoints (the Telegram webhook)."""
    app = web.Application(client_max_size=64 * 1024)
    app[PIPELINE] = pipeline
    app[SETTINGS] = settings
    app.router.add_get("/", index)
    setup_ops(app, settings, pipeline)  # /health and /metrics
    app.router.add_post("/api/chat/messages", post_message)
    app.router.add_get("/api/chat/messages", get_messages)
    app.router.add_post("/api/chat/upload", upload)
    app.router.add_static("/static/", STATIC)
    from bot.web.desk import setup_desk  # the officers' desk (imports this module)

    setup_desk(app, settings, pipeline.db_url, pipeline.clock)
    if settings.public_board:  # /public/ (no login); off: it does not exist (404)
        from bot.web.public import setup_public

        setup_public(app, settings, pipeline.db_url, pipeline.clock)
    if extra_routes is not None:
        extra_routes(app)
    return app


async def start_web(settings: Settings, pipeline: Pipeline,
                    extra_routes: Callable[[web.Application], None] | None = None,
                    ) -> web.AppRunner:
    runner = web.AppRunner(create_app(settings, pipeline, extra_routes), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, settings.web_host, settings.web_port).start()
    return runner
