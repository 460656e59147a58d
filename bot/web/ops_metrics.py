"""What /metrics and /health read from the database, at the moment they are asked.

The numbers come from the shared database, so every bot process reports the same ones; only
the NLU latency histogram and the process_* metrics are per process. Every query is an aggregate
that an index bounds (see the comments), because Prometheus asks every 15-60 seconds."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import structlog
from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
)
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from sqlalchemy import case, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from bot.core.routing import OPEN_STATUSES
from bot.core.taxonomy import Status
from bot.dialogue.rasa_client import TURN_SECONDS
from bot.jobs import clock_checks, digests
from bot.store.db import session_scope
from bot.store.desk_models import NoticeDelivery
from bot.store.models import InboxMessage, JobRun, OrgUnit, OutboxMessage, Ticket, TicketClock

log = structlog.get_logger(__name__)

TRIAGE_WINDOW = timedelta(days=30)
CLOCK_NAMES = ("accept", "resolve")
JOBS = (clock_checks.JOB_NAME, digests.JOB_NAME)
PULLED_CHANNELS = ("web",)  # the page fetches its messages: pending there waits for a visit


@dataclass
class OutboxChannel:
    pending: int = 0
    due: int = 0  # pending whose next attempt is now or past: the backlog
    oldest_pending: datetime | None = None


@dataclass
class Snapshot:
    now: datetime
    inbox: dict[str, int] = field(default_factory=dict)
    inbox_pending: dict[str, int] = field(default_factory=dict)
    outbox_done: dict[tuple[str, str], int] = field(default_factory=dict)  # (channel, status)
    outbox: dict[str, OutboxChannel] = field(default_factory=dict)
    tickets: dict[str, int] = field(default_factory=dict)
    open_by_unit: dict[str, int] = field(default_factory=dict)
    overdue: dict[str, int] = field(default_factory=dict)
    received_30d: int = 0
    triage_30d: int = 0
    notices: dict[tuple[str, str], int] = field(default_factory=dict)  # (via, status)
    last_runs: dict[str, datetime] = field(default_factory=dict)


def outbox_pending(session: Session, now: datetime) -> dict[str, OutboxChannel]:
    """Pending rows per channel (ix_outbox_due: status first, so only pending rows are read)."""
    rows = session.execute(
        select(OutboxMessage.channel, func.count(),
               func.sum(case((OutboxMessage.next_attempt_at <= now, 1), else_=0)),
               func.min(OutboxMessage.created_at))
        .where(OutboxMessage.status == "pending").group_by(OutboxMessage.channel)).all()
    return {channel: OutboxChannel(count, int(due or 0), _aware(oldest))
            for channel, count, due, oldest in rows}


def failed_since(session: Session, since: datetime) -> int:
    """Sends given up since then. A failed row keeps the due time of its last attempt
    (ix_outbox_due: status, next_attempt_at), which is when it failed, within a poll."""
    return session.scalar(select(func.count()).select_from(OutboxMessage).where(
        OutboxMessage.status == "failed", OutboxMessage.next_attempt_at >= since)) or 0


def last_run(session: Session, job: str) -> datetime | None:
    """When the job's latest period started. Period keys sort as text ("2026-03-02T10:15",
    "2026-W10"), so the primary key (job, period_key) finds it without a scan."""
    return _aware(session.scalar(select(JobRun.started_at).where(JobRun.job == job)
                                 .order_by(JobRun.period_key.desc()).limit(1)))


def read_snapshot(session: Session, now: datetime) -> Snapshot:
    snap = Snapshot(now)
    # The unique (channel, platform_message_id) index covers the per-channel count.
    snap.inbox = dict(session.execute(select(InboxMessage.channel, func.count())
                                      .group_by(InboxMessage.channel)).all())
    snap.inbox_pending = dict(session.execute(  # ix_inbox_pending (status, id)
        select(InboxMessage.channel, func.count()).where(InboxMessage.status == "pending")
        .group_by(InboxMessage.channel)).all())
    # Sent and failed only grow, so they are counters; no index leads with channel, so this
    # one reads the table (one pass, no sort of rows; see docs/deploy.md "Operations").
    snap.outbox_done = {(channel, status): count for channel, status, count in session.execute(
        select(OutboxMessage.channel, OutboxMessage.status, func.count())
        .where(OutboxMessage.status != "pending")
        .group_by(OutboxMessage.channel, OutboxMessage.status)).all()}
    snap.outbox = outbox_pending(session, now)
    snap.tickets = dict(session.execute(select(Ticket.status, func.count())  # ix_tickets_status
                                        .group_by(Ticket.status)).all())
    units = dict(session.execute(select(OrgUnit.id, OrgUnit.code)).all())
    snap.open_by_unit = {units.get(unit_id, "none"): count for unit_id, count in session.execute(
        select(Ticket.unit_id, func.count()).where(Ticket.status.in_(OPEN_STATUSES))
        .group_by(Ticket.unit_id)).all()}  # ix_tickets_status_unit covers it
    snap.overdue = dict(session.execute(  # ix_ticket_clocks_due (stopped_at, due_at)
        select(TicketClock.name, func.count())
        .where(TicketClock.stopped_at.is_(None), TicketClock.due_at < now,
               TicketClock.paused_at.is_(None))
        .group_by(TicketClock.name)).all())
    received, triage = session.execute(  # ix_tickets_received_at
        select(func.count(), func.sum(case((Ticket.needs_triage.is_(True), 1), else_=0)))
        .where(Ticket.received_at >= now - TRIAGE_WINDOW)).one()
    snap.received_30d, snap.triage_30d = received or 0, int(triage or 0)
    snap.notices = {(via, status): count for via, status, count in session.execute(
        select(NoticeDelivery.via, NoticeDelivery.status, func.count())
        .group_by(NoticeDelivery.via, NoticeDelivery.status)).all()}
    snap.last_runs = {job: at for job in JOBS if (at := last_run(session, job)) is not None}
    return snap


def snapshot_metrics(snap: Snapshot) -> Iterator[Metric]:
    metric = CounterMetricFamily("nghedan_messages_in", "Inbound messages stored (inbox rows)",
                                 labels=["channel"])
    for channel, count in sorted(snap.inbox.items()):
        metric.add_metric([channel], count)
    yield metric
    yield _gauge("nghedan_inbox_pending", "Inbound messages waiting for the dialogue",
                 "channel", snap.inbox_pending)
    metric = CounterMetricFamily("nghedan_messages_out", "Outbound messages finished, by how "
                                 "(sent, failed: given up)", labels=["channel", "status"])
    for (channel, status), count in sorted(snap.outbox_done.items()):
        metric.add_metric([channel, status], count)
    yield metric
    outbox = sorted(snap.outbox.items())
    yield _gauge("nghedan_outbox_pending", "Outbound messages not yet sent", "channel",
                 {channel: row.pending for channel, row in outbox})
    yield _gauge("nghedan_outbox_backlog", "Outbound messages due now and not yet sent",
                 "channel", {channel: row.due for channel, row in outbox})
    yield _gauge("nghedan_outbox_oldest_pending_seconds", "Age of the oldest unsent message",
                 "channel", {channel: _age(snap.now, row.oldest_pending) for channel, row in outbox
                             if row.oldest_pending is not None})
    yield _gauge("nghedan_tickets", "Tickets by current status", "status",
                 {**{status.value: 0 for status in Status}, **snap.tickets})
    yield _gauge("nghedan_open_tickets", "Open tickets by unit (code)", "unit", snap.open_by_unit)
    yield _gauge("nghedan_overdue_clocks", "Running legal clocks past their deadline", "clock",
                 {**{name: 0 for name in CLOCK_NAMES}, **snap.overdue})
    yield _gauge("nghedan_tickets_received_30d", "Tickets received in the last 30 days", None,
                 {(): snap.received_30d})
    share = snap.triage_30d / snap.received_30d if snap.received_30d else 0.0
    yield _gauge("nghedan_triage_share", "Share of the last 30 days' tickets that needed "
                 "triage (0..1)", None, {(): share})
    metric = GaugeMetricFamily("nghedan_notice_deliveries", "Officers' notice deliveries by way "
                               "and status", labels=["via", "status"])
    for (via, status), count in sorted(snap.notices.items()):
        metric.add_metric([via, status], count)
    yield metric
    yield _gauge("nghedan_job_last_run_timestamp_seconds", "When a scheduled job's latest "
                 "period started (Unix time)", "job",
                 {job: at.timestamp() for job, at in sorted(snap.last_runs.items())})


class DatabaseCollector:
    """Reads the database on every scrape (generate_latest runs it in a thread)."""

    def __init__(self, db_url: str, clock: Callable[[], datetime]) -> None:
        self.db_url = db_url
        self.clock = clock

    def describe(self) -> list[Metric]:
        return []  # registering must not touch the database

    def collect(self) -> Iterator[Metric]:
        started = time.perf_counter()
        up = GaugeMetricFamily("nghedan_database_up", "1 when the database answered this scrape")
        try:
            with session_scope(self.db_url) as session:
                snap = read_snapshot(session, self.clock())
        except SQLAlchemyError as error:
            log.warning("metrics_database_unavailable", error=type(error).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from snapshot_metrics(snap)
        yield GaugeMetricFamily("nghedan_metrics_db_seconds", "Time this scrape's database "
                                "reads took", value=time.perf_counter() - started)


def build_registry(db_url: str, clock: Callable[[], datetime]) -> CollectorRegistry:
    """One registry per app (never the global default): the database figures, this process's
    NLU latency histogram and its process_*/python_* metrics."""
    registry = CollectorRegistry()
    registry.register(DatabaseCollector(db_url, clock))
    for outcome in ("answered", "unavailable"):  # both series exist from the start, at 0
        TURN_SECONDS.labels(outcome)
    registry.register(TURN_SECONDS)
    for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
        registry.register(collector)
    return registry


def _gauge(name: str, documentation: str, label: str | None,
           values: dict) -> GaugeMetricFamily:
    metric = GaugeMetricFamily(name, documentation, labels=[label] if label else [])
    for key, value in values.items():
        metric.add_metric([key] if label else [], value)
    return metric


def _age(now: datetime, then: datetime) -> float:
    return max((now - then).total_seconds(), 0.0)


def _aware(value: datetime | None) -> datetime | None:
    """Aware UTC whatever the driver hands back for an aggregate of a UTC column."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)
