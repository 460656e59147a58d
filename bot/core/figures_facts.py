"""Every ticket's dated facts, in SQL (definitions: docs/figures.md, "Pre-aggregated
figures"). A fact is one thing that happened to a ticket on a local day, with what the figures
need to count it; summed by day and month (bot/core/figures_rollup.py) they give every figure
of a period without reading the tickets. The rules are those of bot/core/figures_sql.py,
whose helpers these queries reuse, so the two paths count alike (tests/test_figures.py runs
every figure on both).

`day` is the local date as days since 2000-01-01. Measures, and what `key`, `value` and
`count` hold:

- received, duplicate, confidential, direct (routed without triage): on the day received;
- status (key: the status reached; value: the day the ticket last reached it before, or -1):
  a period counts a ticket once per status, when the day before is outside the period;
- clock (key: accept | resolve; value: 1 on time, 0 late): on the day decided;
- duration_w, duration_c (key: the clock; value: whole working or calendar days): on the day
  the period stopped by a decision;
- extension (count 1), extension_days (count: the days), extension_complex,
  extension_ticket (value: the day of the ticket's extension before, or -1);
- rating (value: 1..5); reopen_citizen; reopen_ticket (value: as extension_ticket);
- open, overdue (count: +1 or -1): how many of the ticket's state changes on that day; the
  sum of the days before D is 1 when the ticket was open (open and late) at the start of D."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import (
    Integer,
    String,
    and_,
    case,
    cast,
    func,
    literal,
    null,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.sql.elements import ColumnElement

from bot.core import figures_sql as q
from bot.store.models import Ticket, TicketClock, TicketEvent
from bot.store.report_models import TicketClockPeriod
from bot.store.rollup_models import TicketFact

FACT_COLUMNS = ("ticket_id", "unit_id", "area_id", "category", "kind", "day", "measure",
                "key", "value", "count")
EVENT_MEASURES = {"resolve_clock_extended": "extension", "rated": "rating",
                  "reopened": "reopen"}
OPEN = tuple(q.OPEN_STATUSES)


def _only(column: ColumnElement, ids: Sequence[int] | None) -> ColumnElement:
    return true() if ids is None else column.in_(list(ids))


def _fact(ticket_id, day, measure: str, key, value, count) -> list[ColumnElement]:
    """The columns of one fact; the ticket's groups come from the joined tickets row."""
    return [ticket_id.label("ticket_id"), func.coalesce(Ticket.unit_id, 0).label("unit_id"),
            func.coalesce(Ticket.area_id, 0).label("area_id"),
            Ticket.category.label("category"), Ticket.kind.label("kind"),
            cast(day, Integer).label("day"), literal(measure).label("measure"),
            cast(key, String).label("key") if not isinstance(key, str)
            else literal(key).label("key"),
            cast(value, Integer).label("value"), cast(count, Integer).label("count")]


def _received(sql: q.Sql, ids) -> list:
    day = sql.ordinal(Ticket.received_at)
    base = [_only(Ticket.id, ids)]
    return [select(*_fact(Ticket.id, day, measure, "", 0, 1)).where(*base, *where)
            for measure, where in (
                ("received", []), ("duplicate", [Ticket.duplicate_of_id.is_not(None)]),
                ("confidential", [Ticket.confidential.is_(True)]),
                ("direct", [Ticket.needs_triage.is_(False)]))]


def _statuses(sql: q.Sql, ids) -> list:
    day = sql.ordinal(TicketEvent.at)
    before = func.lag(day).over(partition_by=(TicketEvent.ticket_id, TicketEvent.to_status),
                                order_by=(TicketEvent.at, TicketEvent.id))
    reached = (select(TicketEvent.ticket_id, TicketEvent.to_status, day.label("day"),
                      func.coalesce(before, -1).label("before"))
               .where(_only(TicketEvent.ticket_id, ids),
                      TicketEvent.to_status.in_(q.COUNTED_STATUSES),
                      TicketEvent.action != q.RETURN_ACTION).subquery("reached"))
    return [select(*_fact(reached.c.ticket_id, reached.c.day, "status", reached.c.to_status,
                          reached.c.before, 1))
            .join(Ticket, Ticket.id == reached.c.ticket_id)]


