"""Inbox de-duplication and outbox delivery: retries with back-off on temporary errors, a stop
with the recorded reason on permanent ones."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.channels.base import PermanentError, TemporaryError, deliver_due
from bot.core.messaging import Inbound, Outbound, queue_outbound, store_inbound
from bot.store.db import session_scope
from bot.store.models import InboxMessage, OutboxMessage
from tests.conftest import BACKENDS
from tests.helpers import NOW

pytestmark = pytest.mark.parametrize("empty_db_url", BACKENDS, indirect=True)


class ScriptedSender:
    """A channel whose sends fail as scripted, then succeed."""

    channel = "telegram"

    def __init__(self, failures: list[Exception]) -> None:
        self.failures = failures
        self.delivered: list[str] = []

    async def send(self, message: OutboxMessage) -> str:
        if self.failures:
            raise self.failures.pop(0)
        self.delivered.append(message.text)
        return f"m{len(self.delivered)}"


def test_redelivered_inbound_is_stored_once(db_url):
    message = Inbound("telegram", "update-7", "42", "đường ngập")
    with session_scope(db_url) as session:
        assert store_inbound(session, message, NOW) is not None
    with session_scope(db_url) as session:
        assert store_inbound(session, message, NOW) is None
        assert len(list(session.scalars(select(InboxMessage)))) == 1


def queue(db_url, key="k1", text="Dạ, đã tiếp nhận") -> int:
    with session_scope(db_url) as session:
        return queue_outbound(session, Outbound("telegram", "42", text), key, NOW).id


def test_same_dedupe_key_never_makes_a_second_message(db_url):
    assert queue(db_url) == queue(db_url)


def test_temporary_errors_back_off_then_deliver(db_url):
    outbox_id = queue(db_url)
    sender = ScriptedSender([TemporaryError("timeout"), TemporaryError("429", retry_after=30)])
    clock = [NOW]
    assert asyncio.run(deliver_due(sender, db_url, lambda: clock[0])) == 0
    with session_scope(db_url) as session:
        row = session.get(OutboxMessage, outbox_id)
        assert (row.status, row.attempts, row.last_error) == ("pending", 1, "timeout")
        assert row.next_attempt_at == NOW + timedelta(seconds=2)
    # Not due yet: nothing is tried.
    assert asyncio.run(deliver_due(sender, db_url, lambda: clock[0])) == 0
    assert len(sender.failures) == 1
    clock[0] = NOW + timedelta(seconds=2)
    asyncio.run(deliver_due(sender, db_url, lambda: clock[0]))
    with session_scope(db_url) as session:
        row = session.get(OutboxMessage, outbox_id)
        assert row.next_attempt_at == clock[0] + timedelta(seconds=30)  # honours retry_after
    clock[0] += timedelta(seconds=30)
    assert asyncio.run(deliver_due(sender, db_url, lambda: clock[0])) == 1
    with session_scope(db_url) as session:
        row = session.get(OutboxMessage, outbox_id)
        assert (row.status, row.platform_message_id, row.attempts) == ("sent", "m1", 3)
    assert sender.delivered == ["Dạ, đã tiếp nhận"]


def test_permanent_error_stops_with_reason(db_url):
    outbox_id = queue(db_url)
    sender = ScriptedSender([PermanentError("Forbidden: bot was blocked by the user")])
    asyncio.run(deliver_due(sender, db_url, lambda: NOW))
    asyncio.run(deliver_due(sender, db_url, lambda: NOW + timedelta(days=1)))
    with session_scope(db_url) as session:
        row = session.get(OutboxMessage, outbox_id)
        assert row.status == "failed"
        assert row.last_error == "Forbidden: bot was blocked by the user"
        assert row.attempts == 1
    assert sender.delivered == []
