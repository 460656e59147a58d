"""Legal clocks: which run for a ticket, when they start, pause, resume and stop, and when
they are due. Rules come from clocks.yml (or CLOCKS_FILE); days count on a WorkCalendar."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml
from sqlalchemy.orm import Session

from bot.core.taxonomy import Kind, Status
from bot.core.workdays import WorkCalendar
from bot.store.models import Area, Ticket, TicketClock
from bot.store.report_models import TicketClockPeriod

DEFAULT_RULES_FILE = Path(__file__).with_name("clocks.yml")
WORKING_DAYS, CALENDAR_DAYS, HOURS = "working_days", "calendar_days", "hours"
URGENT_SOURCE = "Báo cáo khẩn cấp: thụ lý trong {hours} giờ (URGENT_ACCEPT_HOURS)"
REMIND_AT, ESCALATE_AT = 0.75, 1.0


@dataclass(frozen=True)
class ClockRule:
    name: str
    unit: str
    days: int
    start: Status
    stop: frozenset[Status]
    source: str
    pause: frozenset[Status] = frozenset()
    complex_days: int | None = None
    remote_days: int | None = None
    remote_complex_days: int | None = None


@dataclass(frozen=True)
class ClockRules:
    by_kind: dict[Kind, tuple[ClockRule, ...]]
    category_resolve_days: dict[str, int] = field(default_factory=dict)

    def for_kind(self, kind: str) -> tuple[ClockRule, ...]:
        return self.by_kind[Kind(kind)]


def parse_rules(data: dict) -> ClockRules:
    by_kind = {}
    for kind in Kind:
        rules = []
        for name, item in data[kind.value].items():
            if item["unit"] not in (WORKING_DAYS, CALENDAR_DAYS, HOURS):
                raise ValueError(f"{kind}.{name}: unknown unit {item['unit']}")
            rules.append(ClockRule(
                name=name, unit=item["unit"], days=int(item["days"]),
                start=Status(item["start"]), stop=frozenset(Status(s) for s in item["stop"]),
                pause=frozenset(Status(s) for s in item.get("pause", [])),
                source=item["source"], complex_days=item.get("complex_days"),
                remote_days=item.get("remote_days"),
                remote_complex_days=item.get("remote_complex_days"),
            ))
        by_kind[kind] = tuple(rules)
    return ClockRules(by_kind, dict(data.get("category_resolve_days") or {}))


@lru_cache(maxsize=4)
def load_rules(path: Path = DEFAULT_RULES_FILE) -> ClockRules:
    return parse_rules(yaml.safe_load(path.read_text(encoding="utf-8")))


def clock_days(rule: ClockRule, ticket: Ticket, remote: bool, rules: ClockRules) -> int:
    if rule.name == "resolve" and ticket.kind in (Kind.PHAN_ANH, Kind.KIEN_NGHI):
        return int(rules.category_resolve_days.get(ticket.category, rule.days))
    if remote and ticket.is_complex and rule.remote_complex_days:
        return rule.remote_complex_days
    if remote and rule.remote_days:
        return rule.remote_days
    if ticket.is_complex and rule.complex_days:
        return rule.complex_days
    return rule.days


def deadline(unit: str, start: datetime, days: int, calendar: WorkCalendar,
             tz: ZoneInfo) -> datetime:
    """The due moment of a clock of `days` units (hours for unit "hours") from `start`."""
    if unit == HOURS:
        return start + timedelta(hours=days)
    if unit == WORKING_DAYS:
        return calendar.add_working_days(start, days, tz)
    return calendar.add_calendar_days(start, days, tz)


@dataclass(frozen=True)
class ClockContext:
    rules: ClockRules
    calendar: WorkCalendar
    tz: ZoneInfo


def clock_terms(rule: ClockRule, ticket: Ticket, remote: bool, rules: ClockRules,
                urgent_hours: int | None = None) -> tuple[str, int, str]:
    """(unit, length, source) of a clock: an urgent ticket's acceptance clock is in hours."""
    if rule.name == "accept" and urgent_hours:
        return HOURS, urgent_hours, URGENT_SOURCE.format(hours=urgent_hours)
    return rule.unit, clock_days(rule, ticket, remote, rules), rule.source


