"""SQL building blocks of the leaders' figures (definitions: docs/figures.md), the same on
SQLite and PostgreSQL. Every figure is an aggregate query grouped by caller-given keys (the
ticket's category, kind, area and unit for breakdowns, or a week bucket for the chart), so a
breakdown never loops over tickets in Python.

Timestamps are stored as naive UTC. Local dates are UTC + a fixed offset: Asia/Ho_Chi_Minh
has had no daylight saving time since 1975 (`utc_offset_hours` refuses a zone with DST)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Date,
    Integer,
    String,
    and_,
    case,
    cast,
    func,
    literal,
    literal_column,
    null,
    or_,
    select,
    text,
    union_all,
)
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.elements import ColumnElement

from bot.store.models import Ticket, TicketClock, TicketEvent
from bot.store.report_models import TicketClockPeriod, WorkCalendarDay

OPEN_STATUSES = ("received", "accepted", "assigned", "in_progress", "need_info")
COUNTED_STATUSES = ("accepted", "resolved", "rejected", "transferred", "withdrawn")
# Stops that are no decision: left out of on-time rates (when before the deadline) and of
# durations. "restarted": a running period a reopen replaced (archive_period).
NOT_DECIDED_BY = ("withdrawn", "duplicate")
NO_DURATION_BY = ("withdrawn", "duplicate", "restarted")
# The citizen's answer to a question returns a ticket to the status it had: not a new
# acceptance (tickets.return_from_need_info records it as "information_added").
RETURN_ACTION = "information_added"

# Written out (not bound) so that SQLite, too, sees it implies the partial index of open
# tickets (0007) and reads the open tickets' groups from it.
OPEN_NOW = Ticket.status.in_([literal_column(f"'{status}'") for status in OPEN_STATUSES])

JULIAN_2000 = 2451544.5  # julianday('2000-01-01') in SQLite
Keys = Callable[[ColumnElement], Sequence[ColumnElement]]


def utc_offset_hours(tz: ZoneInfo) -> int:
    """The zone's fixed offset from UTC in whole hours; ValueError for a zone with DST (its
    local dates could not be a fixed shift of UTC in SQL)."""
    offsets = {tz.utcoffset(datetime(2026, month, 1)) for month in (1, 4, 7, 10)}
    if len(offsets) != 1:
        raise ValueError(f"{tz.key} has daylight saving time; figures need a fixed offset")
    offset = offsets.pop()
    if offset is None or offset % timedelta(hours=1):
        raise ValueError(f"{tz.key}: figures need a whole-hour UTC offset")
    return offset // timedelta(hours=1)


@dataclass(frozen=True)
class Sql:
    """Dialect-specific expressions for one session."""

    dialect: str
    hours: int

    @classmethod
    def of(cls, session: Session, tz: ZoneInfo) -> Sql:
        return cls(session.get_bind().dialect.name, utc_offset_hours(tz))

    def local_day(self, column: ColumnElement) -> ColumnElement:
        """The local date of a stored (naive UTC) timestamp."""
        if self.dialect == "sqlite":
            # Whole seconds first: SQLite's date functions round to milliseconds, which
            # would move a deadline at 23:59:59.999999 to the next day.
            return func.date(func.substr(column, 1, 19), f"{self.hours:+d} hours")
        shifted = column.op("+")(literal_column(f"interval '{self.hours} hours'"))
        return cast(shifted, Date)

    def ordinal(self, column: ColumnElement) -> ColumnElement:
        """The local date of a stored (naive UTC) timestamp as days since 2000-01-01."""
        if self.dialect == "sqlite":
            return cast(func.julianday(self.local_day(column)) - JULIAN_2000, Integer)
        return self.local_day(column).op("-")(literal_column("DATE '2000-01-01'"))

    def month_start(self, ordinal: ColumnElement) -> ColumnElement:
        """The first day of the month of a day given as days since 2000-01-01, the same way."""
        if self.dialect == "sqlite":
            shifted = func.date("2000-01-01", literal("+") + cast(ordinal, String)
                                + literal(" days"), "start of month")
            return cast(func.julianday(shifted) - JULIAN_2000, Integer)
        day = literal_column("DATE '2000-01-01'").op("+")(ordinal)
        return cast(func.date_trunc("month", day), Date).op("-")(
            literal_column("DATE '2000-01-01'"))

    def day_diff(self, later: ColumnElement, earlier: ColumnElement) -> ColumnElement:
        """Calendar days from one local date to another (integer)."""
        if self.dialect == "sqlite":
            return cast(func.julianday(later) - func.julianday(earlier), Integer)
        return later.op("-")(earlier)


def prepare(session: Session) -> None:
    """PostgreSQL: no JIT for the rest of this transaction. These aggregates run in tens of
    milliseconds once indexed, but their plans' estimated costs trigger JIT compilation,
    which alone took over a second in bench/figures.py."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL jit = off"))
        session.execute(text("SET LOCAL work_mem = '128MB'"))


