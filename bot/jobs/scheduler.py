"""The bot process's scheduled jobs (APScheduler 3.11). Later issues add clock checks,
escalations and digests here, behind a leader lock."""

from __future__ import annotations

from datetime import UTC
from typing import Any

import structlog
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.channels.base import Sender, deliver_due
from bot.core import figures_rollup
from bot.core.context import CoreContext
from bot.dialogue.pipeline import Pipeline
from bot.jobs import clock_checks, digests, notice_delivery
from bot.jobs.leader import LeaderLock
from bot.jobs.periodic import period_key, run_once
from bot.store.db import session_scope

log = structlog.get_logger(__name__)

INBOX_SWEEP_SECONDS = 5
OUTBOX_RETRY_SECONDS = 2
LEADER_TICK_SECONDS = 60
FIGURES_JOB = "figures_rollup"


def build_scheduler(pipeline: Pipeline, leader: LeaderLock, ctx: CoreContext) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone=UTC)
    scheduler.add_job(pipeline.sweep_pending, "interval", seconds=INBOX_SWEEP_SECONDS,
                      id="sweep_inbox", max_instances=1, coalesce=True)
    scheduler.add_job(run_leader_jobs, "interval", seconds=LEADER_TICK_SECONDS,
                      args=[pipeline.db_url, leader, ctx], id="leader_jobs",
                      max_instances=1, coalesce=True)
    # Any process may run it: deliveries are claimed (leased) before they are sent.
    scheduler.add_job(notice_delivery.deliver_notices, "interval",
                      seconds=notice_delivery.INTERVAL_SECONDS, args=[pipeline.db_url],
                      kwargs={"clock": ctx.clock}, id=notice_delivery.JOB_NAME,
                      max_instances=1, coalesce=True)
    return scheduler


def run_leader_jobs(db_url: str, leader: LeaderLock, ctx: CoreContext) -> dict[str, Any]:
    """The jobs only one process may run: the leader runs each once per period."""
    if not leader.try_acquire():
        return {}
    now = ctx.clock()
    key = period_key(now, clock_checks.PERIOD_MINUTES)
    result = run_once(db_url, clock_checks.JOB_NAME, key, now,
                      lambda session: clock_checks.check_clocks(session, ctx))
    if result:
        log.info("clock_checks", period=key, **result)
    return {clock_checks.JOB_NAME: result, **digests.run_weekly(db_url, ctx, now),
            FIGURES_JOB: catch_up_figures(db_url, ctx)}


def catch_up_figures(db_url: str, ctx: CoreContext) -> int:
    """Keep the pre-aggregated figures close to the tickets, so a reader finds little to
    catch up (bot/core/figures_rollup.py); tickets recomputed, -1 after a rebuild."""
    with session_scope(db_url) as session:
        return figures_rollup.ensure(session, ctx)


def add_outbox_delivery(scheduler: AsyncIOScheduler, sender: Sender, pipeline: Pipeline) -> None:
    """Retry what is due on a pushing channel (the web chat is pulled by its page instead)."""
    scheduler.add_job(deliver_due, "interval", seconds=OUTBOX_RETRY_SECONDS,
                      args=[sender, pipeline.db_url, pipeline.clock],
                      id=f"outbox_{sender.channel}", max_instances=1, coalesce=True)
