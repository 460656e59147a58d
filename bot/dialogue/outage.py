"""Outages of the dialogue engine (Rasa), shared by every bot process.

One row of `job_runs` (job "dialogue_outage", period "current") holds the outage: `started_at`
is when a process first failed to reach Rasa, `finished_at` is NULL while it lasts and set when
Rasa answers again. A later failure reopens the same row with a new start, so each outage has
its own start and the citizens' notice (dedupe key `outage:<start>:<sender>`) is sent once per
sender per outage, whichever process handles their messages. Both changes are conditional
updates, so two processes never open two outages at once; a failure of a request that began
before Rasa answered someone else is stale and opens nothing.

How often a process asks Rasa again during an outage is its own business (`Probe`): capped
exponential backoff, reset on the first answer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.store.models import JobRun

log = structlog.get_logger(__name__)

JOB, KEY = "dialogue_outage", "current"
PROBE_FIRST, PROBE_CAP = timedelta(seconds=5), timedelta(seconds=60)


def outage_id(started_at: datetime) -> str:
    return started_at.strftime("%Y%m%dT%H%M%S%f")


def notice_key(started_at: datetime, channel: str, external_id: str) -> str:
    """Once per sender per outage (at most 178 characters: the outbox allows 200)."""
    return f"outage:{outage_id(started_at)}:{channel}:{external_id}"


def current(session: Session) -> datetime | None:
    """The start of the outage going on, or None when Rasa is not known to be down."""
    row = session.get(JobRun, (JOB, KEY), populate_existing=True)
    return row.started_at if row is not None and row.finished_at is None else None


def record_failure(session: Session, now: datetime, asked_at: datetime) -> datetime | None:
    """Rasa could not answer a request made at `asked_at`: open the outage unless one is going
    on; its start, or None when Rasa answered someone after this request began."""
    try:
        with session.begin_nested():
            session.add(JobRun(job=JOB, period_key=KEY, started_at=now, finished_at=None,
                               result={}))
        log.warning("dialogue_outage_started")
        return now
    except IntegrityError:
        pass
    reopened = session.execute(
        update(JobRun).where(JobRun.job == JOB, JobRun.period_key == KEY,
                             JobRun.finished_at.is_not(None), JobRun.finished_at <= asked_at)
        .values(started_at=now, finished_at=None, result={}))
    if reopened.rowcount:
        log.warning("dialogue_outage_started")
    return current(session)


def record_answer(session: Session, now: datetime, asked_at: datetime) -> None:
    """Rasa answered a request made at `asked_at`: an outage that began before it is over."""
    row = session.get(JobRun, (JOB, KEY))
    if row is None or row.finished_at is not None:  # the usual case: one read, no write
        return
    seconds = round((now - row.started_at).total_seconds(), 1)
    ended = session.execute(
        update(JobRun).where(JobRun.job == JOB, JobRun.period_key == KEY,
                             JobRun.finished_at.is_(None), JobRun.started_at <= asked_at)
        .values(finished_at=now, result={"seconds": seconds}))
    if ended.rowcount:
        log.info("dialogue_outage_ended", seconds=seconds)


@dataclass
class Probe:
    """When this process may ask Rasa again after a failure: 5 s, doubling, at most 60 s."""

    delay: timedelta = timedelta(0)
    due: datetime | None = None

    def waiting(self, now: datetime) -> bool:
        return self.due is not None and now < self.due

    def failed(self, now: datetime) -> None:
        self.delay = min(PROBE_CAP, self.delay * 2) if self.delay else PROBE_FIRST
        self.due = now + self.delay

    def answered(self) -> None:
        self.delay, self.due = timedelta(0), None
