"""The leaders' figures, computed by SQL (definitions: docs/figures.md; the queries:
bot/core/figures_sql.py). Digests, reports, the dashboard, exports and the public board call
these functions, so each figure is defined and computed in one place."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, delete, func, insert, or_, select, text
from sqlalchemy.orm import Session, aliased

from bot.core import figures_rollup
from bot.core import figures_sql as q
from bot.core.authz import unit_and_below
from bot.core.context import CoreContext
from bot.core.figures_model import (
    ClockRate,
    Counts,
    Durations,
    Extensions,
    Figures,
    OverdueItem,
    Period,
    Satisfaction,
    Scope,
    TicketRow,
    WeekPoint,
)
from bot.core.figures_source import LiveSource, RollupSource
from bot.core.taxonomy import CATEGORY_LABELS, KIND_LABELS, Kind
from bot.core.workdays import WorkCalendar
from bot.store.models import Area, OrgUnit, Ticket, TicketClock, TicketEvent
from bot.store.report_models import WorkCalendarDay

CALENDAR_FIRST, CALENDAR_LAST = date(2025, 1, 1), date(2035, 12, 31)
CALENDAR_LOCK = 1100011  # PostgreSQL advisory lock: one process rewrites the calendar at once
VN = ZoneInfo("Asia/Ho_Chi_Minh")
NO_KEY = "-"
STATUS_FIELDS = ("accepted", "resolved", "rejected", "transferred", "withdrawn")
DURATION_ORDER = {("accept", "working_days"): 0, ("accept", "calendar_days"): 1,
                  ("resolve", "working_days"): 2, ("resolve", "calendar_days"): 3}


# --- the working-day calendar table ------------------------------------------------------

@lru_cache(maxsize=4)
def calendar_rows(calendar: WorkCalendar) -> tuple[tuple[date, bool, int], ...]:
    """(day, working, working_index) for 2025-01-01..2035-12-31; the index counts working
    days from the first day up to and including this one."""
    rows, index, day = [], 0, CALENDAR_FIRST
    while day <= CALENDAR_LAST:
        working = calendar.is_working_day(day)
        index += working
        rows.append((day, working, index))
        day += timedelta(days=1)
    return tuple(rows)


def ensure_calendar(session: Session, ctx: CoreContext) -> int:
    """Fill the work_calendar table from ctx's WorkCalendar (idempotent); rows written: 0
    when it already matches, else every row (it is rewritten whole when any day differs,
    e.g. after EXTRA_DAYS_OFF changed)."""
    wanted = calendar_rows(ctx.clocks.calendar)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CALENDAR_LOCK})
    stored = session.execute(select(WorkCalendarDay.day, WorkCalendarDay.working,
                                    WorkCalendarDay.working_index)
                             .order_by(WorkCalendarDay.day)).all()
    if [tuple(row) for row in stored] == list(wanted):
        return 0
    session.execute(delete(WorkCalendarDay))
    session.execute(insert(WorkCalendarDay), [
        {"day": day, "working": working, "working_index": index}
        for day, working, index in wanted])
    session.flush()
    return len(wanted)


def ensure_calendar_filled(session: Session, ctx: CoreContext) -> None:
    """Fill the calendar table when it is empty (a new database)."""
    if session.scalar(select(WorkCalendarDay.day).limit(1)) is None:
        ensure_calendar(session, ctx)


# --- scopes -------------------------------------------------------------------------------

def scope_for(session: Session, unit_code: str | None = None, unit_id: int | None = None,
              area_id: int | None = None) -> Scope:
    """The scope of a unit (and every unit below it), or of everything when no unit is given;
    LookupError for an unknown unit code (or id, or area id)."""
    if area_id is not None and session.get(Area, area_id) is None:
        raise LookupError(f"no area {area_id}")
    if unit_code is None and unit_id is None:
        return Scope(area_id=area_id)
    unit = (session.get(OrgUnit, unit_id) if unit_id is not None
            else session.scalar(select(OrgUnit).where(OrgUnit.code == unit_code)))
    if unit is None:
        raise LookupError(f"no unit {unit_code if unit_code is not None else unit_id}")
    return Scope(unit_id=unit.id, unit_ids=frozenset(unit_and_below(session, unit.id)),
                 area_id=area_id, name=unit.name)


# --- compute ------------------------------------------------------------------------------

def _rate(counts: Counts, name: str) -> ClockRate:
    return counts.accept if name == "accept" else counts.resolve


def _add(target: Counts, source: Counts) -> None:
    for name in ("received", "duplicates", *STATUS_FIELDS, "open", "overdue"):
        setattr(target, name, getattr(target, name) + getattr(source, name))
    for clock in ("accept", "resolve"):
        mine, theirs = getattr(target, clock), getattr(source, clock)
        mine.due += theirs.due
        mine.on_time += theirs.on_time


class _Labels:
    """Vietnamese names of the groups' codes and ids (two small queries)."""

    def __init__(self, session: Session) -> None:
        self.units = {row.id: (row.code, row.name)
                      for row in session.execute(select(OrgUnit.id, OrgUnit.code, OrgUnit.name))}
        self.areas = {row.id: (row.code, row.name)
                      for row in session.execute(select(Area.id, Area.code, Area.name))}

    @staticmethod
    def category(code: str) -> tuple[str, str]:
        return code, CATEGORY_LABELS.get(code, code)  # type: ignore[call-overload]

    @staticmethod
    def kind(code: str) -> tuple[str, str]:
        return code, KIND_LABELS.get(code, code)  # type: ignore[call-overload]

    def area(self, area_id: int | None) -> tuple[str, str]:
        return self.areas.get(area_id, (NO_KEY, "Chưa xác định địa bàn"))

    def unit(self, unit_id: int | None) -> tuple[str, str]:
        return self.units.get(unit_id, (NO_KEY, "Chưa xác định đơn vị"))


