"""Zalo's messaging rules on the OA (bot/channels/zalo_oa_windows.py), with the real sender
against the fake Zalo API on 127.0.0.1 (tests/fake_zalo_oa.py), on SQLite and PostgreSQL:
consultation messages inside the free window, ZNS template messages (or paid consultation
messages) outside it within the monthly cap, otherwise held with the reason until the citizen
writes again (never when their data was erased), and the desk showing the held message."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.channels.base import deliver_due
from bot.core import desk_actions, service
from bot.core.held_messages import HELD_LABEL
from bot.core.messaging import Outbound, queue_outbound, release_held
from bot.settings import Settings
from bot.store.db import session_scope
from bot.store.models import OutboxMessage
from tests.conftest import BACKENDS
from tests.desk_client import desk
from tests.fake_zalo_oa import FakeZaloOA, citizen_wrote, free_port, handled, post, running
from tests.helpers import context, officer

pytestmark = [pytest.mark.parametrize("empty_db_url", BACKENDS, indirect=True),
              pytest.mark.timeout(120)]
USER = "8417318429310496281"
REPORT = "Đường bê tông thôn 3 bị sụt lún một đoạn dài, xe máy đi rất nguy hiểm"
PHONE = "0912 345 678"
ACCEPTED = "Đã thụ lý"


@pytest.fixture
def zalo() -> Iterator[FakeZaloOA]:
    with FakeZaloOA() as server:
        yield server


def rules(zalo: FakeZaloOA, db_url: str, tmp_path, **changes) -> Settings:
    settings = zalo.bot_settings(db_url, tmp_path / "var", free_port())
    return settings.model_copy(update=changes)


def report(phone: str | None = PHONE) -> str:
    """A report of the Zalo citizen (the app_env database), not yet accepted."""
    return service.submit_report(f"zalo:{USER}", REPORT, "Thôn 3", f"r{phone}",
                                 category="ha_tang", phone=phone,
                                 ctx=context(datetime.now(UTC))).code


def accept(db_url: str, code: str) -> OutboxMessage:
    """The officer accepts the ticket: its status push is queued to the citizen."""
    with session_scope(db_url) as session:
        desk_actions.accept(session, officer(session, "truongkt"), code,
                            context(datetime.now(UTC)), kind="phan_anh", category="ha_tang")
    return pushes(db_url)[-1]


def pushes(db_url: str) -> list[OutboxMessage]:
    with session_scope(db_url) as session:
        rows = list(session.scalars(select(OutboxMessage).where(
            OutboxMessage.recipient_external_id == USER).order_by(OutboxMessage.id)))
        session.expunge_all()
        return rows


def row(db_url: str, outbox_id: int) -> OutboxMessage:
    return next(r for r in pushes(db_url) if r.id == outbox_id)


def already_sent(db_url: str, count: int) -> None:
    """`count` consultation messages sent to the citizen just now."""
    now = datetime.now(UTC)
    with session_scope(db_url) as session:
        for number in range(count):
            session.add(OutboxMessage(dedupe_key=f"before:{number}", channel="zalo",
                                      recipient_external_id=USER, text="Dạ.", status="sent",
                                      attempts=1, created_at=now, next_attempt_at=now,
                                      sent_at=now, platform_message_id=f"m{number}"))


def reply(db_url: str, key: str) -> int:
    """A message that is not a status push (an answer of the bot)."""
    with session_scope(db_url) as session:
        return queue_outbound(session, Outbound("zalo", USER, "Dạ, Ông/Bà cần gì thêm ạ?"),
                              key, datetime.now(UTC)).id


def deliver(settings: Settings, db_url: str) -> None:
    async def scenario() -> None:
        async with running(settings) as channel:
            await deliver_due(channel.sender, db_url)

    asyncio.run(scenario())


def ago(**delta: float) -> datetime:
    return datetime.now(UTC) - timedelta(**delta)


def test_inside_the_window_a_push_goes_as_a_consultation_message(zalo, app_env, tmp_path):
    code = report()
    citizen_wrote(app_env, USER, ago(hours=47))
    already_sent(app_env, 7)
    push = accept(app_env, code)
    deliver(rules(zalo, app_env, tmp_path, zalo_zns_template_status="1001",
                  zalo_paid_monthly_cap=10), app_env)
    sent = row(app_env, push.id)
    assert sent.status == "sent" and not sent.platform_message_id.startswith(("zns:", "paid:"))
    assert [m["text"] for m in zalo.sent] == [push.text] and "thụ lý" in push.text
    assert zalo.templates == []


@pytest.mark.parametrize("outside", ["8 free messages", "48 hours"])
def test_outside_the_free_window_a_push_goes_as_zns(zalo, app_env, tmp_path, outside):
    code = report()
    if outside == "48 hours":
        citizen_wrote(app_env, USER, ago(hours=49))
    else:
        citizen_wrote(app_env, USER, ago(hours=1))
        already_sent(app_env, 8)
    push = accept(app_env, code)
    deliver(rules(zalo, app_env, tmp_path, zalo_zns_template_status="1001",
                  zalo_paid_monthly_cap=10), app_env)
    assert zalo.sent == []
    [template] = zalo.templates
    assert (template["phone"], template["template_id"], template["tracking_id"]) == (
        "84912345678", "1001", str(push.id))
    assert template["template_data"] == {"ticket_code": code, "status": ACCEPTED}
    sent = row(app_env, push.id)
    assert sent.status == "sent" and sent.platform_message_id == f"zns:{template['msg_id']}"


@pytest.mark.parametrize("case", ["no cap", "no phone", "no template"])
def test_without_zns_or_paid_messages_a_push_is_held_with_the_reason(zalo, app_env, tmp_path,
                                                                     case):
    code = report(None if case == "no phone" else PHONE)
    citizen_wrote(app_env, USER, ago(days=8) if case != "no cap" else ago(hours=49))
    push = accept(app_env, code)
    template = "" if case == "no template" else "1001"
    cap = 0 if case == "no cap" else 10
    deliver(rules(zalo, app_env, tmp_path, zalo_zns_template_status=template,
                  zalo_paid_monthly_cap=cap), app_env)
    held = row(app_env, push.id)
    assert (held.status, held.attempts, held.sent_at) == ("held", 0, None)
    assert held.last_error.startswith("Zalo window: over 48 h or 8 messages")
    assert ("monthly cap of 0" if case == "no cap" else "past 7 days") in held.last_error
    assert (zalo.send_calls, zalo.sent, zalo.templates) == (0, [], [])


def test_a_held_message_is_released_and_sent_once_when_the_citizen_writes_again(
        zalo, app_env, tmp_path):
    code = report()
    citizen_wrote(app_env, USER, ago(hours=49))
    push = accept(app_env, code)
    settings = rules(zalo, app_env, tmp_path)  # no ZNS, no paid messages
    event = zalo.user_event("user_send_text", USER, text="Đơn của tôi sao rồi?")

    async def scenario() -> None:
        async with running(settings) as channel:
            await deliver_due(channel.sender, app_env)
            assert row(app_env, push.id).status == "held" and zalo.sent == []
            assert await post(settings, event) == 200
            await handled(app_env, event)
            await asyncio.to_thread(zalo.wait_for, lambda m: m["text"] == push.text)
            await deliver_due(channel.sender, app_env)  # nothing more to send

    asyncio.run(scenario())
    assert [m["text"] for m in zalo.sent].count(push.text) == 1
    sent = row(app_env, push.id)
    assert (sent.status, sent.attempts, sent.last_error) == ("sent", 1, None)


def test_the_monthly_cap_stops_paid_messages(zalo, app_env, tmp_path):
    code = report()
    citizen_wrote(app_env, USER, ago(hours=49))
    push = accept(app_env, code)
    settings = rules(zalo, app_env, tmp_path, zalo_zns_template_status="1001",
                     zalo_paid_monthly_cap=2)
    deliver(settings, app_env)  # the push as ZNS: 1 paid
    paid = reply(app_env, "reply:a")
    deliver(settings, app_env)  # within 7 days: a paid consultation message: 2 paid
    capped = reply(app_env, "reply:b")
    deliver(settings, app_env)
    assert row(app_env, push.id).platform_message_id.startswith("zns:")
    assert row(app_env, paid).platform_message_id.startswith("paid:")
    held = row(app_env, capped)
    assert held.status == "held" and "monthly cap of 2 paid messages reached" in held.last_error
    assert len(zalo.templates) == 1 and [m["text"] for m in zalo.sent] == [
        "Dạ, Ông/Bà cần gì thêm ạ?"]


def test_the_desk_ticket_page_shows_a_held_message(zalo, app_env, tmp_path):
    code = report()
    citizen_wrote(app_env, USER, ago(days=3))
    push = accept(app_env, code)
    deliver(rules(zalo, app_env, tmp_path), app_env)
    assert row(app_env, push.id).status == "held"

    async def scenario(login) -> None:
        html = await login("truongkt").page(code)
        assert HELD_LABEL in html and "badge-held" in html
        assert push.text.split("\n")[0][:40] in html

    desk(scenario)


def test_an_erased_citizens_held_message_is_never_sent(zalo, app_env, tmp_path):
    code = report()
    citizen_wrote(app_env, USER, ago(hours=49))
    push = accept(app_env, code)
    deliver(rules(zalo, app_env, tmp_path), app_env)
    service.erase_personal_data(f"zalo:{USER}", ctx=context(datetime.now(UTC)))
    with session_scope(app_env) as session:
        assert release_held(session, "zalo", USER, datetime.now(UTC)) == 0
    erased = row(app_env, push.id)
    assert (erased.status, erased.text) == ("failed", None)
    assert erased.last_error == "erased at the citizen's request"
