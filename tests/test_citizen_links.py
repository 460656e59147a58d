"""One person, several channels (issue 12): /lienket gives a one-time code on one channel,
/lienket CODE on another links that account to the same citizen (its own tickets move too), and
status pushes then go to the channel the citizen wrote from last. Driven through the real
pipeline; the /lienket hook never needs Rasa (it points at a closed port)."""

from __future__ import annotations

import asyncio
import re
import socket
import uuid

import pytest
from sqlalchemy import select

from bot.core import desk, service
from bot.core.citizen_links import ALL_MAX_FAILURES, MAX_FAILURES
from bot.core.citizens import identity_for
from bot.core.context import CoreContext
from bot.core.messaging import Inbound, store_inbound
from bot.core.notify import notify_event
from bot.dialogue.citizen_link import CHANNEL_NAMES, LINKED_TEXT, REFUSED_TEXTS, USAGE_TEXT
from bot.dialogue.pipeline import Pipeline
from bot.dialogue.rasa_client import RasaClient
from bot.store.db import session_scope
from bot.store.link_models import CitizenLinkCode, CitizenLinkFailure
from bot.store.models import Citizen, OutboxMessage, Ticket, TicketEvent
from tests.conftest import BACKENDS
from tests.helpers import TZ, TestClock, officer

pytestmark = [pytest.mark.parametrize("empty_db_url", BACKENDS, indirect=True),
              pytest.mark.timeout(120)]
REPORT = "Đường thôn 3 ngập sâu, cống bị tắc"
CODE = re.compile(r"là (\d{8}) \(dùng trong 10 phút\)\. Trên kênh kia, Ông/Bà nhắn: /lienket \1$")


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def say(url: str, clock: TestClock, channel: str, user: str, text: str) -> list[str]:
    """The pipeline's replies to one typed message."""
    async def run() -> list[int]:
        rasa = RasaClient(f"http://127.0.0.1:{closed_port()}", "token", timeout=2)
        try:
            with session_scope(url) as session:
                row = store_inbound(session, Inbound(channel, uuid.uuid4().hex, user, text),
                                    clock())
                row_id = row.id
            return await Pipeline(url, rasa, clock=clock).process_inbound(row_id)
        finally:
            await rasa.aclose()

    ids = asyncio.run(run())
    with session_scope(url) as session:
        return [session.get(OutboxMessage, i).text for i in ids]


def ask_code(url: str, clock: TestClock, channel: str = "telegram", user: str = "t1") -> str:
    replies = say(url, clock, channel, user, "/lienket")
    assert len(replies) == 1 and (match := CODE.search(replies[0])), replies
    return match[1]


def file_report(ctx: CoreContext, sender: str, key: str, consent: bool = True) -> str:
    if consent:
        service.record_consent(sender, ctx)
    return service.submit_report(sender, REPORT, "thôn 3", key, category="ha_tang",
                                 ctx=ctx).code


def pushes(url: str, code: str) -> list[tuple[str, str, str]]:
    """(channel, recipient, dedupe key) of the status messages queued to the ticket's citizen."""
    with session_scope(url) as session:
        ticket_id = session.scalar(select(Ticket.id).where(Ticket.code == code))
        return [(r.channel, r.recipient_external_id, r.dedupe_key) for r in session.scalars(
            select(OutboxMessage).where(OutboxMessage.ticket_id == ticket_id,
                                        OutboxMessage.citizen_id.is_not(None))
            .order_by(OutboxMessage.id))]


def my_codes(sender: str) -> set[str]:
    return {summary.code for summary in service.my_tickets(sender)}


def test_linked_channels_share_tickets_and_pushes_follow_the_last_channel(app_env):
    clock = TestClock()
    ctx = CoreContext.build(TZ, "KN", clock)
    on_telegram = file_report(ctx, "telegram:t1", "inbox:1")
    on_zalo = file_report(ctx, "zalo:z1", "inbox:2", consent=False)  # another citizen, so far
    code = ask_code(app_env, clock)
    clock.advance(minutes=2)

    assert say(app_env, clock, "zalo", "z1", f"/lienket {code}") == [
        LINKED_TEXT.format(other=CHANNEL_NAMES["telegram"])]
    assert my_codes("zalo:z1") == my_codes("telegram:t1") == {on_telegram, on_zalo}
    with session_scope(app_env) as session:
        owner = identity_for(session, "telegram", "t1").citizen_id
        assert identity_for(session, "zalo", "z1").citizen_id == owner
        moved = session.scalar(select(Ticket).where(Ticket.code == on_zalo))
        assert moved.citizen_id == owner
        assert [e.action for e in moved.events][-1] == "citizen_linked"
        used = session.scalar(select(CitizenLinkCode))
        assert used.used_at is not None and used.moved_tickets == 1
        assert used.code_hash != code and len(used.code_hash) == 64  # only the hash is kept
        left = session.get(Citizen, used.merged_citizen_id)
        assert left.identities == [] and left.consent_at is None
    # The code is spent: typed again, it is wrong.
    assert say(app_env, clock, "web", "w1", f"/lienket {code}") == [REFUSED_TEXTS["wrong"]]

    clock.advance(minutes=5)  # Zalo was used last: the next status push goes there
    with session_scope(app_env) as session:
        desk.accept(session, officer(session, "truongkt"), on_telegram, ctx, kind="phan_anh",
                    category="ha_tang")
    assert [(c, r) for c, r, _ in pushes(app_env, on_telegram)] == [("zalo", "z1")]

    clock.advance(minutes=5)  # then Telegram again
    assert say(app_env, clock, "telegram", "t1", "/lienket 12") == [USAGE_TEXT]
    with session_scope(app_env) as session:
        desk.resolve(session, officer(session, "truongkt"), on_telegram, ctx, "Đã khơi thông.")
        ticket = session.scalar(select(Ticket).where(Ticket.code == on_telegram))
        accepted = session.scalar(select(TicketEvent).where(
            TicketEvent.ticket_id == ticket.id, TicketEvent.action == "accepted"))
        notify_event(session, ticket, accepted, clock(), TZ)  # a retry sends nothing twice
    sent = pushes(app_env, on_telegram)
    assert [(c, r) for c, r, _ in sent] == [("zalo", "z1"), ("telegram", "t1")]
    assert sent[0][2] == f"event:{accepted.id}:citizen"