def _breakdown(groups: dict[tuple, Counts], position: int,
               label: Callable[[object], tuple[str, str]], order: dict[str, int] | None = None
               ) -> list[Counts]:
    merged: dict[str, Counts] = {}
    for key, counts in groups.items():
        code, name = label(key[position])
        _add(merged.setdefault(code, Counts(key=code, label=name)), counts)
    if order is not None:
        return sorted(merged.values(), key=lambda c: (order.get(c.key, len(order)), c.label))
    return sorted(merged.values(), key=lambda c: (-c.received, -c.open, c.label))


def _counts(source: LiveSource, start: datetime, end: datetime,
            at_end: datetime) -> tuple[dict[tuple, Counts], tuple[int, int]]:
    """Counts per (category, kind, area, unit), and (confidential, without triage)."""
    groups: dict[tuple, Counts] = {}

    def group(row) -> Counts:
        return groups.setdefault(tuple(row[:4]), Counts())

    confidential = direct = 0
    for row in source.received(start, end):
        counts = group(row)
        counts.received, counts.duplicates = row[4], row[5] or 0
        confidential += row[6] or 0
        direct += row[7] or 0
    for row in source.statuses(start, end):
        for name, value in zip(STATUS_FIELDS, row[4:], strict=True):
            setattr(group(row), name, value or 0)
    for row in source.clocks(start, at_end):
        rate = _rate(group(row), row[4])
        rate.due, rate.on_time = row[5], row[6] or 0
    for row in source.opened(at_end):
        counts = group(row)
        counts.open, counts.overdue = row[4], row[5] or 0
    return groups, (confidential, direct)


def _durations(source: LiveSource, start: datetime, end: datetime) -> list[Durations]:
    found = [Durations(clock, unit, count, _number(median), _number(p90))
             for clock, unit, count, median, p90 in source.durations(start, end)]
    return sorted(found, key=lambda d: DURATION_ORDER.get((d.clock, d.unit), 9))


def _number(value) -> float | None:
    return None if value is None else float(value)


def _satisfaction(source: LiveSource, start: datetime, end: datetime) -> Satisfaction:
    result = Satisfaction()
    total = 0
    for rating, count in source.ratings(start, end):
        if rating in result.distribution:
            result.distribution[rating] = count
            result.ratings += count
            total += rating * count
    result.average = total / result.ratings if result.ratings else None
    not_satisfied, reopened = source.reopens(start, end)
    result.not_satisfied, result.reopened = not_satisfied or 0, reopened or 0
    return result


