"""The rules of docs/figures.md that are easy to get wrong, checked with numbers worked out by
hand from the seeded history (tests/figures_history.py), on SQLite and PostgreSQL: holidays
in working-day durations (and the calendar table refreshed from the settings), a reopened
ticket's archived period, withdrawn and duplicate clocks, a paused clock, the citizen's answer
that is no second acceptance, and scopes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from bot.core import figures
from bot.core.context import CoreContext
from bot.core.figures_model import Period
from bot.core.figures_sql import utc_offset_hours
from bot.core.workdays import WorkCalendar
from bot.store.db import session_scope
from bot.store.models import Area
from bot.store.report_models import TicketClockPeriod, WorkCalendarDay
from tests.conftest import BACKENDS
from tests.figures_history import TZ, History, seed_history, seeded_database

W = Period.iso_week
each_backend = pytest.mark.parametrize("empty_db_url", BACKENDS, indirect=True)


@pytest.fixture(scope="module", params=BACKENDS)
def history(request, tmp_path_factory) -> Iterator[History]:
    """One seeded history per backend for the tests that only read."""
    with seeded_database(request.param, tmp_path_factory.mktemp("rules")) as seeded:
        yield seeded


def figures_of(history, period, unit=None, area=None, ctx=None):
    with session_scope(history.url) as session:
        area_id = session.scalar(select(Area.id).where(Area.code == area)) if area else None
        scope = figures.scope_for(session, unit_code=unit, area_id=area_id)
        return figures.compute(session, scope, period, ctx or history.ctx, now=history.end,
                               with_previous=False)


def durations(result) -> dict:
    return {(d.clock, d.unit): (d.count, d.median, d.p90) for d in result.durations}


@each_backend
def test_a_holiday_shortens_a_working_day_duration_and_the_calendar_follows_settings(db_url):
    history = seed_history(db_url)
    # Accepted Monday 31/8, resolved Thursday 3/9 across Quốc khánh (1/9, 2/9): 1 working day.
    # Accepted Monday 7/9, resolved Thursday 10/9: 3 working days. Both 3 calendar days.
    assert durations(figures_of(history, W("2026-W36")))[("resolve", "working_days")] == (
        1, 1.0, 1.0)
    assert durations(figures_of(history, W("2026-W37")))[("resolve", "working_days")] == (
        1, 3.0, 3.0)
    # A day off by decision (EXTRA_DAYS_OFF) rewrites the table, and the figure follows it.
    settings = CoreContext.build(TZ, "KN", history.ctx.clock, calendar=WorkCalendar(
        extra_days_off=frozenset({date(2026, 9, 8)})))
    with session_scope(db_url) as session:
        assert figures.ensure_calendar(session, settings) == 4017
        assert figures.ensure_calendar(session, settings) == 0
        day = session.get(WorkCalendarDay, date(2026, 9, 8))
        assert not day.working
    assert durations(figures_of(history, W("2026-W37"), ctx=settings))[
        ("resolve", "working_days")] == (1, 2.0, 2.0)


@each_backend
def test_the_calendar_table_holds_every_day_with_its_working_index(empty_db_url):
    from bot.store.migrate import upgrade

    upgrade(empty_db_url)
    ctx = CoreContext.build(TZ)
    with session_scope(empty_db_url) as session:
        assert figures.ensure_calendar(session, ctx) == 4017
    with session_scope(empty_db_url) as session:
        assert figures.ensure_calendar(session, ctx) == 0
        assert session.scalar(select(func.count()).select_from(WorkCalendarDay)) == 4017
        days = {row.day: row for row in session.scalars(select(WorkCalendarDay).where(
            WorkCalendarDay.day.between(date(2026, 4, 24), date(2026, 5, 4))))}
    off = {d for d, row in days.items() if not row.working}
    assert off == {date(2026, 4, 25), date(2026, 4, 26), date(2026, 4, 27), date(2026, 4, 30),
                   date(2026, 5, 1), date(2026, 5, 2), date(2026, 5, 3)}
    # Friday 24/4 to Monday 4/5: 28, 29 April and 4 May are the working days between.
    assert days[date(2026, 5, 4)].working_index - days[date(2026, 4, 24)].working_index == 3


def test_a_reopened_tickets_archived_period_still_counts(history):
    with session_scope(history.url) as session:
        archived = session.scalars(select(TicketClockPeriod)).all()
    assert {(p.ticket_id is not None, p.name, p.stopped_by) for p in archived} == {
        (True, "resolve", "resolved")}
    assert len(archived) == 2  # "trash" (by the citizen) and "road" (by an officer)
    # Thôn 1, week 19: "trash"'s first resolve period (due 6/5, answered 15/5) falls due late.
    assert figures_of(history, W("2026-W19"), area="thon-1").totals.resolve.due == 1
    assert figures_of(history, W("2026-W19"), area="thon-1").totals.resolve.on_time == 0
    # Its first answer took 14 working days (22/4 -> 15/5, across 27/4, 30/4, 1/5) ...
    week20 = figures_of(history, W("2026-W20"), area="thon-1")
    assert durations(week20)[("resolve", "working_days")] == (1, 14.0, 14.0)
    assert (week20.satisfaction.not_satisfied, week20.satisfaction.reopened) == (1, 1)
    # ... its new period (from Saturday 16/5) 5 working days, answered in time on 22/5.
    week21 = figures_of(history, W("2026-W21"), area="thon-1")
    assert durations(week21)[("resolve", "working_days")] == (1, 5.0, 5.0)
    assert (week21.totals.resolve.due, week21.totals.resolve.on_time) == (1, 1)
    # An officer's reopen (week 22) is a reopen, not a "Chưa hài lòng".
    week22 = figures_of(history, W("2026-W22"))
    assert (week22.satisfaction.not_satisfied, week22.satisfaction.reopened) == (0, 1)


def test_withdrawn_and_duplicate_clocks_are_left_out_unless_already_late(history):
    # Thôn 3, week 17: "road" accepted in time; "dup" was linked as its duplicate before its
    # acceptance deadline: no decision. A duplicate is received, never open.
    week17 = figures_of(history, W("2026-W17"), area="thon-3")
    assert (week17.totals.accept.due, week17.totals.accept.on_time) == (1, 1)
    assert (week17.totals.received, week17.totals.duplicates, week17.totals.open) == (2, 1, 1)
    # Thôn 1, week 18: "withdraw" was withdrawn before its resolve deadline: no decision.
    week18 = figures_of(history, W("2026-W18"), area="thon-1")
    assert (week18.totals.withdrawn, week18.totals.resolve.due) == (1, 0)
    # Kinh tế, week 19: "late_withdraw" and "late_dup" passed their acceptance deadline (7/5)
    # before the withdrawal and the link: late. "paused_late" and "proposal": in time.
    week19 = figures_of(history, W("2026-W19"), unit="xa-an-binh-kinh-te")
    assert (week19.totals.accept.due, week19.totals.accept.on_time) == (4, 2)
    # Durations leave withdrawn and duplicate stops out whatever their time.
    assert ("accept", "working_days") not in durations(
        figures_of(history, Period(date(2026, 5, 12), date(2026, 5, 13)), area="thon-1"))


def test_paused_clocks_and_answers_to_questions(history):
    # Văn hóa - Xã hội, week 20: "paused_ok" accepted; "info" came back to `accepted` when
    # the citizen answered: not a second acceptance.
    week20 = figures_of(history, W("2026-W20"), unit="xa-an-binh-vhxh")
    assert week20.totals.accepted == 1
    # "info": paused 6/5 -> 11/5 (3 working days), so due 19/5 not 14/5; answered 14/5.
    assert (week20.totals.resolve.due, week20.totals.resolve.on_time) == (1, 1)
    # At the end (15/9): "paused_ok" (paused before its deadline) is open, not overdue;
    # "paused_late" (paused after it) is open and overdue.
    end = figures_of(history, Period(date(2026, 9, 14), date(2026, 9, 15)), area="thon-1")
    assert (end.totals.open, end.totals.overdue) == (1, 0)
    end = figures_of(history, Period(date(2026, 9, 14), date(2026, 9, 15)), area="thon-3")
    assert (end.totals.open, end.totals.overdue) == (1, 1)


@each_backend
def test_scope_for_names_units_and_refuses_unknown_ones(db_url):
    with session_scope(db_url) as session:
        commune = figures.scope_for(session, unit_code="xa-an-binh")
        unit = figures.scope_for(session, unit_code="xa-an-binh-kinh-te")
        assert unit.unit_ids < commune.unit_ids and len(commune.unit_ids) == 6
        assert figures.scope_for(session, unit_id=unit.unit_id) == unit
        assert unit.name == "Phòng Kinh tế" and figures.scope_for(session).unit_ids == set()
        with pytest.raises(LookupError):
            figures.scope_for(session, unit_code="khong-co")
        with pytest.raises(LookupError):
            figures.scope_for(session, area_id=10_000)


def test_local_dates_need_a_fixed_offset():
    assert utc_offset_hours(ZoneInfo("Asia/Ho_Chi_Minh")) == 7
    with pytest.raises(ValueError):
        utc_offset_hours(ZoneInfo("Europe/Paris"))