def _clocks(sql: q.Sql, ids) -> list:
    periods = q.clock_periods(lambda table: [_only(table.ticket_id, ids), *q.decidable(table)])
    on_time = and_(periods.c.stopped_at.is_not(None), periods.c.stopped_at <= periods.c.due_at)
    decided_at = case((on_time, periods.c.stopped_at), else_=periods.c.due_at)
    return [select(*_fact(periods.c.ticket_id, sql.ordinal(decided_at), "clock",
                          periods.c.name, case((on_time, 1), else_=0), 1))
            .join(Ticket, Ticket.id == periods.c.ticket_id)]


def _durations(sql: q.Sql, ids) -> list:
    periods = q.clock_periods(lambda table: [_only(table.ticket_id, ids),
                                             *q.with_duration(table)])
    durations = q.durations_of(periods, sql).subquery("durations")
    day = sql.ordinal(durations.c.stopped_at)
    return [select(*_fact(durations.c.ticket_id, day, measure, durations.c.clock,
                          durations.c.value, 1))
            .join(Ticket, Ticket.id == durations.c.ticket_id)
            .where(durations.c.unit == unit, durations.c.value.is_not(None))
            for measure, unit in (("duration_w", "working_days"),
                                  ("duration_c", "calendar_days"))]


def _events(sql: q.Sql, ids) -> list:
    day = sql.ordinal(TicketEvent.at)
    before = func.lag(day).over(partition_by=(TicketEvent.ticket_id, TicketEvent.action),
                                order_by=(TicketEvent.at, TicketEvent.id))
    data = TicketEvent.data
    events = (select(TicketEvent.ticket_id, TicketEvent.action, day.label("day"),
                     func.coalesce(before, -1).label("before"),
                     data["days"].as_integer().label("days"),
                     data["especially_complex"].as_boolean().label("complex"),
                     data["rating"].as_integer().label("rating"),
                     data["by"].as_string().label("by"))
              .where(_only(TicketEvent.ticket_id, ids),
                     TicketEvent.action.in_(EVENT_MEASURES)).subquery("events"))
    e = events.c

    def fact(measure: str, value, count, *where) -> object:
        return (select(*_fact(e.ticket_id, e.day, measure, "", value, count))
                .join(Ticket, Ticket.id == e.ticket_id).where(*where))

    extended, rated = e.action == "resolve_clock_extended", e.action == "rated"
    reopened = e.action == "reopened"
    return [fact("extension", 0, 1, extended),
            fact("extension_days", 0, func.coalesce(e.days, 0), extended),
            fact("extension_complex", 0, 1, extended, e.complex.is_(True)),
            fact("extension_ticket", e.before, 1, extended),
            fact("rating", e.rating, 1, rated, e.rating.is_not(None)),
            fact("reopen_citizen", 0, 1, reopened, e.by == "citizen"),
            fact("reopen_ticket", e.before, 1, reopened)]


def _opened(sql: q.Sql, ids) -> list:
    """+1/-1 when a (non-duplicate) ticket's status enters or leaves the open ones; the
    status before its first status event (or its status now, without one) counts from the
    day it was received."""
    status_events = (select(TicketEvent.ticket_id, TicketEvent.at, TicketEvent.from_status,
                            TicketEvent.to_status,
                            func.row_number().over(partition_by=TicketEvent.ticket_id,
                                                   order_by=(TicketEvent.at, TicketEvent.id))
                            .label("rank"))
                     .where(_only(TicketEvent.ticket_id, ids),
                            TicketEvent.to_status.is_not(None)).subquery("status_events"))
    s = status_events.c
    not_duplicate = Ticket.duplicate_of_id.is_(None)
    was_open, is_open = s.from_status.in_(OPEN), s.to_status.in_(OPEN)
    change = case((and_(is_open, or_(s.from_status.is_(None), ~was_open)), 1),
                  (and_(was_open, ~is_open), -1), else_=0)
    moves = (select(*_fact(s.ticket_id, sql.ordinal(s.at), "open", "", 0, change))
             .join(Ticket, Ticket.id == s.ticket_id).where(not_duplicate, change != 0))
    first = status_events.alias("first_event")
    initially = case((first.c.ticket_id.is_not(None), first.c.from_status),
                     else_=Ticket.status)
    received = (select(*_fact(Ticket.id, sql.ordinal(Ticket.received_at), "open", "", 0, 1))
                .outerjoin(first, and_(first.c.ticket_id == Ticket.id, first.c.rank == 1))
                .where(_only(Ticket.id, ids), not_duplicate, initially.in_(OPEN)))
    return [moves, received]