def _source(session: Session, scope: Scope, ctx: CoreContext, use_rollup: bool,
            ready: bool = False) -> LiveSource:
    """The pre-aggregated sums, brought up to date first (unless `ready`), or the live
    tables (`use_rollup` False: the tests check both give the same figures)."""
    q.prepare(session)
    if not use_rollup:
        ensure_calendar_filled(session, ctx)
        return LiveSource(session, scope, ctx.tz)
    if not ready:
        figures_rollup.ensure(session, ctx)  # fills the calendar first
    return RollupSource(session, scope, ctx.tz)


def compute(session: Session, scope: Scope, period: Period, ctx: CoreContext,
            now: datetime | None = None, with_previous: bool = True,
            use_rollup: bool = True, _ready: bool = False) -> Figures:
    """Every figure of docs/figures.md for the scope and period (and the previous period).
    Open and overdue are as at the end of the period, or `now` if earlier."""
    now = now or ctx.clock()
    source = _source(session, scope, ctx, use_rollup, _ready)
    start, end = period.bounds(ctx.tz)
    at_end = min(end, now)
    groups, (confidential, direct) = _counts(source, start, end, at_end)
    labels = _Labels(session)
    totals = Counts()
    for counts in groups.values():
        _add(totals, counts)
    count, tickets, days, especially = source.extensions(start, end)
    figures = Figures(
        period=period, scope=scope, generated_at=now, totals=totals,
        durations=_durations(source, start, end),
        satisfaction=_satisfaction(source, start, end),
        extensions=Extensions(count or 0, tickets or 0, int(days or 0), especially or 0),
        without_triage=direct, confidential_received=confidential,
        by_category=_breakdown(groups, 0, labels.category),
        by_kind=_breakdown(groups, 1, labels.kind, {k.value: i for i, k in enumerate(Kind)}),
        by_area=_breakdown(groups, 2, labels.area),
        by_unit=_breakdown(groups, 3, labels.unit),
    )
    if with_previous:
        figures.previous = compute(session, scope, period.previous(), ctx, now=now,
                                   with_previous=False, use_rollup=use_rollup, _ready=True)
    return figures


# --- the digest's chart, overdue list and ticket list --------------------------------------

def weekly_series(session: Session, scope: Scope, last_week: str, weeks: int,
                  ctx: CoreContext, now: datetime | None = None,
                  use_rollup: bool = True) -> list[WeekPoint]:
    """Received, resolved and on-time rates of `weeks` ISO weeks ending with `last_week`
    (each as compute() counts them for that week), oldest first."""
    now = now or ctx.clock()
    source = _source(session, scope, ctx, use_rollup)
    last = Period.iso_week(last_week)
    periods = [Period(last.start - timedelta(weeks=n), last.end - timedelta(weeks=n))
               for n in range(weeks - 1, -1, -1)]
    edges = [p.bounds(ctx.tz)[0] for p in periods] + [last.bounds(ctx.tz)[1]]
    points = [WeekPoint(week=p.week_label) for p in periods]

    for index, received, *_ in source.received(edges[0], edges[-1], edges):
        points[index].received = received
    for index, resolved in source.statuses(edges[0], edges[-1], edges,
                                           statuses=("resolved",)):
        points[index].resolved = resolved or 0
    for index, name, due, on_time in source.clocks(edges[0], min(edges[-1], now), edges):
        rate = points[index].accept if name == "accept" else points[index].resolve
        rate.due, rate.on_time = due, on_time or 0
    return points


