"""The desk's ticket page (GET /desk/tickets/<CODE>) and a ticket's files
(GET /desk/attachments/<id>). The page renders `bot.core.ticket_view.ticket_page`; the actions
it offers are POSTs handled in `views_ticket_actions`. Every request is authorised on the server:
a ticket the officer may not handle (a tố cáo above all) is "not found"."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from urllib.parse import quote

import structlog
from aiohttp import web
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core import desk, public_board
from bot.core.attachments import MEDIA_TYPES
from bot.core.authz import Caller, NotAllowed
from bot.core.context import CoreContext
from bot.core.ticket_view import DOCUMENT_LABELS, ticket_page
from bot.store.db import session_scope
from bot.store.files import LocalFileStorage
from bot.store.models import Attachment, DataAccessLog, Ticket
from bot.web.desk import security

log = structlog.get_logger(__name__)

TICKET_TEMPLATE = "desk/ticket.html"
ERROR_TEMPLATE = "desk/_ticket_error.html"
CODE_PATTERN = r"[A-Za-z0-9][A-Za-z0-9-]{2,39}"
FILE_PURPOSE = "xem tệp đính kèm của đơn"
PDF = "application/pdf"
PDF_MAX_BYTES = 10 * 1024 * 1024
# What the desk shows in the browser itself; anything else is downloaded, never rendered.
INLINE_TYPES = frozenset({PDF, *(t for types in MEDIA_TYPES.values() for t in types)})
# A file opened on its own runs nothing (Chromium's PDF viewer still shows a PDF under it).
FILE_POLICY = "default-src 'none'; img-src 'self'; media-src 'self'; sandbox"
DOCUMENT_KIND_CHOICES = [(kind, DOCUMENT_LABELS.get(kind, kind)) for kind in desk.DOCUMENT_KINDS]

NOT_FOUND_TITLE = "Không tìm thấy đơn"
NOT_FOUND_TEXT = ("Không tìm thấy đơn này, hoặc đơn không thuộc phạm vi xử lý của anh/chị. "
                  "Anh/chị kiểm tra lại mã đơn giúp ạ.")
FILE_NOT_FOUND_TEXT = "Không tìm thấy tệp này, hoặc anh/chị không có quyền xem tệp."
# What the page says after each action (security.flash shows it once).
DONE_TEXTS = {
    "accept": "Đã thụ lý đơn.",
    "assign": "Đã giao đơn cho cán bộ xử lý.",
    "start": "Đã chuyển đơn sang đang xử lý.",
    "transfer": "Đã chuyển đơn.",
    "ask": "Đã gửi câu hỏi tới người dân.",
    "reply": "Đã gửi trả lời tới người dân.",
    "resolve": "Đã gửi kết quả giải quyết tới người dân.",
    "reject": "Đã ghi nhận không thụ lý và báo cho người dân.",
    "reopen": "Đã mở lại đơn.",
    "link": "Đã gộp đơn vào đơn trùng.",
    "note": "Đã thêm ghi chú nội bộ.",
    "extend": "Đã gia hạn thời hạn giải quyết.",
    "clear_urgent": "Đã bỏ đánh dấu khẩn cấp.",
    "document": "Đã thêm văn bản.",
    "public_summary": "Đã lưu tóm tắt công khai.",
    "public_hide": "Đã ẩn đơn khỏi bảng công khai.",
    "public_show": "Đã hiện lại đơn trên bảng công khai.",
}


@dataclass(frozen=True)
class TemplateChoice:
    id: int
    title: str
    body: str


def desk_user(request: web.Request) -> security.DeskUser:
    """The logged-in officer (GET: redirect to the login page; POST: 403)."""
    return security.require_user(request)


def storage_of(request: web.Request) -> LocalFileStorage:
    return LocalFileStorage(security.settings_of(request).storage_dir)


def ticket_url(code: str) -> str:
    return f"/desk/tickets/{quote(code)}"


def error_page(request: web.Request, status: int, title: str, text: str,
               code: str | None = None) -> web.Response:
    """A polite page instead of a traceback; links back to the ticket when there is one."""
    return security.render(request, ERROR_TEMPLATE, {
        "title": title, "message": text, "status": status,
        "back_url": ticket_url(code) if code else None}, status=status)


def not_found(request: web.Request) -> web.Response:
    return error_page(request, 404, NOT_FOUND_TITLE, NOT_FOUND_TEXT)


def redirect_to_ticket(request: web.Request, code: str, action: str,
                       back_to_queue: bool = False) -> web.HTTPSeeOther:
    """POST-redirect-GET back to the page (or to the queue when the ticket left the officer's
    hands), with the result said there once."""
    text = DONE_TEXTS.get(action, "Đã lưu.")
    security.flash(request, f"{text} ({code})" if back_to_queue else text)
    return web.HTTPSeeOther("/desk/" if back_to_queue else ticket_url(code))


def _choices(templates) -> list[TemplateChoice]:
    return [TemplateChoice(t.id, t.title, t.body) for t in templates]


def _load_page(url: str, caller: Caller, code: str, ctx: CoreContext, threshold: float):
    with session_scope(url) as session:
        page = ticket_page(session, caller, code, ctx, threshold)
        ticket = session.scalar(select(Ticket).where(Ticket.code == page.code))
        return page, _choices(page.answer_templates), public_board.desk_state(session, ticket)


async def ticket_view(request: web.Request) -> web.StreamResponse:
    """GET /desk/tickets/<CODE>. `?template=ID` fills the answer box without JavaScript."""
    user = desk_user(request)
    code = request.match_info["code"].upper()
    try:
        page, templates, public = await asyncio.to_thread(
            _load_page, security.db_url(request), user.caller, code,
            security.core_context(request), security.settings_of(request).duplicate_similarity)
    except desk.TicketNotFound:
        return not_found(request)
    except NotAllowed as refused:
        return error_page(request, 403, "Không có quyền", str(refused))
    chosen = next((t for t in templates if str(t.id) == request.query.get("template")), None)
    return security.render(request, TICKET_TEMPLATE, {
        "page": page, "templates": templates, "chosen_template": chosen,
        "answer_prefill": chosen.body if chosen else "",
        "ticket_url": ticket_url(page.code), "document_kinds": DOCUMENT_KIND_CHOICES,
        "csrf_field": security.CSRF_FIELD, "csrf_value": user.csrf_token,
        "pdf_max_mb": PDF_MAX_BYTES // (1024 * 1024), "public": public,
        "public_board_on": security.settings_of(request).public_board})


def _file_for(url: str, caller: Caller, attachment_id: int, now) -> tuple[str, str] | None:
    """(storage key, content type) of a ticket's file the caller may see, access logged;
    None when there is no such file or the caller may not see its ticket."""
    with session_scope(url) as session:
        attachment = session.get(Attachment, attachment_id)
        if attachment is None or attachment.ticket_id is None:
            return None
        ticket = session.get(Ticket, attachment.ticket_id)
        if not _may_see(session, caller, ticket):
            return None
        session.add(DataAccessLog(at=now, actor_type=caller.type, actor_id=caller.id,
                                  citizen_id=ticket.citizen_id, ticket_id=ticket.id,
                                  purpose=FILE_PURPOSE))
        return attachment.storage_key, attachment.content_type


def _may_see(session: Session, caller: Caller, ticket: Ticket | None) -> bool:
    if ticket is None:
        return False
    try:
        desk.load_ticket(session, caller, ticket.code)
    except (NotAllowed, desk.TicketNotFound):
        return False
    return True


async def attachment_view(request: web.Request) -> web.StreamResponse:
    """GET /desk/attachments/<id>: a photo, video, voice note or signed PDF of a ticket, to
    those who may see the ticket only (404 for everyone else, so ids reveal nothing)."""
    user = desk_user(request)
    attachment_id = int(request.match_info["id"])
    found = await asyncio.to_thread(_file_for, security.db_url(request), user.caller,
                                    attachment_id, security.now(request))
    if found is None:
        return error_page(request, 404, "Không tìm thấy tệp", FILE_NOT_FOUND_TEXT)
    key, content_type = found
    try:
        path = await asyncio.to_thread(storage_of(request).local_path, key)
    except (OSError, ValueError):
        log.warning("desk_attachment_missing", attachment_id=attachment_id)
        return error_page(request, 404, "Không tìm thấy tệp", FILE_NOT_FOUND_TEXT)
    inline = content_type in INLINE_TYPES
    # Streamed from disk with Range support, so a video or voice note can be seeked.
    return web.FileResponse(path, headers={
        "Content-Type": content_type if inline else "application/octet-stream",
        "Content-Disposition": "inline" if inline else "attachment",
        "X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store",
        "Content-Security-Policy": FILE_POLICY, "Referrer-Policy": "no-referrer"})


def setup_ticket_routes(app: web.Application) -> None:
    """Called by bot.web.desk.setup_desk."""
    from bot.web.desk.views_ticket_actions import ACTIONS, action_view

    app.router.add_get(f"/desk/tickets/{{code:{CODE_PATTERN}}}", ticket_view)
    app.router.add_get(r"/desk/attachments/{id:\d{1,12}}", attachment_view)
    for name in ACTIONS:
        app.router.add_post(f"/desk/tickets/{{code:{CODE_PATTERN}}}/{name}", action_view(name))
