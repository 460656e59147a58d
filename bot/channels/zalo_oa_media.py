"""Files citizens send on the Zalo OA: Zalo gives a URL per file; each is downloaded (at most
MAX_ATTACHMENT_BYTES) and staged against the inbox row, or recorded in `media_failed` with the
reason, as the Telegram channel does."""

from __future__ import annotations

from functools import partial
from typing import Any

import httpx
import structlog

from bot.channels.staging import stage_off_loop
from bot.core.attachments import (
    MAX_ATTACHMENT_BYTES,
    base_type,
    media_type_for,
    stage_attachment,
)
from bot.store.db import session_scope
from bot.store.files import FileStorage
from bot.store.models import InboxMessage

DOWNLOAD_TIMEOUT = 30.0
log = structlog.get_logger(__name__)


async def fetch_all(storage: FileStorage, db_url: str, inbox_id: int,
                    items: list[dict[str, Any]]) -> None:
    failed = []
    async with httpx.AsyncClient(timeout=DOWNLOAD_TIMEOUT, follow_redirects=True) as client:
        for item in items:
            reason = await _fetch_one(client, storage, db_url, inbox_id, item)
            if reason is not None:
                failed.append({"type": item["type"], "reason": reason})
                log.warning("zalo_media_not_kept", inbox_id=inbox_id, reason=reason)
    if failed:
        with session_scope(db_url) as session:
            row = session.get(InboxMessage, inbox_id)
            row.payload = {**row.payload, "media_failed": failed}  # a new dict: SQLAlchemy sees it


async def _fetch_one(client: httpx.AsyncClient, storage: FileStorage, db_url: str,
                     inbox_id: int, item: dict[str, Any]) -> str | None:
    """None when the file is staged, else why not (too_large | download_failed | refused)."""
    if (item.get("file_size") or 0) > MAX_ATTACHMENT_BYTES:
        return "too_large"
    try:
        data, header_type = await _download(client, item["url"])
    except httpx.HTTPError as error:
        log.warning("zalo_download_failed", inbox_id=inbox_id, reason=type(error).__name__)
        return "download_failed"
    if data is None:
        return "too_large"
    # the CDN's own type when it is one we keep, else what the event said
    content_type = header_type if media_type_for(header_type) else item["content_type"]
    stage = partial(_stage, storage, db_url, inbox_id, content_type, data)
    return await stage_off_loop(stage, inbox_id)


async def _download(client: httpx.AsyncClient, url: str) -> tuple[bytes | None, str]:
    """The bytes (None when larger than allowed) and the content type the server gave."""
    async with client.stream("GET", url) as response:
        response.raise_for_status()
        chunks, size = [], 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > MAX_ATTACHMENT_BYTES:
                return None, ""
            chunks.append(chunk)
        return b"".join(chunks), base_type(response.headers.get("content-type", ""))


def _stage(storage: FileStorage, db_url: str, inbox_id: int, content_type: str,
           data: bytes) -> None:
    with session_scope(db_url) as session:
        stage_attachment(session, storage, inbox_id, content_type, data)
