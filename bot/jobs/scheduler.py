"""The bot process's scheduled jobs (APScheduler 3.11). Later issues add clock checks,
escalations and digests here, behind a leader lock."""

from __future__ import annotations

from datetime import UTC

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.channels.base import Sender, deliver_due
from bot.dialogue.pipeline import Pipeline

INBOX_SWEEP_SECONDS = 5
OUTBOX_RETRY_SECONDS = 2


def build_scheduler(pipeline: Pipeline) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone=UTC)
    scheduler.add_job(pipeline.sweep_pending, "interval", seconds=INBOX_SWEEP_SECONDS,
                      id="sweep_inbox", max_instances=1, coalesce=True)
    return scheduler


def add_outbox_delivery(scheduler: AsyncIOScheduler, sender: Sender, pipeline: Pipeline) -> None:
    """Retry what is due on a pushing channel (the web chat is pulled by its page instead)."""
    scheduler.add_job(deliver_due, "interval", seconds=OUTBOX_RETRY_SECONDS,
                      args=[sender, pipeline.db_url, pipeline.clock],
                      id=f"outbox_{sender.channel}", max_instances=1, coalesce=True)
