"""The shapes of the leaders' figures (definitions: docs/figures.md; computed in SQL by
bot.core.figures). Digests, reports, the dashboard, exports and the public board all read
these, so a figure is defined and computed in one place."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Period:
    """Local (Asia/Ho_Chi_Minh) days `start`..`end`, both included."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError("a period ends on or after its start")

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> Period:
        """The period of the same length just before this one."""
        return Period(self.start - timedelta(days=self.days), self.start - timedelta(days=1))

    def bounds(self, tz: ZoneInfo) -> tuple[datetime, datetime]:
        """[start, end) in UTC: local midnight of `start` to local midnight after `end`."""
        start = datetime.combine(self.start, time(), tz).astimezone(UTC)
        end = datetime.combine(self.end + timedelta(days=1), time(), tz).astimezone(UTC)
        return start, end

    @classmethod
    def iso_week(cls, week: str) -> Period:
        """"2026-W49" -> Monday..Sunday of that ISO week."""
        year, _, number = week.upper().partition("-W")
        monday = date.fromisocalendar(int(year), int(number), 1)
        return cls(monday, monday + timedelta(days=6))

    @property
    def week_label(self) -> str:
        """"2026-W49" for an ISO week period (its Monday's week otherwise)."""
        year, number, _ = self.start.isocalendar()
        return f"{year}-W{number:02d}"

    def label(self) -> str:
        return f"{self.start:%d/%m/%Y} - {self.end:%d/%m/%Y}"


def week_of(day: date) -> str:
    year, number, _ = day.isocalendar()
    return f"{year}-W{number:02d}"


@dataclass(frozen=True)
class Scope:
    """Which tickets count: those of `unit_ids` (a unit and every unit below it; empty = all)
    and, when set, of one area. `unit_id` names the scope's top unit."""

    unit_id: int | None = None
    unit_ids: frozenset[int] = frozenset()
    area_id: int | None = None
    name: str = "Toàn hệ thống"


@dataclass
class ClockRate:
    """On-time rate of one clock: periods decided in the period, and those on time."""

    clock: str  # accept | resolve
    due: int = 0
    on_time: int = 0

    @property
    def late(self) -> int:
        return self.due - self.on_time

    @property
    def rate(self) -> float | None:
        return self.on_time / self.due if self.due else None


@dataclass
class Durations:
    """Time from a clock's start to its stop, for clocks stopped (not withdrawn, not linked as
    duplicate) in the period: in working days where the clock counts working days, else in
    calendar days (an urgent acceptance clock in hours counts in calendar days)."""

    clock: str  # accept | resolve
    unit: str  # working_days | calendar_days
    count: int = 0
    median: float | None = None
    p90: float | None = None


@dataclass
class Counts:
    """One row of figures: the headline (key "") or one group of a breakdown."""

    key: str = ""
    label: str = "Tổng"
    received: int = 0
    accepted: int = 0
    resolved: int = 0
    rejected: int = 0
    transferred: int = 0
    withdrawn: int = 0
    duplicates: int = 0
    open: int = 0  # at the end of the period (or now, if earlier)
    overdue: int = 0  # open with a clock past its deadline, at the same moment
    accept: ClockRate = field(default_factory=lambda: ClockRate("accept"))
    resolve: ClockRate = field(default_factory=lambda: ClockRate("resolve"))


@dataclass
class Satisfaction:
    ratings: int = 0
    average: float | None = None
    distribution: dict[int, int] = field(default_factory=lambda: {i: 0 for i in range(1, 6)})
    not_satisfied: int = 0  # "Chưa hài lòng" pressed by the citizen in the period
    reopened: int = 0  # tickets reopened in the period (by citizens or officers)

    @property
    def not_satisfied_share(self) -> float | None:
        answered = self.ratings + self.not_satisfied
        return self.not_satisfied / answered if answered else None


@dataclass
class Extensions:
    """Extensions of the tố cáo resolve clock (Luật Tố cáo 2018 art. 30) made in the period."""

    count: int = 0
    tickets: int = 0
    days: int = 0
    especially_complex: int = 0


@dataclass
class Figures:
    period: Period
    scope: Scope
    generated_at: datetime
    totals: Counts
    durations: list[Durations] = field(default_factory=list)
    satisfaction: Satisfaction = field(default_factory=Satisfaction)
    extensions: Extensions = field(default_factory=Extensions)
    without_triage: int = 0  # received in the period and routed without the triage desk
    confidential_received: int = 0  # tố cáo and other confidential tickets: counted, not listed
    by_category: list[Counts] = field(default_factory=list)
    by_kind: list[Counts] = field(default_factory=list)
    by_area: list[Counts] = field(default_factory=list)
    by_unit: list[Counts] = field(default_factory=list)
    previous: Figures | None = None

    @property
    def without_triage_share(self) -> float | None:
        return self.without_triage / self.totals.received if self.totals.received else None

    @property
    def reopen_rate(self) -> float | None:
        resolved = self.totals.resolved
        return self.satisfaction.reopened / resolved if resolved else None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (dates as ISO text); `previous` nested without its own previous."""
        data = dataclasses.asdict(dataclasses.replace(self, previous=None))
        data["previous"] = self.previous.as_dict() if self.previous else None
        return _jsonable(data)


@dataclass
class WeekPoint:
    """One week of the digest's chart."""

    week: str  # 2026-W49
    received: int = 0
    resolved: int = 0
    resolve: ClockRate = field(default_factory=lambda: ClockRate("resolve"))
    accept: ClockRate = field(default_factory=lambda: ClockRate("accept"))


@dataclass
class OverdueItem:
    """An open ticket past a clock's deadline. Confidential ones are counted, never listed."""

    code: str
    unit: str
    clock: str
    due_at: datetime
    days_late: int  # calendar days since the deadline


@dataclass
class TicketRow:
    """A ticket in a workbook: codes and dates only, no citizen data, never confidential."""

    code: str
    category: str
    kind: str
    status: str
    unit: str
    area: str
    received_at: datetime
    accepted_at: datetime | None
    resolved_at: datetime | None
    accept_due_at: datetime | None
    resolve_due_at: datetime | None
    on_time: bool | None  # the resolve clock: None while undecided


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | frozenset | set):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value
