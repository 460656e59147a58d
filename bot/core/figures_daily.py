"""The leaders' figures read from the pre-aggregated sums (figure_rollup, kept by
bot/core/figures_rollup.py): the same rows as the live queries of bot/core/figures_sql.py,
for periods of whole local days. A period reads its whole months from the monthly sums and
the days at its two ends from the daily ones.

`Days` are local dates as days since 2000-01-01, [first, end). Keys: None groups by the
ticket's (category, kind, area, unit); a list of day edges groups by bucket, as
figures_sql.bucket() does."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, literal, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from bot.core import figures_sql as q
from bot.core.figures_rollup import DAY, MONTH
from bot.store.rollup_models import FigureRollup as R

EPOCH = date(2000, 1, 1)
GROUPS = (R.category, R.kind, func.nullif(R.area_id, 0), func.nullif(R.unit_id, 0))


def ordinal(day: date) -> int:
    return (day - EPOCH).days


def local_ordinal(moment: datetime, tz: ZoneInfo) -> int:
    return ordinal(moment.astimezone(tz).date())


def _month_start(day: int) -> int:
    return ordinal((EPOCH + timedelta(days=day)).replace(day=1))


def _next_month(day: int) -> int:
    first = (EPOCH + timedelta(days=day)).replace(day=1)
    return ordinal((first + timedelta(days=32)).replace(day=1))


@dataclass(frozen=True)
class Days:
    first: int
    end: int

    def where(self, months: bool = True) -> ColumnElement:
        """Rows of these days: whole months from the monthly sums, the rest day by day."""
        month_from = self.first if _month_start(self.first) == self.first \
            else _next_month(self.first)
        month_to = _month_start(self.end)
        if not months or month_from >= month_to:
            return and_(R.grain == DAY, R.day >= self.first, R.day < self.end)
        return or_(and_(R.grain == MONTH, R.day >= month_from, R.day < month_to),
                   and_(R.grain == DAY, or_(and_(R.day >= self.first, R.day < month_from),
                                            and_(R.day >= month_to, R.day < self.end))))


def _scope(query, scope):
    if scope.unit_ids:
        query = query.where(R.unit_id.in_(sorted(scope.unit_ids)))
    if scope.area_id is not None:
        query = query.where(R.area_id == scope.area_id)
    return query


def _keys(days: Days, edges: Sequence[int] | None) -> tuple[list, ColumnElement, bool]:
    """Group columns, the first day of each row's bucket (for "counted once per period"),
    and whether monthly sums may be read."""
    if edges is None:
        return list(GROUPS), literal(days.first), True
    index = case(*((R.day < edge, i) for i, edge in enumerate(edges[1:])),
                 else_=len(edges) - 1)
    start = case(*((R.day < edge, edges[i]) for i, edge in enumerate(edges[1:])),
                 else_=edges[-1])
    return [index], start, False


def _sum(condition: ColumnElement) -> ColumnElement:
    return func.coalesce(func.sum(case((condition, R.count), else_=0)), 0)


def _rows(session: Session, query, width: int) -> list[tuple]:
    """Rows whose figures are not all zero (sums of facts taken back out leave zeros)."""
    return [tuple(row) for row in session.execute(query) if any(row[-width:])]


def received_rows(session: Session, scope, days: Days, edges: Sequence[int] | None = None):
    group, _, months = _keys(days, edges)
    sums = [_sum(R.measure == name) for name in ("received", "duplicate", "confidential",
                                                   "direct")]
    query = (select(*group, *sums)
             .where(R.measure.in_(("received", "duplicate", "confidential", "direct")),
                    days.where(months)).group_by(*group))
    return _rows(session, _scope(query, scope), 4)


def status_rows(session: Session, scope, days: Days, edges: Sequence[int] | None = None,
                statuses: Sequence[str] = q.COUNTED_STATUSES):
    group, start, months = _keys(days, edges)
    sums = [_sum(and_(R.key == status, R.value < start)) for status in statuses]
    query = (select(*group, *sums)
             .where(R.measure == "status", R.key.in_(statuses), days.where(months))
             .group_by(*group))
    return _rows(session, _scope(query, scope), len(statuses))


def clock_rows(session: Session, scope, days: Days, edges: Sequence[int] | None = None):
    group, _, months = _keys(days, edges)
    query = (select(*group, R.key, _sum(literal(True)), _sum(R.value == 1))
             .where(R.measure == "clock", days.where(months)).group_by(*group, R.key))
    return _rows(session, _scope(query, scope), 2)


def open_rows(session: Session, scope, at: int):
    """(category, kind, area, unit, open, overdue) at the start of local day `at`."""
    month = _month_start(at)
    before = or_(and_(R.grain == MONTH, R.day < month),
                 and_(R.grain == DAY, R.day >= month, R.day < at))
    query = (select(*GROUPS, _sum(R.measure == "open"), _sum(R.measure == "overdue"))
             .where(R.measure.in_(("open", "overdue")), before).group_by(*GROUPS))
    return [row for row in _rows(session, _scope(query, scope), 2) if row[4] > 0]


def duration_rows(session: Session, scope, days: Days):
    working = R.measure == "duration_w"
    unit = case((working, literal("working_days")), else_=literal("calendar_days"))
    histogram = _scope(
        select(R.key.label("clock"), unit.label("unit"), R.value.label("value"),
               func.sum(R.count).label("count"))
        .where(R.measure.in_(("duration_w", "duration_c")), days.where())
        .group_by(R.key, unit, R.value).having(func.sum(R.count) > 0), scope)
    return q.percentiles(session, histogram.subquery("histogram"))


def extension_row(session: Session, scope, days: Days):
    first = literal(days.first)
    query = select(_sum(R.measure == "extension"),
                   _sum(and_(R.measure == "extension_ticket", R.value < first)),
                   _sum(R.measure == "extension_days"), _sum(R.measure == "extension_complex"))
    query = query.where(R.measure.in_(("extension", "extension_ticket", "extension_days",
                                       "extension_complex")), days.where())
    return tuple(session.execute(_scope(query, scope)).one())


def rating_rows(session: Session, scope, days: Days):
    query = (select(R.value, func.sum(R.count)).where(R.measure == "rating", days.where())
             .group_by(R.value).having(func.sum(R.count) > 0))
    return [(int(value), int(count)) for value, count in session.execute(_scope(query, scope))]


def reopen_row(session: Session, scope, days: Days):
    first = literal(days.first)
    query = select(_sum(R.measure == "reopen_citizen"),
                   _sum(and_(R.measure == "reopen_ticket", R.value < first)))
    query = query.where(R.measure.in_(("reopen_citizen", "reopen_ticket")), days.where())
    return tuple(session.execute(_scope(query, scope)).one())

