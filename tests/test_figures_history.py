"""The seeded history's plain-Python record (tests/figures_history.py), from which the expected
figures are computed, is what the core really stored: the same status events and the same
clock periods (current and archived by reopens), with deadlines moved by holidays, pauses
and extensions. So a figure test fails for the figure, not for a wrong record."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.store.db import session_scope
from bot.store.models import OrgUnit, Ticket, TicketClock, TicketEvent
from bot.store.report_models import TicketClockPeriod
from tests.conftest import BACKENDS
from tests.figures_history import seed_history

pytestmark = pytest.mark.parametrize("empty_db_url", BACKENDS, indirect=True)


def test_the_record_matches_the_stored_tickets_events_and_clock_periods(db_url):
    history = seed_history(db_url)
    assert len(history.stories) >= 20
    with session_scope(db_url) as session:
        for story in history.stories.values():
            ticket = session.scalar(select(Ticket).where(Ticket.code == story.code))
            unit = session.get(OrgUnit, ticket.unit_id).code
            assert (ticket.status, ticket.kind, ticket.category, unit, ticket.confidential,
                    ticket.duplicate_of_id is not None, ticket.received_at) == (
                story.status, story.kind, story.category, story.unit, story.confidential,
                story.duplicate, story.received), story.name
            events = session.execute(
                select(TicketEvent.at, TicketEvent.to_status, TicketEvent.action)
                .where(TicketEvent.ticket_id == ticket.id, TicketEvent.to_status.is_not(None))
                .order_by(TicketEvent.id)).all()
            assert [tuple(e) for e in events] == [
                (e.at, e.to_status, e.action) for e in story.events if e.to_status], story.name
            clocks = session.scalars(select(TicketClock).where(
                TicketClock.ticket_id == ticket.id).order_by(TicketClock.name)).all()
            assert [(c.name, c.unit, c.started_at, c.due_at, c.stopped_at, c.stopped_by,
                     c.paused_at) for c in clocks] == [
                (c.name, c.unit, c.started, c.due, c.stopped, c.stopped_by, c.paused)
                for c in sorted(story.clocks.values(), key=lambda c: c.name)], story.name
            past = session.scalars(select(TicketClockPeriod).where(
                TicketClockPeriod.ticket_id == ticket.id).order_by(TicketClockPeriod.id)).all()
            assert [(p.name, p.unit, p.started_at, p.due_at, p.stopped_at, p.stopped_by)
                    for p in past] == [(p.name, p.unit, p.started, p.due, p.stopped,
                                        p.stopped_by) for p in story.past], story.name
    reopened = [s.name for s in history.stories.values() if s.past]
    assert sorted(reopened) == ["road", "trash"]