def in_scope(query, scope) -> object:
    """Restrict a query that already joins `tickets` to the scope's units and area."""
    if scope.unit_ids:
        query = query.where(Ticket.unit_id.in_(sorted(scope.unit_ids)))
    if scope.area_id is not None:
        query = query.where(Ticket.area_id == scope.area_id)
    return query


def received_rows(session: Session, scope, start: datetime, end: datetime, keys: Keys):
    """keys + received, duplicates, confidential, without triage."""
    group = list(keys(Ticket.received_at))
    query = select(
        *group, func.count(),
        func.sum(case((Ticket.duplicate_of_id.is_not(None), 1), else_=0)),
        func.sum(case((Ticket.confidential, 1), else_=0)),
        func.sum(case((Ticket.needs_triage, 0), else_=1)),
    ).where(Ticket.received_at >= start, Ticket.received_at < end).group_by(*group)
    return session.execute(in_scope(query, scope)).all()


def status_rows(session: Session, scope, start: datetime, end: datetime, keys: Keys,
                statuses: Sequence[str] = COUNTED_STATUSES):
    """keys + distinct tickets moved into each of `statuses` (by default accepted, resolved,
    rejected, transferred, withdrawn) by events in [start, end)."""
    group = list(keys(TicketEvent.at))
    counts = [func.count(func.distinct(case((TicketEvent.to_status == status,
                                              TicketEvent.ticket_id))))
              for status in statuses]
    query = (select(*group, *counts).join(Ticket, Ticket.id == TicketEvent.ticket_id)
             .where(TicketEvent.at >= start, TicketEvent.at < end,
                    TicketEvent.to_status.in_(statuses),
                    TicketEvent.action != RETURN_ACTION)
             .group_by(*group))
    return session.execute(in_scope(query, scope)).all()


def _period_columns(table) -> list[ColumnElement]:
    paused = table.paused_at if table is TicketClock else null()
    return [table.ticket_id.label("ticket_id"), table.name.label("name"),
            table.unit.label("unit"), table.started_at.label("started_at"),
            table.due_at.label("due_at"), paused.label("paused_at"),
            table.stopped_at.label("stopped_at"), table.stopped_by.label("stopped_by")]


def clock_periods(where: Callable[[type], Sequence[ColumnElement]]):
    """Current clock periods (ticket_clocks) and those a reopen replaced
    (ticket_clock_periods), each branch filtered by `where(table)` before the union."""
    branches = [select(*_period_columns(table)).where(*where(table))
                for table in (TicketClock, TicketClockPeriod)]
    return union_all(*branches).subquery("periods")


def decidable(table) -> list[ColumnElement]:
    """Periods that are (or will be) a decision: withdrawn/duplicate stops in time and
    periods paused in time are none."""
    kept = [or_(table.stopped_by.is_(None), table.stopped_by.not_in(NOT_DECIDED_BY),
                table.stopped_at > table.due_at)]
    if table is TicketClock:
        kept.append(or_(table.paused_at.is_(None), table.paused_at > table.due_at))
    return kept


def _decided_filter(start: datetime, at_end: datetime) -> Callable[[type], list]:
    """Decidable periods decided in [start, at_end): stopped in time there, or due there
    without a stop in time (late)."""
    def where(table) -> list:
        in_time = and_(table.stopped_at.is_not(None), table.stopped_at <= table.due_at)
        decided = or_(
            and_(in_time, table.stopped_at >= start, table.stopped_at < at_end),
            and_(or_(table.stopped_at.is_(None), table.stopped_at > table.due_at),
                 table.due_at >= start, table.due_at < at_end))
        return [decided, *decidable(table)]
    return where


def clock_rows(session: Session, scope, start: datetime, at_end: datetime, keys: Keys):
    """keys + clock name, periods decided, periods on time (docs/figures.md)."""
    periods = clock_periods(_decided_filter(start, at_end))
    on_time = and_(periods.c.stopped_at.is_not(None), periods.c.stopped_at <= periods.c.due_at)
    decided_at = case((on_time, periods.c.stopped_at), else_=periods.c.due_at)
    group = [*keys(decided_at), periods.c.name]
    query = (select(*group, func.count(), func.sum(case((on_time, 1), else_=0)))
             .join(Ticket, Ticket.id == periods.c.ticket_id).group_by(*group))
    return session.execute(in_scope(query, scope)).all()


