"""Every ticket change leaves an audit event; events can be added, never edited or deleted."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DatabaseError

from bot.core.taxonomy import Status
from bot.core.tickets import IllegalTransition, change_status, update_fields
from bot.store.audit import MissingAuditEvent
from bot.store.db import session_scope
from bot.store.models import Ticket, TicketEvent
from tests.conftest import BACKENDS
from tests.helpers import OFFICER, context, make_ticket

pytestmark = pytest.mark.parametrize("empty_db_url", BACKENDS, indirect=True)


def load(session, code: str) -> Ticket:
    return session.scalar(select(Ticket).where(Ticket.code == code))


def test_every_change_is_an_event_with_actor_and_channel(db_url):
    code = make_ticket(db_url)
    with session_scope(db_url) as session:
        ticket = load(session, code)
        change_status(session, ticket, Status.ACCEPTED, OFFICER, context())
        update_fields(session, ticket, OFFICER, context(), category="ha_tang", kind="kien_nghi")
    with session_scope(db_url) as session:
        events = load(session, code).events
        assert [e.action for e in events] == ["created", "accepted", "updated"]
        assert (events[1].from_status, events[1].to_status) == ("received", "accepted")
        assert (events[1].actor_type, events[1].actor_id, events[1].channel) == (
            "officer", 1, "desk")
        assert events[2].data == {"fields": ["category", "kind"]}


def test_a_change_without_an_event_is_refused(db_url):
    code = make_ticket(db_url)
    with pytest.raises(MissingAuditEvent), session_scope(db_url) as session:
        load(session, code).status = Status.RESOLVED
    with session_scope(db_url) as session:
        assert load(session, code).status == Status.RECEIVED


def test_illegal_transition_changes_nothing(db_url):
    code = make_ticket(db_url)
    with pytest.raises(IllegalTransition), session_scope(db_url) as session:
        change_status(session, load(session, code), Status.CLOSED, OFFICER, context())
    with session_scope(db_url) as session:
        assert len(load(session, code).events) == 1


@pytest.mark.parametrize("statement", [
    "UPDATE ticket_events SET action = 'forged'",
    "DELETE FROM ticket_events",
])
def test_events_are_append_only_in_the_database(db_url, statement):
    make_ticket(db_url)
    with pytest.raises(DatabaseError, match="append-only"), session_scope(db_url) as session:
        session.execute(text(statement))
    with session_scope(db_url) as session:
        assert [e.action for e in session.scalars(select(TicketEvent))] == ["created"]


def test_retried_creation_returns_the_same_ticket(db_url):
    first = make_ticket(db_url, key="inbox:42")
    again = make_ticket(db_url, key="inbox:42")
    assert first == again
    with session_scope(db_url) as session:
        assert len(list(session.scalars(select(Ticket)))) == 1
        assert len(list(session.scalars(select(TicketEvent)))) == 1
