"""The leaders' figures computed again in plain Python from what tests/figures_history.py
did (its record, not the database), by the definitions of docs/figures.md, for tests to
compare with bot.core.figures. Shapes are plain dicts and tuples; `actual_*` turn the real
Figures into the same shapes."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from bot.core.figures_model import Counts, Figures, Period
from tests.figures_history import WORKING, Clock, History, Story
from tests.helpers import TZ

OPEN = {"received", "accepted", "assigned", "in_progress", "need_info"}
COUNTED = ("accepted", "resolved", "rejected", "transferred", "withdrawn")
FIELDS = ("received", "duplicates", *COUNTED, "open", "overdue")


def blank() -> dict:
    return {**dict.fromkeys(FIELDS, 0), "accept": (0, 0), "resolve": (0, 0)}


@dataclass
class Expected:
    totals: dict = field(default_factory=blank)
    by_category: dict = field(default_factory=dict)
    by_kind: dict = field(default_factory=dict)
    by_area: dict = field(default_factory=dict)
    by_unit: dict = field(default_factory=dict)
    durations: dict = field(default_factory=dict)  # (clock, unit) -> (count, median, p90)
    ratings: dict = field(default_factory=lambda: dict.fromkeys(range(1, 6), 0))
    average: float | None = None
    not_satisfied: int = 0
    reopened: int = 0
    extensions: tuple = (0, 0, 0, 0)  # count, tickets, days, especially complex
    without_triage: int = 0
    confidential_received: int = 0


def in_scope(story: Story, units: set[str] | None, area: str | None) -> bool:
    return (units is None or story.unit in units) and (area is None or story.area == area)


def status_at(story: Story, moment: datetime) -> str | None:
    before = [e for e in story.events if e.to_status and e.at < moment]
    return before[-1].to_status if before else None


def is_open(story: Story, moment: datetime) -> bool:
    return (story.received < moment and not story.duplicate
            and status_at(story, moment) in OPEN)


def overdue_periods(story: Story, moment: datetime) -> list[Clock]:
    if not is_open(story, moment):
        return []
    return [p for p in story.periods
            if p.started < moment and (p.stopped is None or p.stopped >= moment)
            and p.due < moment and (p.paused is None or p.paused > p.due)]


def decision(period: Clock) -> tuple[datetime, bool] | None:
    """(decided at, on time), or None for a period that is no decision."""
    on_time = period.stopped is not None and period.stopped <= period.due
    if on_time and period.stopped_by in ("withdrawn", "duplicate"):
        return None
    if period.stopped is None and period.paused is not None and period.paused <= period.due:
        return None
    return (period.stopped if on_time else period.due), on_time


def story_counts(story: Story, start: datetime, end: datetime, at_end: datetime) -> dict:
    counts = blank()
    if start <= story.received < end:
        counts["received"] = 1
        counts["duplicates"] = int(story.duplicate)
    for status in COUNTED:
        counts[status] = int(any(e.to_status == status and start <= e.at < end
                                 and e.action != "information_added" for e in story.events))
    counts["open"] = int(is_open(story, at_end))
    counts["overdue"] = int(bool(overdue_periods(story, at_end)))
    for name in ("accept", "resolve"):
        due = on_time = 0
        for period in story.periods:
            decided = decision(period) if period.name == name else None
            if decided and start <= decided[0] < at_end:
                due += 1
                on_time += decided[1]
        counts[name] = (due, on_time)
    return counts


def add(target: dict, source: dict) -> None:
    for name in FIELDS:
        target[name] += source[name]
    for name in ("accept", "resolve"):
        target[name] = (target[name][0] + source[name][0], target[name][1] + source[name][1])


def nearest_rank(values: list[int], share: float) -> float:
    ordered = sorted(values)
    return float(ordered[math.ceil(share * len(ordered)) - 1])


def days_taken(history: History, period: Clock) -> int:
    if period.unit == WORKING:
        return history.calendar.working_days_between(period.started, period.stopped, TZ)
    return (period.stopped.astimezone(TZ).date() - period.started.astimezone(TZ).date()).days


def expected_figures(history: History, period: Period, now: datetime,
                     units: set[str] | None = None, area: str | None = None) -> Expected:
    """The figures of `period` as at min(its end, now), for tickets whose current unit is in
    `units` (codes; None: all) and, if given, whose area is `area` (code)."""
    start, end = period.bounds(TZ)
    at_end = min(end, now)
    result = Expected()
    durations: dict[tuple[str, str], list[int]] = defaultdict(list)
    rating_sum = 0
    reopened: set[str] = set()
    ext_count = ext_days = ext_complex = 0
    extended: set[str] = set()
    for story in history.stories.values():
        if not in_scope(story, units, area):
            continue
        counts = story_counts(story, start, end, at_end)
        if any(v for k, v in counts.items() if k in FIELDS) or counts["accept"][0] \
                or counts["resolve"][0]:
            add(result.totals, counts)
            for name, key in (("by_category", story.category), ("by_kind", story.kind),
                              ("by_area", story.area or "-"), ("by_unit", story.unit)):
                add(getattr(result, name).setdefault(key, blank()), counts)
        if start <= story.received < end:
            result.without_triage += not story.needs_triage
            result.confidential_received += story.confidential
        for p in story.periods:
            if (p.stopped is not None and start <= p.stopped < end
                    and p.stopped_by not in ("withdrawn", "duplicate", "restarted")):
                unit = "working_days" if p.unit == WORKING else "calendar_days"
                durations[(p.name, unit)].append(days_taken(history, p))
        for event in story.events:
            if not start <= event.at < end:
                continue
            if event.action == "rated":
                result.ratings[event.data["rating"]] += 1
                rating_sum += event.data["rating"]
            elif event.action == "reopened":
                reopened.add(story.name)
                result.not_satisfied += event.data.get("by") == "citizen"
            elif event.action == "resolve_clock_extended":
                ext_count += 1
                ext_days += event.data["days"]
                ext_complex += bool(event.data["especially_complex"])
                extended.add(story.name)
    rated = sum(result.ratings.values())
    result.average = rating_sum / rated if rated else None
    result.reopened = len(reopened)
    result.extensions = (ext_count, len(extended), ext_days, ext_complex)
    result.durations = {key: (len(v), nearest_rank(v, 0.5), nearest_rank(v, 0.9))
                        for key, v in durations.items()}
    return result


def expected_overdue(history: History, moment: datetime, units: set[str] | None = None
                     ) -> tuple[list[tuple[str, str, datetime]], int]:
    """(code, clock, due) of overdue non-confidential tickets, oldest deadline first, and
    the number of confidential ones."""
    listed, hidden = [], 0
    for story in history.stories.values():
        periods = overdue_periods(story, moment) if in_scope(story, units, None) else []
        if not periods:
            continue
        if story.confidential:
            hidden += 1
            continue
        first = min(periods, key=lambda p: (p.due, p.name))
        listed.append((story.code, first.name, first.due))
    return sorted(listed, key=lambda item: (item[2], item[0])), hidden


# --- the real figures in the same shapes ------------------------------------------------

def counts_dict(counts: Counts) -> dict:
    return {**{name: getattr(counts, name) for name in FIELDS},
            "accept": (counts.accept.due, counts.accept.on_time),
            "resolve": (counts.resolve.due, counts.resolve.on_time)}


def breakdown(groups: list[Counts]) -> dict:
    return {c.key: counts_dict(c) for c in groups}


def actual_durations(figures: Figures) -> dict:
    return {(d.clock, d.unit): (d.count, d.median, d.p90) for d in figures.durations}