def simple_facts(sql: q.Sql, ids: Sequence[int] | None):
    """Every fact but "overdue" of the tickets `ids` (None: every ticket)."""
    parts = [*_received(sql, ids), *_statuses(sql, ids), *_clocks(sql, ids),
             *_durations(sql, ids), *_events(sql, ids), *_opened(sql, ids)]
    return union_all(*parts)


def _late_periods(sql: q.Sql, ids):
    """ticket_id, first and last day D (None: not yet stopped) at whose start a period is
    running late: started and due before D, not stopped before D (a current clock paused
    before its deadline is never late) -- figures_sql.late_periods at local midnights."""
    branches = []
    for table in (TicketClock, TicketClockPeriod):
        paused = table.paused_at if table is TicketClock else null()
        started, due = sql.ordinal(table.started_at), sql.ordinal(table.due_at)
        first = case((started > due, started), else_=due) + 1
        branches.append(select(table.ticket_id.label("ticket_id"), first.label("first"),
                               sql.ordinal(table.stopped_at).label("last"))
                        .where(_only(table.ticket_id, ids),
                               or_(paused.is_(None), paused > table.due_at)))
    periods = union_all(*branches).subquery("periods")
    return (select(periods).where(or_(periods.c.last.is_(None),
                                      periods.c.last >= periods.c.first))
            .cte("late"))


def overdue_facts(sql: q.Sql, ids: Sequence[int] | None):
    """+1/-1 of "open and late at the start of the day after": the tickets' open facts must be
    in ticket_facts already. The state can change only at the day after an open fact, at the
    first day of a late period, and the day after its last; it is evaluated there."""
    late = _late_periods(sql, ids)
    opened = (select(TicketFact.ticket_id, TicketFact.day, TicketFact.count)
              .where(TicketFact.measure == "open", _only(TicketFact.ticket_id, ids))
              .cte("opened"))
    candidates = union_all(
        select(opened.c.ticket_id, (opened.c.day + 1).label("at")),
        select(late.c.ticket_id, late.c.first.label("at")),
        select(late.c.ticket_id, (late.c.last + 1).label("at")).where(late.c.last.is_not(None)),
    ).subquery("all_candidates")
    at = (select(candidates.c.ticket_id, candidates.c.at).distinct().cte("candidates"))
    open_sum = (select(at.c.ticket_id, at.c.at, func.sum(opened.c.count).label("open"))
                .join(opened, and_(opened.c.ticket_id == at.c.ticket_id,
                                   opened.c.day < at.c.at))
                .group_by(at.c.ticket_id, at.c.at).subquery("open_sum"))
    late_count = (select(at.c.ticket_id, at.c.at, func.count().label("late"))
                  .join(late, and_(late.c.ticket_id == at.c.ticket_id,
                                   late.c.first <= at.c.at,
                                   or_(late.c.last.is_(None), late.c.last >= at.c.at)))
                  .group_by(at.c.ticket_id, at.c.at).subquery("late_count"))
    state = case((and_(func.coalesce(open_sum.c.open, 0) > 0,
                       func.coalesce(late_count.c.late, 0) > 0), 1), else_=0)
    states = (select(at.c.ticket_id, at.c.at, state.label("state"))
              .outerjoin(open_sum, and_(open_sum.c.ticket_id == at.c.ticket_id,
                                        open_sum.c.at == at.c.at))
              .outerjoin(late_count, and_(late_count.c.ticket_id == at.c.ticket_id,
                                          late_count.c.at == at.c.at))
              .subquery("states"))
    previous = func.lag(states.c.state, 1, 0).over(partition_by=states.c.ticket_id,
                                                   order_by=states.c.at)
    changes = select(states.c.ticket_id, states.c.at,
                     (states.c.state - previous).label("change")).subquery("changes")
    return (select(*_fact(changes.c.ticket_id, changes.c.at - 1, "overdue", "", 0,
                          changes.c.change))
            .join(Ticket, Ticket.id == changes.c.ticket_id).where(changes.c.change != 0))