def overdue_tickets(session: Session, scope: Scope, at: datetime, limit: int = 5,
                    tz: ZoneInfo = VN) -> tuple[list[OverdueItem], int]:
    """The oldest overdue non-confidential tickets at `at` (most days late first), and the
    number of overdue confidential tickets (counted, never listed). `days_late` counts local
    calendar days from the deadline's day to `at`'s day."""
    q.prepare(session)
    periods = q.late_periods(at)
    tickets = q.open_tickets(scope, at, ("unit_id", "confidential"))
    first_due = func.min(periods.c.due_at)
    accept_due = func.min(case((periods.c.name == "accept", periods.c.due_at)))
    late = (select(tickets.c.id, tickets.c.unit_id, tickets.c.confidential,
                   first_due.label("due_at"),
                   case((accept_due == first_due, "accept"), else_="resolve").label("clock"))
            .join(periods, periods.c.ticket_id == tickets.c.id)
            .group_by(tickets.c.id, tickets.c.unit_id, tickets.c.confidential)
            .subquery("late"))
    hidden = func.sum(case((late.c.confidential, 1), else_=0)).over()
    ranked = (select(late, hidden.label("hidden"))
              .order_by(late.c.confidential, late.c.due_at, late.c.id).limit(max(limit, 1))
              .subquery("ranked"))
    # Non-confidential first: the listed rows; every row carries the confidential count. The
    # codes are read for those rows only.
    rows = session.execute(
        select(Ticket.code, ranked.c.unit_id, ranked.c.clock, ranked.c.due_at,
               ranked.c.confidential, ranked.c.hidden)
        .join(Ticket, Ticket.id == ranked.c.id)
        .order_by(ranked.c.confidential, ranked.c.due_at, Ticket.code)).all()
    labels = _Labels(session) if rows else None
    local_at = at.astimezone(tz).date()
    items = [OverdueItem(code=code, unit=labels.unit(unit_id)[1], clock=clock, due_at=due_at,
                         days_late=(local_at - due_at.astimezone(tz).date()).days)
             for code, unit_id, clock, due_at, confidential, _ in rows[:limit]
             if not confidential]
    return items, int(rows[0][5] or 0) if rows else 0


def ticket_rows(session: Session, scope: Scope, period: Period, ctx: CoreContext
                ) -> list[TicketRow]:
    """Non-confidential tickets received in the period or still open at its end (or now, if
    earlier), codes and dates only, for workbooks: category, kind and status as codes, unit
    and area as names, oldest first. `on_time` is the current resolve period's."""
    q.prepare(session)
    start, end = period.bounds(ctx.tz)
    now = ctx.clock()
    at_end = min(end, now)
    accept, resolve = aliased(TicketClock), aliased(TicketClock)

    def first_event(status: str, last: bool = False):
        moment = func.max(TicketEvent.at) if last else func.min(TicketEvent.at)
        return (select(moment).where(TicketEvent.ticket_id == Ticket.id,
                                     TicketEvent.to_status == status,
                                     TicketEvent.action != q.RETURN_ACTION)
                .correlate(Ticket).scalar_subquery())

    received = and_(Ticket.received_at >= start, Ticket.received_at < end)
    open_ids = select(q.open_tickets(scope, at_end).c.id)
    query = q.in_scope(
        select(Ticket.code, Ticket.category, Ticket.kind, Ticket.status, OrgUnit.name,
               Area.name, Ticket.received_at, first_event("accepted"),
               first_event("resolved", last=True), accept.due_at, resolve.due_at,
               resolve.stopped_at, resolve.stopped_by, resolve.paused_at)
        .outerjoin(OrgUnit, OrgUnit.id == Ticket.unit_id)
        .outerjoin(Area, Area.id == Ticket.area_id)
        .outerjoin(accept, and_(accept.ticket_id == Ticket.id, accept.name == "accept"))
        .outerjoin(resolve, and_(resolve.ticket_id == Ticket.id, resolve.name == "resolve"))
        .where(Ticket.confidential.is_(False), or_(received, Ticket.id.in_(open_ids)))
        .order_by(Ticket.received_at, Ticket.id), scope)
    return [TicketRow(code=r[0], category=r[1], kind=r[2], status=r[3], unit=r[4] or "",
                      area=r[5] or "", received_at=r[6], accepted_at=r[7], resolved_at=r[8],
                      accept_due_at=r[9], resolve_due_at=r[10],
                      on_time=_on_time(r[10], r[11], r[12], r[13], now))
            for r in session.execute(query)]


def _on_time(due: datetime | None, stopped: datetime | None, stopped_by: str | None,
             paused: datetime | None, now: datetime) -> bool | None:
    """The resolve period as the on-time rates decide it (docs/figures.md)."""
    if due is None or (stopped is None and paused is not None and paused <= due):
        return None  # none yet, or waiting for the citizen since before its deadline
    if stopped is not None and stopped <= due:
        return None if stopped_by in q.NOT_DECIDED_BY else True
    return False if (stopped is not None or due < now) else None