def test_wrong_and_expired_codes_are_refused_and_five_wrong_tries_lock(app_env):
    clock = TestClock()
    file_report(CoreContext.build(TZ, "KN", clock), "telegram:t1", "inbox:1")
    code = ask_code(app_env, clock)
    wrong = f"{(int(code) + 1) % 10**8:08d}"

    assert say(app_env, clock, "zalo", "z1", f"/lienket {wrong}") == [REFUSED_TEXTS["wrong"]]
    clock.advance(minutes=11)
    assert say(app_env, clock, "zalo", "z1", f"/lienket {code}") == [REFUSED_TEXTS["wrong"]]

    code = ask_code(app_env, clock)  # a fresh code, but the sender keeps guessing wrong
    wrong = f"{(int(code) + 1) % 10**8:08d}"
    replies = [say(app_env, clock, "zalo", "z2", f"/lienket {wrong}")[0]
               for _ in range(MAX_FAILURES)]
    assert replies == [REFUSED_TEXTS["wrong"]] * (MAX_FAILURES - 1) + [REFUSED_TEXTS["locked"]]
    assert say(app_env, clock, "zalo", "z2", f"/lienket {code}") == [REFUSED_TEXTS["locked"]]
    with session_scope(app_env) as session:
        assert identity_for(session, "zalo", "z2") is None  # nothing linked
        stored = session.scalars(select(CitizenLinkFailure.external_id)).all()
        assert sorted(set(stored)) == ["z1", "z2"]  # kept in the database, per sender

    clock.advance(hours=1, minutes=1)  # the lock lasts an hour
    code = ask_code(app_env, clock)
    assert say(app_env, clock, "zalo", "z2", f"/lienket {code}") == [
        LINKED_TEXT.format(other=CHANNEL_NAMES["telegram"])]


def test_a_code_needs_consent_and_another_account(app_env):
    clock = TestClock()
    file_report(CoreContext.build(TZ, "KN", clock), "web:w1", "inbox:1", consent=False)
    assert say(app_env, clock, "web", "w1", "/lienket") == [REFUSED_TEXTS["consent"]]
    assert say(app_env, clock, "zalo", "new", "/lienket") == [REFUSED_TEXTS["consent"]]

    file_report(CoreContext.build(TZ, "KN", clock), "telegram:t1", "inbox:2")
    code = ask_code(app_env, clock, "telegram", "t1")
    assert say(app_env, clock, "telegram", "t1", f"/lienket {code}") == [REFUSED_TEXTS["same"]]
    assert say(app_env, clock, "web", "w1", f"/LIENKET {code}") == [
        LINKED_TEXT.format(other=CHANNEL_NAMES["telegram"])]


def test_wrong_tries_from_many_senders_lock_linking_for_everyone(app_env):
    """A new web chat session is a new sender: only a cap on everyone's wrong tries keeps a
    live code from being guessed by many senders."""
    clock = TestClock()
    file_report(CoreContext.build(TZ, "KN", clock), "telegram:t1", "inbox:1")
    code = ask_code(app_env, clock)
    wrong = f"{(int(code) + 1) % 10**8:08d}"
    for sender in range(ALL_MAX_FAILURES):
        assert say(app_env, clock, "web", f"guess{sender}", f"/lienket {wrong}")[0] in (
            REFUSED_TEXTS["wrong"], REFUSED_TEXTS["locked"])
    assert say(app_env, clock, "zalo", "z1", f"/lienket {code}") == [REFUSED_TEXTS["locked"]]
    with session_scope(app_env) as session:
        assert identity_for(session, "zalo", "z1") is None
    clock.advance(hours=1, minutes=1)  # the window passes: linking works again
    code = ask_code(app_env, clock)
    assert say(app_env, clock, "zalo", "z1", f"/lienket {code}") == [
        LINKED_TEXT.format(other=CHANNEL_NAMES["telegram"])]
