"""What the leaders' dashboard shows, read from its URL (a GET form: bookmarkable): a period (a
quick choice such as "this week", or from/to dates), a unit and an area. Which units an
officer may choose: a unit head only their unit, a leader or admin their unit and every unit
below it. Asking for another unit is refused (403), never silently widened."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from urllib.parse import urlencode

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core.figures_model import Period
from bot.store.models import Area, OrgUnit

VIEW_ROLES = ("leader", "unit_head", "admin")
WIDE_ROLES = ("leader", "admin")  # their unit and every unit below it
DEFAULT_PRESET = "this_month"
PRESETS: list[tuple[str, str]] = [
    ("this_week", "Tuần này"),
    ("last_week", "Tuần trước"),
    ("this_month", "Tháng này"),
    ("last_30", "30 ngày qua"),
    ("this_year", "Năm nay"),
    ("report_year", "Năm báo cáo"),  # 16/10 of last year to 15/10 (dân vận reports)
]
PRESET_LABELS = dict(PRESETS)
# Dates outside these years are typing mistakes; they are ignored like any bad value.
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2099, 12, 31)
MAX_DAYS = 3 * 366  # a longer period is cut to its last three years


def preset_period(key: str, today: date) -> Period:
    """The period of a quick choice, as of `today` (local date)."""
    if key == "this_week":
        monday = today - timedelta(days=today.weekday())
        return Period(monday, monday + timedelta(days=6))
    if key == "last_week":
        monday = today - timedelta(days=today.weekday() + 7)
        return Period(monday, monday + timedelta(days=6))
    if key == "last_30":
        return Period(today - timedelta(days=29), today)
    if key == "this_year":
        return Period(date(today.year, 1, 1), date(today.year, 12, 31))
    if key == "report_year":
        # The reporting year of dân vận chính quyền runs 16/10 to 15/10 (due before 15/10).
        start_year = today.year if (today.month, today.day) >= (10, 16) else today.year - 1
        return Period(date(start_year, 10, 16), date(start_year + 1, 10, 15))
    first = today.replace(day=1)  # this_month
    following = (first + timedelta(days=32)).replace(day=1)
    return Period(first, following - timedelta(days=1))


def _date(value: str | None) -> date | None:
    try:
        day = date.fromisoformat((value or "").strip()[:10])
    except ValueError:
        return None
    return day if FIRST_DAY <= day <= LAST_DAY else None


def _int(value: str | None) -> int | None:
    text = (value or "").strip()
    return int(text) if text.isdigit() and len(text) < 10 else None


@dataclass(frozen=True)
class DashboardQuery:
    """The dashboard's state. `preset` is "" when the period comes from dates."""

    period: Period
    preset: str = ""
    unit: str = ""  # unit code; "" = the officer's own unit
    area_id: int | None = None

    @classmethod
    def from_query(cls, query: Mapping[str, str], today: date) -> DashboardQuery:
        """Bad or missing values fall back to the defaults (never an error page)."""
        preset = (query.get("period") or "").strip()
        start, end = _date(query.get("from")), _date(query.get("to"))
        if preset not in PRESET_LABELS and (start or end):
            start, end = start or end, end or start
            if start > end:
                start, end = end, start
            start = max(start, end - timedelta(days=MAX_DAYS - 1))
            period, preset = Period(start, end), ""
        else:
            preset = preset if preset in PRESET_LABELS else DEFAULT_PRESET
            period = preset_period(preset, today)
        unit = (query.get("unit") or "").strip()[:64]
        return cls(period, preset, unit, _int(query.get("area")))

    def to_query(self, **changes: str | int | None) -> dict[str, str]:
        """URL parameters (a quick choice stays relative: "this week" is always this week)."""
        values: dict[str, str] = (
            {"period": self.preset} if self.preset else
            {"from": self.period.start.isoformat(), "to": self.period.end.isoformat()})
        if self.unit:
            values["unit"] = self.unit
        if self.area_id is not None:
            values["area"] = str(self.area_id)
        for key, value in changes.items():
            if key == "period":  # a quick choice replaces the dates
                values.pop("from", None)
                values.pop("to", None)
            if value in (None, ""):
                values.pop(key, None)
            else:
                values[key] = str(value)
        return values

    def qs(self, **changes: str | int | None) -> str:
        return urlencode(self.to_query(**changes))


@dataclass
class UnitChoice:
    id: int
    code: str
    name: str
    depth: int


@dataclass
class Choices:
    """What the officer may pick; the selected unit and area (validated)."""

    units: list[UnitChoice]
    areas: list[tuple[int, str]]
    unit: UnitChoice
    area: tuple[int, str] | None = None


class OutsideScope(LookupError):
    """The query names a unit the officer may not see."""


def _tree(session: Session, top: OrgUnit) -> list[UnitChoice]:
    """`top` and every active unit below it, depth first, each level by name."""
    found: list[UnitChoice] = []

    def walk(unit: OrgUnit, depth: int) -> None:
        found.append(UnitChoice(unit.id, unit.code, unit.name, depth))
        for child in sorted(unit.children, key=lambda u: u.name):
            if child.active:
                walk(child, depth + 1)

    walk(top, 0)
    return found


def choices_for(session: Session, unit_id: int | None, roles: frozenset[str],
                query: DashboardQuery) -> Choices:
    """The officer's choices and the query's unit and area checked against them: OutsideScope
    for a unit the officer may not see; an unknown area is ignored."""
    own = session.get(OrgUnit, unit_id) if unit_id is not None else None
    if own is None:
        raise OutsideScope("no unit")
    wide = bool(roles & set(WIDE_ROLES))
    units = _tree(session, own) if wide else [UnitChoice(own.id, own.code, own.name, 0)]
    by_code = {u.code: u for u in units}
    unit = by_code.get(query.unit) if query.unit else units[0]
    if unit is None:
        raise OutsideScope(query.unit)
    # Areas belong to the commune (an ancestor of a department) or to a unit below the officer's.
    holders = {u.id for u in units}
    parent = own.parent
    while parent is not None:
        holders.add(parent.id)
        parent = parent.parent
    areas = [(i, n) for i, n in session.execute(
        select(Area.id, Area.name).where(Area.unit_id.in_(holders)).order_by(Area.name))]
    area = next((a for a in areas if a[0] == query.area_id), None)
    return Choices(units, areas, unit, area)
