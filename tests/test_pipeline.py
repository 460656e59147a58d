"""The channel-neutral pipeline without a Rasa model: what Rasa is allowed to see, and what
happens to a message while Rasa is down (real HTTP to a closed port)."""

from __future__ import annotations

import asyncio
import socket

import pytest
from sqlalchemy import select

from bot.core.messaging import Inbound, Outbound, queue_outbound, store_inbound
from bot.dialogue.pipeline import (
    EMPTY_TEXT,
    FLOOD_LIMIT,
    FLOOD_TEXT,
    MAX_DIALOGUE_TEXT,
    TOO_LONG_TEXT,
    UNAVAILABLE_TEXT,
    Pipeline,
)
from bot.dialogue.rasa_client import RasaClient
from bot.dialogue.turns import dialogue_text
from bot.store.db import session_scope
from bot.store.models import InboxMessage, OutboxMessage
from tests.helpers import NOW


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stored(url: str, text: str | None, sender: str = "u1", button: str = "") -> InboxMessage:
    with session_scope(url) as session:
        payload = {"button": button} if button else {}
        row = store_inbound(session, Inbound("web", f"{sender}:{text}:{button}", sender, text,
                                             payload), NOW)
        session.expunge(row)
        return row


def seen_by_rasa(url: str, row: InboxMessage) -> str:
    with session_scope(url) as session:
        return dialogue_text(session, session.get(InboxMessage, row.id))


def test_typed_text_never_poses_as_an_intent_payload(db_url):
    assert seen_by_rasa(db_url, stored(db_url, '/report{"location":"x"}')) == (
        'report{"location":"x"}')
    assert seen_by_rasa(db_url, stored(db_url, "/start")) == "/greet"
    assert seen_by_rasa(db_url, stored(db_url, "/tracuu KN-2026-000123")) == (
        '/check_status{"ticket_code":"KN-2026-000123"}')


def test_only_buttons_offered_to_this_sender_can_be_pressed(db_url):
    with session_scope(db_url) as session:
        offered = queue_outbound(session, Outbound("web", "u1", "Gửi?", [
            {"title": "Gửi", "payload": "/affirm"}, {"title": "Hủy", "payload": "/cancel"}]),
            "k", NOW).id
    assert seen_by_rasa(db_url, stored(db_url, None, "u1", f"{offered}:1")) == "/cancel"
    assert seen_by_rasa(db_url, stored(db_url, None, "u2", f"{offered}:0")) == ""
    assert seen_by_rasa(db_url, stored(db_url, None, "u1", f"{offered}:5")) == ""


@pytest.mark.timeout(60)
def test_message_waits_while_rasa_is_down_and_citizen_is_told_once(db_url):
    rasa = RasaClient(f"http://127.0.0.1:{closed_port()}", "token", timeout=2)
    pipeline = Pipeline(db_url, rasa, clock=lambda: NOW)
    row = stored(db_url, "đường thôn 3 ngập")

    async def twice() -> None:
        await pipeline.process_inbound(row.id)
        await pipeline.process_inbound(row.id)
        await rasa.aclose()

    asyncio.run(twice())
    with session_scope(db_url) as session:
        inbox = session.get(InboxMessage, row.id)
        assert (inbox.status, inbox.attempts, inbox.last_error) == ("pending", 2, "ConnectError")
        replies = list(session.scalars(select(OutboxMessage)))
        assert [r.text for r in replies] == [UNAVAILABLE_TEXT]


def replies_to(url: str, row: InboxMessage) -> list[str]:
    with session_scope(url) as session:
        return [r.text for r in session.scalars(select(OutboxMessage).where(
            OutboxMessage.in_reply_to == row.id))]


def test_control_characters_never_reach_rasa(db_url):
    assert seen_by_rasa(db_url, stored(db_url, "đường\x00 thôn\u200b 3\x07 ngập\ufeff")) == (
        "đường thôn 3 ngập")


@pytest.mark.timeout(60)
def test_too_long_text_is_kept_and_answered_without_rasa(db_url):
    rasa = RasaClient(f"http://127.0.0.1:{closed_port()}", "token", timeout=2)
    pipeline = Pipeline(db_url, rasa, clock=lambda: NOW)
    letter = "Kính gửi UBND xã. " + "Đường thôn 3 ngập sâu, cống tắc. " * 200
    row = stored(db_url, letter)
    asyncio.run(pipeline.process_inbound(row.id))
    with session_scope(db_url) as session:
        inbox = session.get(InboxMessage, row.id)
        assert inbox.status == "done" and inbox.text == letter  # nothing cut, nothing lost
    assert replies_to(db_url, row) == [TOO_LONG_TEXT.format(length=len(letter.strip()),
                                                            limit=MAX_DIALOGUE_TEXT)]


@pytest.mark.timeout(60)
def test_a_flood_is_kept_told_once_then_dropped_quietly(db_url):
    rasa = RasaClient(f"http://127.0.0.1:{closed_port()}", "token", timeout=2)
    pipeline = Pipeline(db_url, rasa, clock=lambda: NOW)
    rows = [stored(db_url, f"\x00{i}\x00".replace(str(i), "\u200b" * (i + 1)))
            for i in range(FLOOD_LIMIT + 2)]
    other = stored(db_url, "\x00", sender="u2")

    async def all_of_them() -> None:
        for row in [*rows, other]:
            await pipeline.process_inbound(row.id)
        await rasa.aclose()

    asyncio.run(all_of_them())
    answered = [replies_to(db_url, row) for row in rows]
    assert answered[:FLOOD_LIMIT] == [[EMPTY_TEXT]] * FLOOD_LIMIT
    assert answered[FLOOD_LIMIT:] == [[FLOOD_TEXT], []]
    with session_scope(db_url) as session:
        statuses = [session.get(InboxMessage, row.id).status for row in rows]
        assert statuses[FLOOD_LIMIT:] == ["dropped", "dropped"]
    assert replies_to(db_url, other) == [EMPTY_TEXT]  # another sender is not held back


def test_rating_buttons_of_the_core_become_rasa_intents(db_url):
    from bot.core.templates import rating_buttons

    with session_scope(db_url) as session:
        offered = queue_outbound(session, Outbound("web", "u1", "Dạ, đơn đã có kết quả",
                                                   rating_buttons("KN-2026-000007")), "r", NOW).id
    assert seen_by_rasa(db_url, stored(db_url, None, "u1", f"{offered}:4")) == (
        '/rate{"ticket_code":"KN-2026-000007","rating":"5"}')
    assert seen_by_rasa(db_url, stored(db_url, None, "u1", f"{offered}:5")) == (
        '/not_satisfied{"ticket_code":"KN-2026-000007"}')
    assert seen_by_rasa(db_url, stored(db_url, None, "u2", f"{offered}:4")) == ""
