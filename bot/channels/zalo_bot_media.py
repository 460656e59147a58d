"""Photos sent to the Zalo bot. The platform gives a link (`photo_url`), not a file id: the
photo is downloaded after the message is in the inbox, before the pipeline sees it, and staged
like Telegram's (bot/core/attachments.py). The link is never stored or logged."""

from __future__ import annotations

from functools import partial
from typing import Any

import httpx
import structlog

from bot.channels.staging import stage_off_loop
from bot.core.attachments import (
    MAX_ATTACHMENT_BYTES,
    media_type_for,
    stage_attachment,
)
from bot.store.db import session_scope
from bot.store.files import FileStorage
from bot.store.models import InboxMessage

DOWNLOAD_TIMEOUT = 30.0  # seconds
# what the first bytes say, when the server's content type is no image type we keep
SIGNATURES = ((b"\xff\xd8\xff", "image/jpeg"), (b"\x89PNG\r\n\x1a\n", "image/png"))
log = structlog.get_logger(__name__)


def photo_url(message: dict[str, Any]) -> str | None:
    """The photo's link in an image message (`photo_url`; `photo` in older answers)."""
    for key in ("photo_url", "photo"):
        value = message.get(key)
        if isinstance(value, str) and value.startswith(("https://", "http://")):
            return value
    return None


async def keep_photo(db_url: str, storage: FileStorage, inbox_id: int, url: str) -> None:
    """Downloads and stages the photo; when that fails, the row says why (media_failed), so
    the citizen is told it did not arrive."""
    reason = await _fetch_and_stage(db_url, storage, inbox_id, url)
    if reason is None:
        return
    log.warning("zalo_bot_photo_not_kept", inbox_id=inbox_id, reason=reason)
    with session_scope(db_url) as session:
        row = session.get(InboxMessage, inbox_id)
        row.payload = {**row.payload, "media_failed": [{"type": "photo", "reason": reason}]}


async def _fetch_and_stage(db_url: str, storage: FileStorage, inbox_id: int,
                           url: str) -> str | None:
    """None when staged, else why not (too_large | download_failed | refused)."""
    try:
        fetched = await _download(url)
    except httpx.HTTPError as error:
        log.warning("zalo_bot_download_failed", inbox_id=inbox_id, reason=type(error).__name__)
        return "download_failed"
    if isinstance(fetched, str):
        return fetched
    content_type, data = fetched
    if media_type_for(content_type) != "photo":
        content_type = _sniffed(data)
    if content_type is None:
        return "refused"
    stage = partial(_stage, db_url, storage, inbox_id, content_type, data)
    return await stage_off_loop(stage, inbox_id)


async def _download(url: str) -> tuple[str, bytes] | str:
    """(content type, bytes), or why not; stops reading past MAX_ATTACHMENT_BYTES."""
    async with httpx.AsyncClient(timeout=DOWNLOAD_TIMEOUT, follow_redirects=True) as http, \
            http.stream("GET", url) as response:
        if response.status_code != 200:
            return "download_failed"
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > MAX_ATTACHMENT_BYTES:
            return "too_large"
        data = bytearray()
        async for chunk in response.aiter_bytes():
            data.extend(chunk)
            if len(data) > MAX_ATTACHMENT_BYTES:
                return "too_large"
        return response.headers.get("Content-Type", "").lower(), bytes(data)


def _sniffed(data: bytes) -> str | None:
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return next((kind for magic, kind in SIGNATURES if data.startswith(magic)), None)


def _stage(db_url: str, storage: FileStorage, inbox_id: int, content_type: str,
           data: bytes) -> None:
    with session_scope(db_url) as session:
        stage_attachment(session, storage, inbox_id, content_type, data)