def changed_since(at_end: datetime):
    """(ticket_id, status) of tickets whose status changed at or after `at_end`, with their
    status just before: the `from_status` of their first status event since then (every
    status change records both ends, so this is the last status before `at_end`)."""
    # Materialized first: SQLite would otherwise read the whole table in ticket order (for
    # the window's partitions) instead of the events since `at_end` by the index on `at`.
    since = (select(TicketEvent.id, TicketEvent.ticket_id, TicketEvent.at,
                    TicketEvent.from_status)
             .where(TicketEvent.at >= at_end, TicketEvent.to_status.is_not(None))
             .cte("since").prefix_with("MATERIALIZED"))
    first = func.row_number().over(partition_by=since.c.ticket_id,
                                   order_by=(since.c.at, since.c.id))
    ranked = select(since.c.ticket_id, since.c.from_status, first.label("rank")).subquery()
    return (select(ranked.c.ticket_id, ranked.c.from_status).where(ranked.c.rank == 1)
            .cte("changed"))


def open_tickets(scope, at_end: datetime, columns: Sequence[str] = ()):
    """The scope's tickets open at `at_end` (received before, not a duplicate, open then), as
    a subquery of `id` and the named ticket columns. A ticket unchanged since `at_end` has
    the status it has now (read from the covering index of open tickets, 0007); a changed
    one had the status its first change since left."""
    changed = changed_since(at_end)
    selected = [Ticket.id, *(getattr(Ticket, name) for name in columns)]
    # coalesce(): SQLite's statistics make "duplicate_of_id IS NULL" look selective (most
    # tickets share the NULL) and would pick that index over the open tickets' one.
    unchanged = select(*selected).where(
        OPEN_NOW, Ticket.received_at < at_end, func.coalesce(Ticket.duplicate_of_id, 0) == 0,
        Ticket.id.not_in(select(changed.c.ticket_id)))
    moved = (select(*selected).join(changed, changed.c.ticket_id == Ticket.id)
             .where(changed.c.from_status.in_(OPEN_STATUSES), Ticket.received_at < at_end,
                    Ticket.duplicate_of_id.is_(None)))
    return union_all(in_scope(unchanged, scope), in_scope(moved, scope)).subquery("open")


def late_periods(at_end: datetime):
    """Clock periods (both tables) running at `at_end` past their deadline: started before
    it, not stopped before it, deadline before it (a paused one only if its deadline passed
    before the pause). Clocks still running and clocks stopped since are separate branches,
    so the first reads the small index of running clocks (0007)."""
    branches = []
    for table in (TicketClock, TicketClockPeriod):
        late = [table.started_at < at_end]
        if table is TicketClock:
            late.append(or_(table.paused_at.is_(None), table.paused_at > table.due_at))
        running = [table.stopped_at.is_(None), table.due_at < at_end]
        # Stopped since: found by the stop; the deadline test is kept out of reach of the
        # index on deadlines, which SQLite would otherwise prefer (almost every deadline
        # is before a recent `at_end`).
        stopped = [table.stopped_at >= at_end, case((table.due_at < at_end, 1), else_=0) == 1]
        for stop in (running, stopped):
            branches.append(select(*_period_columns(table)).where(*stop, *late))
    return union_all(*branches).subquery("late_periods")


def overdue_ids(at_end: datetime):
    """Ids of tickets with a period running late at `at_end` (open or not)."""
    return select(late_periods(at_end).c.ticket_id)


def open_rows(session: Session, scope, at_end: datetime, columns: Sequence[str]):
    """The named ticket columns + open at the end, overdue at the end."""
    tickets = open_tickets(scope, at_end, columns)
    late = tickets.c.id.in_(overdue_ids(at_end))
    group = [tickets.c[name] for name in columns]
    query = (select(*group, func.count(), func.sum(case((late, 1), else_=0)))
             .group_by(*group))
    return session.execute(query).all()


def duration_rows(session: Session, scope, start: datetime, end: datetime, sql: Sql):
    """(clock, unit, count, median, p90) of start-to-stop durations of periods stopped in
    [start, end) by a decision; nearest-rank percentiles by window functions."""
    periods = clock_periods(lambda table: [
        table.stopped_at >= start, table.stopped_at < end, *with_duration(table)])
    base = in_scope(durations_of(periods, sql).join(Ticket, Ticket.id == periods.c.ticket_id),
                    scope).subquery("durations")
    histogram = (select(base.c.clock, base.c.unit, base.c.value, func.count().label("count"))
                 .where(base.c.value.is_not(None))
                 .group_by(base.c.clock, base.c.unit, base.c.value).subquery("histogram"))
    return percentiles(session, histogram)


