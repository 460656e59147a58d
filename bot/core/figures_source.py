"""Where compute() reads each figure family: the live tables (bot/core/figures_sql.py) or
the pre-aggregated sums (bot/core/figures_daily.py). Both give the same rows; the sums
answer for whole local days, so what lies after the last local midnight before `at_end`
(today, when a period runs to now) is read live and added."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from bot.core import figures_daily as daily
from bot.core import figures_sql as q
from bot.store.models import Ticket

TICKET_KEYS = (Ticket.category, Ticket.kind, Ticket.area_id, Ticket.unit_id)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class LiveSource:
    """Every figure family from the live tables. `edges`: None groups by the ticket's
    (category, kind, area, unit); else by the bucket [edges[i], edges[i+1])."""

    def __init__(self, session: Session, scope, tz: ZoneInfo) -> None:
        self.session, self.scope, self.tz = session, scope, tz
        self.sql = q.Sql.of(session, tz)

    @staticmethod
    def _keys(edges: Sequence[datetime] | None):
        if edges is None:
            return lambda _column: TICKET_KEYS
        return lambda column: [q.bucket(column, edges)]

    def received(self, start, end, edges=None):
        return q.received_rows(self.session, self.scope, start, end, self._keys(edges))

    def statuses(self, start, end, edges=None, statuses=q.COUNTED_STATUSES):
        return q.status_rows(self.session, self.scope, start, end, self._keys(edges),
                             statuses=statuses)

    def clocks(self, start, at_end, edges=None):
        return q.clock_rows(self.session, self.scope, start, at_end, self._keys(edges))

    def opened(self, at_end):
        return q.open_rows(self.session, self.scope, at_end,
                           ("category", "kind", "area_id", "unit_id"))

    def durations(self, start, end):
        return q.duration_rows(self.session, self.scope, start, end, self.sql)

    def extensions(self, start, end):
        return q.extension_row(self.session, self.scope, start, end)

    def ratings(self, start, end):
        return q.rating_rows(self.session, self.scope, start, end)

    def reopens(self, start, end):
        return q.reopen_row(self.session, self.scope, start, end)


class RollupSource(LiveSource):
    """The same families from the sums (kept up to date by figures_rollup.ensure())."""

    def _day(self, moment: datetime) -> int:
        return daily.local_ordinal(_aware(moment), self.tz)

    def _days(self, start: datetime, end: datetime) -> daily.Days:
        return daily.Days(self._day(start), self._day(end))

    def _edges(self, edges: Sequence[datetime] | None) -> list[int] | None:
        return None if edges is None else [self._day(edge) for edge in edges]

    def _midnight_before(self, moment: datetime) -> datetime:
        local = _aware(moment).astimezone(self.tz)
        return datetime.combine(local.date(), time(), self.tz).astimezone(UTC)

    def received(self, start, end, edges=None):
        return daily.received_rows(self.session, self.scope, self._days(start, end),
                                   self._edges(edges))

    def statuses(self, start, end, edges=None, statuses=q.COUNTED_STATUSES):
        return daily.status_rows(self.session, self.scope, self._days(start, end),
                                 self._edges(edges), statuses)

    def clocks(self, start, at_end, edges=None):
        """Decided by the last midnight before `at_end` from the sums, the rest live (a
        deadline later today is not late yet)."""
        cut = max(_aware(start), self._midnight_before(at_end))
        totals: dict[tuple, list[int]] = {}
        parts = []
        if cut > _aware(start):
            parts.append(daily.clock_rows(self.session, self.scope, self._days(start, cut),
                                          self._edges(edges)))
        if cut < _aware(at_end):
            parts.append(super().clocks(cut, at_end, edges))
        for rows in parts:
            for row in rows:
                total = totals.setdefault(tuple(row[:-2]), [0, 0])
                total[0] += row[-2] or 0
                total[1] += row[-1] or 0
        return [(*key, due, on_time) for key, (due, on_time) in totals.items()]

    def opened(self, at_end):
        if self._midnight_before(at_end) != _aware(at_end):
            return super().opened(at_end)  # open "now": the live state
        return daily.open_rows(self.session, self.scope, self._day(at_end))

    def durations(self, start, end):
        return daily.duration_rows(self.session, self.scope, self._days(start, end))

    def extensions(self, start, end):
        return daily.extension_row(self.session, self.scope, self._days(start, end))

    def ratings(self, start, end):
        return daily.rating_rows(self.session, self.scope, self._days(start, end))

    def reopens(self, start, end):
        return daily.reopen_row(self.session, self.scope, self._days(start, end))
