"""The pre-aggregated figures (bot/core/figures_rollup.py) on SQLite and PostgreSQL: sums kept
day by day as the seeded history was made equal a rebuild from scratch; a change made by any
code path (a hand-written UPDATE too) is marked by the triggers and caught up; two processes
catching up at once count nothing twice. tests/test_figures.py checks every figure read from
the sums against the history."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import date

import pytest
from sqlalchemy import func, select, text

from bot.core import figures, figures_rollup
from bot.core.figures_model import Period
from bot.store.db import session_scope
from bot.store.models import OrgUnit, Ticket
from bot.store.rollup_models import FigureDirty, FigureRollup, FigureRollupState, TicketFact
from tests.conftest import BACKENDS, POSTGRES_OK
from tests.figures_history import History, seeded_database

YEAR = Period(date(2025, 10, 16), date(2026, 10, 15))
VAN_HOA = "xa-an-binh-vhxh"


@pytest.fixture(params=BACKENDS)
def history(request, tmp_path) -> Iterator[History]:
    """A history of its own: these tests change it."""
    with seeded_database(request.param, tmp_path) as seeded:
        yield seeded


def sums(session) -> dict[tuple, int]:
    rows = session.execute(select(FigureRollup.grain, FigureRollup.measure, FigureRollup.day,
                                  FigureRollup.unit_id, FigureRollup.area_id,
                                  FigureRollup.category, FigureRollup.kind, FigureRollup.key,
                                  FigureRollup.value, FigureRollup.count))
    return {tuple(row[:-1]): row[-1] for row in rows if row[-1] != 0}


def facts(session) -> list[tuple]:
    return sorted(tuple(row) for row in session.execute(
        select(TicketFact.ticket_id, TicketFact.unit_id, TicketFact.area_id,
               TicketFact.category, TicketFact.kind, TicketFact.day, TicketFact.measure,
               TicketFact.key, TicketFact.value, TicketFact.count)))


def both_ways(history: History, period: Period = YEAR, unit: str | None = None):
    with session_scope(history.url) as session:
        scope = figures.scope_for(session, unit_code=unit)
        kept = figures.compute(session, scope, period, history.ctx, now=history.end)
        live = figures.compute(session, scope, period, history.ctx, now=history.end,
                               use_rollup=False)
    return kept, live


def test_sums_kept_day_by_day_equal_a_rebuild_from_scratch(history):
    with session_scope(history.url) as session:
        figures_rollup.ensure(session, history.ctx)
        kept, kept_facts = sums(session), facts(session)
        assert session.scalar(select(func.count()).select_from(FigureDirty)) == 0
        figures_rollup.rebuild(session, history.ctx)
        assert facts(session) == kept_facts
        assert sums(session) == kept
    measures = {key[1] for key in kept}
    assert {"received", "status", "clock", "duration_w", "duration_c", "open", "overdue",
            "rating", "reopen_ticket", "extension"} <= measures
    # Every ticket contributes its receipt once, by day and by month.
    received = sum(count for key, count in kept.items() if key[1] == "received")
    assert received == 2 * len(history.stories)


def test_a_change_by_any_code_path_is_marked_and_caught_up(history):
    code = history.code("road")
    with session_scope(history.url) as session:
        figures_rollup.ensure(session, history.ctx)
        ticket = session.scalar(select(Ticket).where(Ticket.code == code))
        before = ticket.unit_id
        van_hoa = session.scalar(select(OrgUnit.id).where(OrgUnit.code == VAN_HOA))
        assert before != van_hoa
        # Not through the core, not through the ORM: a hand-written UPDATE.
        session.execute(text("UPDATE tickets SET unit_id = :unit WHERE id = :id"),
                        {"unit": van_hoa, "id": ticket.id})
        marked = set(session.scalars(select(FigureDirty.ticket_id)))
        assert marked == {ticket.id}
    kept, live = both_ways(history, unit=VAN_HOA)
    assert kept.totals == live.totals and kept.by_category == live.by_category
    with session_scope(history.url) as session:
        assert session.scalar(select(func.count()).select_from(FigureDirty)) == 0
        moved = session.scalar(select(func.count()).select_from(TicketFact).where(
            TicketFact.ticket_id == ticket.id, TicketFact.unit_id == van_hoa))
        assert moved and not session.scalar(select(func.count()).select_from(TicketFact).where(
            TicketFact.ticket_id == ticket.id, TicketFact.unit_id == before))


def test_no_sums_yet_means_a_rebuild_and_the_figures_are_the_live_ones(history):
    with session_scope(history.url) as session:
        session.execute(text("DELETE FROM figure_rollup_state"))
        session.execute(text("DELETE FROM figure_rollup"))
    kept, live = both_ways(history)
    assert kept.totals == live.totals and kept.totals.received > 0
    assert kept.durations == live.durations and kept.satisfaction == live.satisfaction
    with session_scope(history.url) as session:
        assert session.get(FigureRollupState, 1) is not None


@pytest.mark.skipif(not POSTGRES_OK, reason="needs PostgreSQL")
@pytest.mark.parametrize("history", ["postgresql"], indirect=True)
def test_two_processes_catching_up_at_once_count_nothing_twice(history):
    with session_scope(history.url) as session:
        figures_rollup.ensure(session, history.ctx)
        expected = sums(session)
        # Every ticket marked again, as after a restore.
        session.execute(text("INSERT INTO figure_dirty (ticket_id) SELECT id FROM tickets"))
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def catch_up() -> None:
        try:
            with session_scope(history.url) as session:
                start.wait()
                figures_rollup.ensure(session, history.ctx)
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=catch_up) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    with session_scope(history.url) as session:
        assert sums(session) == expected
        assert session.scalar(select(func.count()).select_from(FigureDirty)) == 0


def test_the_leader_job_catches_up_what_changed_since(history):
    from bot.jobs.scheduler import catch_up_figures

    code = history.code("road")
    with session_scope(history.url) as session:
        figures_rollup.ensure(session, history.ctx)
        session.execute(text("UPDATE tickets SET confidential = NOT confidential "
                             "WHERE code = :code"), {"code": code})
    assert catch_up_figures(history.url, history.ctx) == 1
    assert catch_up_figures(history.url, history.ctx) == 0
    with session_scope(history.url) as session:
        assert session.scalar(select(func.count()).select_from(FigureDirty)) == 0
