"""Officers and leaders on Zalo, for real: an invite code sent through the Zalo OA webhook
(tests/fake_zalo_oa.py) or the Zalo Bot Platform webhook (tests/fake_zalo_bot.py) links the
account; a new ticket's notice then goes out on that channel with its quick actions (buttons on
the OA, numbered choices on the Zalo Bot), pressing or typing "Nhận xử lý" accepts the ticket
through the core, and a leader's weekly digest text reaches the linked Zalo account. With several
linked chats, a notice goes to the one the officer wrote from last. Rasa is a closed port: an
officer's message never needs it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.channels.base import deliver_due
from bot.channels.zalo_oa_send import BUTTON_PREFIX
from bot.core.citizens import mark_seen
from bot.core.notices import officer_address, store_notice, ticket_buttons
from bot.core.officers import create_invite, redeem_invite
from bot.dialogue import officer_chat as chat
from bot.dialogue.pipeline import LINKED_TEXT
from bot.jobs.digests import run_weekly
from bot.store.db import session_scope
from bot.store.models import ChannelIdentity, Officer, OutboxMessage, Ticket
from tests.conftest import BACKENDS
from tests.fake_zalo_bot import FakeZaloBot
from tests.fake_zalo_oa import FakeZaloOA, free_port, handled, post, running
from tests.helpers import context, ticket
from tests.test_digest import DUE, WEEK
from tests.test_escalation import link
from tests.test_officer_chat import events, report
from tests.test_zalo_bot import handled as bot_handled
from tests.test_zalo_bot import webhook_bot, webhook_settings

pytestmark = pytest.mark.timeout(180)
OA_USER = "8417318429310496281"  # more digits than a double keeps exactly
BOT_USER = "5841000000000000002"


def invite(db_url: str, username: str) -> str:
    with session_scope(db_url) as session:
        officer = session.scalar(select(Officer).where(Officer.username == username))
        return create_invite(session, officer, datetime.now(UTC))


def officer_rows(db_url: str, recipient: str) -> list[OutboxMessage]:
    """What was queued for this chat account that is not a reply (notices, digests)."""
    with session_scope(db_url) as session:
        rows = list(session.scalars(select(OutboxMessage).where(
            OutboxMessage.recipient_external_id == recipient,
            OutboxMessage.in_reply_to.is_(None)).order_by(OutboxMessage.id)))
        session.expunge_all()
        return rows


# --- which linked chat --------------------------------------------------------------------


@pytest.mark.parametrize("empty_db_url", BACKENDS, indirect=True)
def test_notices_go_to_the_linked_chat_the_officer_wrote_from_last(app_env):
    link(app_env, "kinhte", "7001")  # Telegram, linked at tests.helpers.NOW
    now = datetime.now(UTC)
    with session_scope(app_env) as session:
        officer = session.scalar(select(Officer).where(Officer.username == "kinhte"))
        redeem_invite(session, "zalo", OA_USER, create_invite(session, officer, now), now)
        assert (officer.preferred_channel, officer_address(session, officer).channel) == (
            "telegram", "zalo")  # linking counts as writing
    code = report(now=now)
    [alert] = officer_rows(app_env, OA_USER)
    assert (alert.channel, alert.buttons) == ("zalo", ticket_buttons(code))
    assert officer_rows(app_env, "7001") == []  # one chat only: never two quick actions
    with session_scope(app_env) as session:  # then the officer writes on Telegram
        mark_seen(session, "telegram", "7001", now + timedelta(minutes=5))
    with session_scope(app_env) as session:
        officer = session.get(Officer, alert.officer_id)
        found = session.scalar(select(Ticket).where(Ticket.code == code))
        store_notice(session, officer, found, "reminder", f"Nhắc hạn {code}", "test:remind",
                     now + timedelta(minutes=10), None, ticket_buttons(code))
    [moved] = officer_rows(app_env, "7001")
    assert (moved.channel, moved.text, moved.buttons) == (
        "telegram", f"Nhắc hạn {code}", ticket_buttons(code))
    with session_scope(app_env) as session:
        never = ChannelIdentity(channel="zalo_bot", external_id=BOT_USER, created_at=now,
                                officer_id=alert.officer_id)
        session.add(never)  # a link without a last use sorts after every used one
        session.flush()
        assert officer_address(session, session.get(Officer, alert.officer_id)).channel == (
            "telegram")


# --- Zalo OA: buttons ---------------------------------------------------------------------


def test_officer_links_zalo_oa_gets_the_alert_with_buttons_and_the_button_accepts(
        app_env, tmp_path):
    code_to_link = invite(app_env, "kinhte")
    with FakeZaloOA() as zalo:
        settings = zalo.bot_settings(app_env, tmp_path / "var", free_port())

        async def scenario() -> tuple[str, dict, dict]:
            async with running(settings) as channel:
                linking = zalo.user_event("user_send_text", OA_USER, text=code_to_link)
                assert await post(settings, linking) == 200
                await handled(app_env, linking)
                linked = await asyncio.to_thread(zalo.wait_for,
                                                 lambda m: m["user_id"] == OA_USER)
                code = await asyncio.to_thread(report, now=datetime.now(UTC))
                await deliver_due(channel.sender, app_env)  # the outbox job's work
                alert = await asyncio.to_thread(zalo.wait_for, lambda m: code in m["text"])
                tap = zalo.user_event("user_send_text", OA_USER,
                                      text=alert["buttons"][0]["payload"])
                assert await post(settings, tap) == 200
                await handled(app_env, tap)
                taken = await asyncio.to_thread(
                    zalo.wait_for, lambda m: m["text"].startswith(
                        chat.TAKEN_TEXT.format(code=code)))
                return code, {"linked": linked, "alert": alert}, taken

        code, sent, taken = asyncio.run(scenario())
    assert sent["linked"]["text"] == LINKED_TEXT.format(name="Lê Văn Kinh Tế")
    alert = sent["alert"]
    assert alert["user_id"] == OA_USER and f"/desk/tickets/{code}" in alert["text"]
    [row] = officer_rows(app_env, OA_USER)
    assert [(b["title"], b["payload"]) for b in alert["buttons"]] == [
        ("Nhận xử lý", f"{BUTTON_PREFIX}{row.id}:0"), ("Chi tiết", f"{BUTTON_PREFIX}{row.id}:1")]
    assert "Đã thụ lý: Phản ánh · Hạ tầng" in taken["text"]
    assert ticket(app_env, code).status == "accepted"
    assert events(app_env, code)[-1] == ("accepted", "accepted", "zalo")


# --- Zalo Bot: numbered choices, and the leader's digest ------------------------------------


def test_officer_on_zalo_bot_types_the_number_of_the_quick_action(app_env, tmp_path):
    code_to_link = invite(app_env, "kinhte")
    with FakeZaloBot() as zalo:
        settings = webhook_settings(zalo.bot_settings(app_env, tmp_path / "var"))

        async def scenario() -> tuple[str, str]:
            async with webhook_bot(settings) as bot:
                await say(zalo, app_env, code_to_link)
                code = await asyncio.to_thread(report, now=datetime.now(UTC))
                await deliver_due(bot.sender, app_env)
                alert = await asyncio.to_thread(zalo.wait_for, lambda m: code in m["text"])
                await say(zalo, app_env, "1")  # "1. Nhận xử lý"
                await asyncio.to_thread(zalo.wait_for, lambda m: m["text"].startswith(
                    chat.TAKEN_TEXT.format(code=code)))
                return code, alert["text"]

        code, alert = asyncio.run(scenario())
    assert alert.endswith("\n\n1. Nhận xử lý  2. Chi tiết")
    assert officer_rows(app_env, BOT_USER)[0].buttons[0]["payload"] == f"officer:{chat.TAKE}:{code}"
    assert ticket(app_env, code).status == "accepted"
    assert events(app_env, code)[-1] == ("accepted", "accepted", "zalo_bot")


def test_leaders_weekly_digest_text_goes_to_the_linked_zalo_bot_account(app_env, tmp_path):
    link(app_env, "chutich", "301")  # Telegram first (blocked in Vietnam), then Zalo
    code_to_link = invite(app_env, "chutich")
    with FakeZaloBot() as zalo:
        settings = webhook_settings(zalo.bot_settings(app_env, tmp_path / "var"))

        async def scenario() -> str:
            async with webhook_bot(settings) as bot:
                await say(zalo, app_env, code_to_link)
                result = await asyncio.to_thread(run_weekly, app_env, context(DUE), DUE)
                assert result["weekly_digest"]["notices"] >= 1
                await deliver_due(bot.sender, app_env)
                digest = await asyncio.to_thread(zalo.wait_for,
                                                 lambda m: "/desk/digests/" in m["text"])
                return digest["text"]

        text = asyncio.run(scenario())
    assert f"/desk/digests/{WEEK}?unit=" in text and len(text) <= 2000
    [row] = officer_rows(app_env, BOT_USER)
    assert (row.channel, row.status) == ("zalo_bot", "sent")
    assert officer_rows(app_env, "301") == []  # not also on the Telegram account


async def say(zalo: FakeZaloBot, db_url: str, text: str) -> None:
    """The officer types on the Zalo Bot; returns once the pipeline has handled it."""
    update = zalo.user_says(BOT_USER, text)
    assert await asyncio.to_thread(zalo.deliver_webhook, update) == 200
    await bot_handled(db_url, update)
