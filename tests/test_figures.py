"""Every leaders' figure of bot.core.figures (computed in SQL) against the same figure
computed in plain Python from what the seeded history did (tests/figures_expected.py), on
SQLite and PostgreSQL, read both from the pre-aggregated sums (kept day by day as the history
was made) and from the live tables: totals, each breakdown, durations, satisfaction,
extensions, the previous period, unit and area scopes, the weekly series, the overdue list,
ticket rows."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest

from bot.core import figures
from bot.core.figures_model import Figures, Period
from bot.store.db import session_scope
from tests.conftest import BACKENDS
from tests.figures_expected import (
    Expected,
    actual_durations,
    breakdown,
    counts_dict,
    decision,
    expected_figures,
    expected_overdue,
    is_open,
)
from tests.figures_history import History, local, seeded_database

W = Period.iso_week
PERIODS = {
    "week 17 (the first)": W("2026-W17"),
    "week 18 (Giỗ Tổ, 30/4, 1/5)": W("2026-W18"),
    "week 19": W("2026-W19"),
    "week 20": W("2026-W20"),
    "week 21": W("2026-W21"),
    "30 days from 20/4": Period(date(2026, 4, 20), date(2026, 5, 19)),
    "week 36 (Quốc khánh)": W("2026-W36"),
    "week 37": W("2026-W37"),
    "the yearly report 16/10/2025-15/10/2026": Period(date(2025, 10, 16), date(2026, 10, 15)),
}
KINH_TE = "xa-an-binh-kinh-te"


@pytest.fixture(scope="module", params=BACKENDS)
def history(request, tmp_path_factory) -> Iterator[History]:
    """One seeded history per backend, shared by the tests here (they only read)."""
    with seeded_database(request.param, tmp_path_factory.mktemp("figures")) as seeded:
        yield seeded


@pytest.fixture(params=["rollup", "live"])
def source(request) -> str:
    """Where the figures are read: the pre-aggregated sums, or the live tables."""
    return request.param


def compute(history: History, period: Period, source: str, now=None, unit: str | None = None,
            area_id: int | None = None, with_previous: bool = True) -> Figures:
    with session_scope(history.url) as session:
        scope = figures.scope_for(session, unit_code=unit, area_id=area_id)
        return figures.compute(session, scope, period, history.ctx, now=now or history.end,
                               with_previous=with_previous, use_rollup=source == "rollup")


def assert_matches(actual: Figures, expected: Expected) -> None:
    assert counts_dict(actual.totals) == expected.totals
    assert breakdown(actual.by_category) == expected.by_category
    assert breakdown(actual.by_kind) == expected.by_kind
    assert breakdown(actual.by_area) == expected.by_area
    assert breakdown(actual.by_unit) == expected.by_unit
    assert actual_durations(actual) == expected.durations
    assert actual.satisfaction.distribution == expected.ratings
    assert actual.satisfaction.ratings == sum(expected.ratings.values())
    assert actual.satisfaction.average == pytest.approx(expected.average)
    assert actual.satisfaction.not_satisfied == expected.not_satisfied
    assert actual.satisfaction.reopened == expected.reopened
    extensions = actual.extensions
    assert (extensions.count, extensions.tickets, extensions.days,
            extensions.especially_complex) == expected.extensions
    assert actual.without_triage == expected.without_triage
    assert actual.confidential_received == expected.confidential_received


@pytest.mark.parametrize("name", PERIODS)
def test_every_figure_and_the_previous_period_match_the_history(history, name, source):
    period = PERIODS[name]
    actual = compute(history, period, source)
    assert_matches(actual, expected_figures(history, period, history.end))
    assert actual.previous is not None and actual.previous.period == period.previous()
    assert_matches(actual.previous, expected_figures(history, period.previous(), history.end))


def test_the_history_has_every_case_the_figures_distinguish(history):
    """Guards the other tests against a history too poor to tell figures apart."""
    month = expected_figures(history, PERIODS["the yearly report 16/10/2025-15/10/2026"],
                             history.end)
    totals = month.totals
    assert all(totals[name] for name in ("received", "duplicates", "accepted", "resolved",
                                         "rejected", "transferred", "withdrawn", "open",
                                         "overdue"))
    for clock in ("accept", "resolve"):
        due, on_time = totals[clock]
        assert 0 < on_time < due
    assert {k for k, _ in month.durations} == {"accept", "resolve"}
    assert {u for _, u in month.durations} == {"working_days", "calendar_days"}
    assert month.not_satisfied and month.reopened > month.not_satisfied
    assert month.extensions[0] and month.confidential_received
    assert 0 < month.without_triage < totals["received"]
    assert len(month.by_unit) >= 4 and len(month.by_kind) == 4 and "-" in month.by_area


def test_open_and_overdue_are_as_at_now_when_now_is_inside_the_period(history, source):
    period, now = PERIODS["week 20"], local(date(2026, 5, 13), 12)
    actual = compute(history, period, source, now=now)
    assert_matches(actual, expected_figures(history, period, now))
    at_the_end = compute(history, period, source)
    assert (actual.totals.open, actual.totals.overdue) != (at_the_end.totals.open,
                                                           at_the_end.totals.overdue)


@pytest.mark.parametrize("name", ["week 18 (Giỗ Tổ, 30/4, 1/5)", "30 days from 20/4"])
def test_a_unit_scope_counts_only_its_own_units(history, name, source):
    period = PERIODS[name]
    actual = compute(history, period, source, unit=KINH_TE)
    expected = expected_figures(history, period, history.end, units={KINH_TE})
    assert_matches(actual, expected)
    assert set(breakdown(actual.by_unit)) == {KINH_TE}
    everything = compute(history, period, source)
    assert actual.totals.received < everything.totals.received
    # The commune is the top of its departments: its scope holds every ticket.
    commune = compute(history, period, source, unit="xa-an-binh")
    assert counts_dict(commune.totals) == counts_dict(everything.totals)


def test_an_area_scope_counts_only_its_area(history, source):
    period = PERIODS["30 days from 20/4"]
    with session_scope(history.url) as session:
        from sqlalchemy import select

        from bot.store.models import Area
        area_id = session.scalar(select(Area.id).where(Area.code == "thon-1"))
    actual = compute(history, period, source, area_id=area_id)
    assert_matches(actual, expected_figures(history, period, history.end, area="thon-1"))
    assert set(breakdown(actual.by_area)) == {"thon-1"}


def test_weekly_series_gives_each_week_as_compute_counts_it(history, source):
    now = local(date(2026, 5, 20), 12)
    with session_scope(history.url) as session:
        points = figures.weekly_series(session, figures.scope_for(session), "2026-W21", 8,
                                       history.ctx, now=now, use_rollup=source == "rollup")
    assert [p.week for p in points] == [f"2026-W{n}" for n in range(14, 22)]
    for point in points:
        expected = expected_figures(history, W(point.week), now).totals
        assert (point.received, point.resolved) == (expected["received"],
                                                     expected["resolved"]), point.week
        assert (point.accept.due, point.accept.on_time) == expected["accept"], point.week
        assert (point.resolve.due, point.resolve.on_time) == expected["resolve"], point.week
    assert sum(p.received for p in points) > 0 and points[0].received == 0


@pytest.mark.parametrize("day", [date(2026, 5, 13), date(2026, 5, 27), date(2026, 9, 15)])
def test_overdue_list_is_oldest_first_and_never_names_a_confidential_ticket(history, day):
    moment = local(day, 12)
    with session_scope(history.url) as session:
        items, hidden = figures.overdue_tickets(session, figures.scope_for(session), moment,
                                                limit=50)
    listed, confidential = expected_overdue(history, moment)
    assert [(i.code, i.clock, i.due_at) for i in items] == listed
    assert hidden == confidential
    denunciations = {s.code for s in history.stories.values() if s.kind == "to_cao"}
    assert not denunciations & {i.code for i in items}
    for item in items:
        assert item.days_late == (moment.astimezone(history.ctx.tz).date()
                                  - item.due_at.astimezone(history.ctx.tz).date()).days > 0
    assert listed and (day != date(2026, 9, 15) or confidential)


def test_overdue_list_is_limited_and_scoped(history):
    moment = local(date(2026, 9, 15), 12)
    with session_scope(history.url) as session:
        items, _ = figures.overdue_tickets(session, figures.scope_for(session), moment, limit=2)
        kinh_te, _ = figures.overdue_tickets(
            session, figures.scope_for(session, unit_code=KINH_TE), moment, limit=50)
    listed, _ = expected_overdue(history, moment)
    assert [i.code for i in items] == [code for code, _, _ in listed[:2]]
    assert [i.code for i in kinh_te] == [c for c, _, _ in expected_overdue(
        history, moment, units={KINH_TE})[0]]
    assert {i.unit for i in kinh_te} == {"Phòng Kinh tế"}


@pytest.mark.parametrize("name", ["week 19", "week 21", "week 37", "30 days from 20/4"])
def test_ticket_rows_list_received_and_still_open_tickets_never_confidential(history, name):
    period = PERIODS[name]
    start, end = period.bounds(history.ctx.tz)
    with session_scope(history.url) as session:
        rows = figures.ticket_rows(session, figures.scope_for(session), period, history.ctx)
    stories = history.stories.values()
    wanted = {s.code for s in stories if not s.confidential
              and (start <= s.received < end or is_open(s, end))}
    assert [r.code for r in rows] == sorted(wanted, key=lambda c: next(
        s.received for s in stories if s.code == c))
    assert len(rows) > 3
    by_code = {s.code: s for s in stories}
    # on_time: the current resolve period as the rates decide it, None while undecided.
    for row in rows:
        period = by_code[row.code].clocks.get("resolve")
        decided = decision(period) if period else None
        expected = decided[1] if decided and decided[0] < history.end else None
        assert row.on_time is expected, row.code
    if name != "week 19":
        return
    info = next(r for r in rows if r.code == history.code("info"))
    story = history.stories["info"]
    assert (info.status, info.category, info.kind, info.unit, info.area) == (
        story.status, "y_te_giao_duc", "phan_anh", "Phòng Văn hóa - Xã hội", "Thôn Đông")
    assert info.accepted_at == next(e.at for e in story.events if e.to_status == "accepted")
    assert info.resolve_due_at == story.clocks["resolve"].due and info.on_time is True
    late = next(r for r in rows if r.code == history.code("paused_late"))
    assert late.on_time is False and late.resolved_at is None