def apply_status(session: Session, ticket: Ticket, new_status: Status, now: datetime,
                 ctx: ClockContext, restart: bool = False,
                 urgent_hours: int | None = None) -> None:
    """Start, pause, resume or stop the ticket's clocks for its new status. `restart` (a
    reopened ticket) starts a clock again even if it ran before; `urgent_hours` (an urgent
    ticket) makes the acceptance clock that many hours."""
    existing = {clock.name: clock for clock in ticket.clocks}
    area = session.get(Area, ticket.area_id) if ticket.area_id else None
    for rule in ctx.rules.for_kind(ticket.kind):
        clock = existing.get(rule.name)
        if new_status == rule.start and (clock is None or restart):
            unit, days, source = clock_terms(rule, ticket, bool(area and area.is_remote),
                                             ctx.rules, urgent_hours)
            due = deadline(unit, now, days, ctx.calendar, ctx.tz)
            if clock is None:
                clock = TicketClock(name=rule.name)
                ticket.clocks.append(clock)
            else:
                archive_period(session, ticket, clock, now)
            clock.unit, clock.length, clock.source = unit, days, source
            clock.started_at, clock.due_at = now, due
            clock.extensions = 0
            clock.paused_at = clock.stopped_at = clock.reminded_at = clock.escalated_at = None
            clock.stopped_by = None
            continue
        if clock is None or clock.stopped_at is not None:
            continue
        if new_status in rule.stop:
            _resume(clock, now, ctx)
            clock.stopped_at, clock.stopped_by = now, new_status.value
        elif new_status in rule.pause:
            clock.paused_at = clock.paused_at or now
        elif clock.paused_at is not None:
            _resume(clock, now, ctx)


def archive_period(session: Session, ticket: Ticket, clock: TicketClock, now: datetime) -> None:
    """Keep the period a restart (a reopen) is about to replace, for the on-time figures."""
    if clock.started_at is None or clock.due_at is None:
        return
    session.add(TicketClockPeriod(
        ticket_id=ticket.id, name=clock.name, unit=clock.unit, length=clock.length,
        started_at=clock.started_at, due_at=clock.due_at,
        stopped_at=clock.stopped_at or now, stopped_by=clock.stopped_by or "restarted",
        extensions=clock.extensions or 0, archived_at=now))


def recompute_terms(session: Session, ticket: Ticket, name: str, ctx: ClockContext,
                    urgent_hours: int | None = None) -> TicketClock | None:
    """Give a running clock the terms it would have had from its start (e.g. an urgent flag
    cleared: the acceptance clock goes back from hours to the legal days)."""
    clock = next((c for c in ticket.clocks if c.name == name and c.stopped_at is None), None)
    rule = next((r for r in ctx.rules.for_kind(ticket.kind) if r.name == name), None)
    if clock is None or rule is None:
        return None
    area = session.get(Area, ticket.area_id) if ticket.area_id else None
    unit, days, source = clock_terms(rule, ticket, bool(area and area.is_remote), ctx.rules,
                                     urgent_hours)
    clock.unit, clock.length, clock.source = unit, days, source
    clock.due_at = deadline(unit, clock.started_at, days, ctx.calendar, ctx.tz)
    clock.reminded_at = clock.escalated_at = None
    return clock


def _resume(clock: TicketClock, now: datetime, ctx: ClockContext) -> None:
    """Push the deadline back by the time spent paused, in the clock's own unit."""
    if clock.paused_at is None:
        return
    if clock.unit == WORKING_DAYS:
        lost = ctx.calendar.working_days_between(clock.paused_at, now, ctx.tz)
        if lost:
            clock.due_at = ctx.calendar.add_working_days(clock.due_at, lost, ctx.tz)
    else:
        clock.due_at = clock.due_at + (now - clock.paused_at)
    clock.paused_at = None


def progress(clock: TicketClock, now: datetime) -> float:
    """Share of the clock used up (1.0 = due now); a paused clock counts up to its pause."""
    until = clock.paused_at or now
    total = (clock.due_at - clock.started_at).total_seconds()
    return (until - clock.started_at).total_seconds() / total if total > 0 else 1.0