def with_duration(table) -> list[ColumnElement]:
    """Stopped periods whose stop is a decision (not withdrawn, duplicate or restarted)."""
    return [table.stopped_at.is_not(None),
            or_(table.stopped_by.is_(None), table.stopped_by.not_in(NO_DURATION_BY))]


def durations_of(periods, sql: Sql):
    """ticket_id, clock, unit, value (whole days, working or calendar as the clock counts;
    None outside the calendar table, 2025..2035) and stopped_at of stopped `periods`."""
    first, last = aliased(WorkCalendarDay), aliased(WorkCalendarDay)
    start_day, stop_day = sql.local_day(periods.c.started_at), sql.local_day(periods.c.stopped_at)
    working = periods.c.unit == "working_days"
    value = case((working, last.working_index - first.working_index),
                 else_=sql.day_diff(stop_day, start_day))
    unit = case((working, literal("working_days")), else_=literal("calendar_days"))
    return (select(periods.c.ticket_id, periods.c.name.label("clock"), unit.label("unit"),
                   value.label("value"), periods.c.stopped_at)
            .select_from(periods)
            .outerjoin(first, and_(working, first.day == start_day))
            .outerjoin(last, and_(working, last.day == stop_day)))


def percentiles(session: Session, histogram) -> list[tuple[str, str, int, object, object]]:
    """(clock, unit, count, median, p90) from a histogram of (clock, unit, value, count).
    Durations are whole days, so running totals give the nearest-rank percentiles exactly:
    the smallest value whose running count reaches rank ceil(p n). Sorting the histogram,
    not every period, keeps a year's report fast."""
    partition = (histogram.c.clock, histogram.c.unit)
    running = select(
        histogram.c.clock, histogram.c.unit, histogram.c.value,
        # PostgreSQL sums integers as numeric: cast, so the ranks divide as integers.
        cast(func.sum(histogram.c.count).over(partition_by=partition,
                                              order_by=histogram.c.value, rows=(None, 0)),
             Integer).label("running"),
        cast(func.sum(histogram.c.count).over(partition_by=partition), Integer).label("n"),
    ).subquery("running")
    median_rank = (running.c.n + 1) // 2  # ceil(n / 2)
    p90_rank = (running.c.n * 9 + 9) // 10  # ceil(0.9 n)
    query = (select(running.c.clock, running.c.unit, func.max(running.c.n),
                    func.min(case((running.c.running >= median_rank, running.c.value))),
                    func.min(case((running.c.running >= p90_rank, running.c.value))))
             .group_by(running.c.clock, running.c.unit))
    return [(clock, unit, int(n), median, p90)
            for clock, unit, n, median, p90 in session.execute(query)]


def extension_row(session: Session, scope, start: datetime, end: datetime):
    """(count, tickets, days, especially complex) of resolve clock extensions."""
    complex_ = TicketEvent.data["especially_complex"].as_boolean()
    query = (select(func.count(), func.count(func.distinct(TicketEvent.ticket_id)),
                    func.coalesce(func.sum(TicketEvent.data["days"].as_integer()), 0),
                    func.sum(case((complex_, 1), else_=0)))
             .join(Ticket, Ticket.id == TicketEvent.ticket_id)
             .where(TicketEvent.action == "resolve_clock_extended",
                    TicketEvent.at >= start, TicketEvent.at < end))
    return session.execute(in_scope(query, scope)).one()


def rating_rows(session: Session, scope, start: datetime, end: datetime):
    """(rating, count) of ratings given in [start, end)."""
    rating = TicketEvent.data["rating"].as_integer()
    query = (select(rating, func.count()).join(Ticket, Ticket.id == TicketEvent.ticket_id)
             .where(TicketEvent.action == "rated", TicketEvent.at >= start,
                    TicketEvent.at < end).group_by(rating))
    return session.execute(in_scope(query, scope)).all()


def reopen_row(session: Session, scope, start: datetime, end: datetime):
    """("Chưa hài lòng" pressed by citizens, distinct tickets reopened) in [start, end)."""
    by_citizen = TicketEvent.data["by"].as_string() == "citizen"
    query = (select(func.sum(case((by_citizen, 1), else_=0)),
                    func.count(func.distinct(TicketEvent.ticket_id)))
             .join(Ticket, Ticket.id == TicketEvent.ticket_id)
             .where(TicketEvent.action == "reopened", TicketEvent.at >= start,
                    TicketEvent.at < end))
    return session.execute(in_scope(query, scope)).one()


def bucket(column: ColumnElement, edges: Sequence[datetime]) -> ColumnElement:
    """The index i of [edges[i], edges[i+1]) holding `column` (callers filter the range)."""
    return case(*((column < edge, index) for index, edge in enumerate(edges[1:])),
                else_=len(edges) - 1)
