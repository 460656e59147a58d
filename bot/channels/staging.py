"""What every channel does with a downloaded file: stage it off the event loop, and say why
not when it cannot (the citizen is then told the file did not arrive)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import structlog

from bot.core.attachments import AttachmentRefused

log = structlog.get_logger(__name__)


async def stage_off_loop(stage: Callable[[], None], inbox_id: int) -> str | None:
    """Run `stage` (which stores the bytes and records the attachment) in a thread; None when
    done, "refused" (type or size not accepted) or "download_failed" (the disk failed)."""
    try:
        await asyncio.to_thread(stage)
    except AttachmentRefused:
        return "refused"
    except OSError as error:  # the disk: the citizen is told it did not arrive
        log.error("attachment_store_failed", inbox_id=inbox_id, reason=type(error).__name__)
        return "download_failed"
    return None
