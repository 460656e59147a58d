"""Jobs keyed by period: a job runs for a period only if it can insert that period's row, so a
restart or a second process never repeats it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.store.db import session_scope
from bot.store.models import JobRun


def period_key(now: datetime, minutes: int) -> str:
    """The UTC period containing `now`, e.g. 2026-03-02T10:15 for 15-minute periods."""
    floored = now.replace(minute=now.minute - now.minute % minutes, second=0, microsecond=0)
    return floored.strftime("%Y-%m-%dT%H:%M")


def run_once(db_url: str, job: str, key: str, now: datetime,
             work: Callable[[Session], dict[str, Any]]) -> dict[str, Any] | None:
    """Run `work` for (job, key) unless it ran before; None when it was already done. The claim
    and the work commit together, so a crash mid-way leaves the period free to retry."""
    try:
        with session_scope(db_url) as session:
            run = JobRun(job=job, period_key=key, started_at=now)
            session.add(run)
            session.flush()
            result = work(session)
            run.finished_at, run.result = now, result
            return result
    except IntegrityError:
        return None
