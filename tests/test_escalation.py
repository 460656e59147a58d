"""Clock checks with an injected clock: a reminder to the officer at 75%, an escalation to the
unit head and leaders at 100%, each once, in the audit trail and on the officers' chats."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.core.officers import create_invite, redeem_invite
from bot.jobs.clock_checks import check_clocks
from bot.store.db import session_scope
from bot.store.models import Officer, OutboxMessage, Ticket
from tests.conftest import BACKENDS
from tests.helpers import NOW, context, make_ticket

pytestmark = pytest.mark.parametrize("empty_db_url", BACKENDS, indirect=True)


def link(url: str, username: str, chat: str) -> None:
    with session_scope(url) as session:
        officer = session.scalar(select(Officer).where(Officer.username == username))
        code = create_invite(session, officer, NOW)
        redeem_invite(session, "telegram", chat, code, NOW)


def messages_to(url: str, chat: str) -> list[str]:
    with session_scope(url) as session:
        return [m.text for m in session.scalars(select(OutboxMessage).where(
            OutboxMessage.recipient_external_id == chat).order_by(OutboxMessage.id))]


def test_reminder_then_escalation_each_once(db_url):
    for username, chat in (("kinhte", "101"), ("kinhte2", "102"), ("truongkt", "201"),
                           ("chutich", "301")):
        link(db_url, username, chat)
    ctx = context()
    code = make_ticket(db_url, category="ha_tang")
    with session_scope(db_url) as session:
        ticket = session.scalar(select(Ticket).where(Ticket.code == code))
        owner = session.get(Officer, ticket.officer_id).username
        accept = next(c for c in ticket.clocks if c.name == "accept")
        started, due = accept.started_at, accept.due_at
    owner_chat = {"kinhte": "101", "kinhte2": "102"}[owner]
    assert messages_to(db_url, owner_chat)[0].startswith(f"Đơn mới {code}")

    def run_at(share: float) -> dict:
        ctx.clock.now = started + (due - started) * share
        with session_scope(db_url) as session:
            return check_clocks(session, ctx)

    assert run_at(0.70) == {"reminded": 0, "escalated": 0}
    assert run_at(0.76) == {"reminded": 1, "escalated": 0}
    assert run_at(0.90) == {"reminded": 0, "escalated": 0}
    assert messages_to(db_url, owner_chat)[-1].startswith(f"Nhắc việc: đơn {code}")
    assert run_at(1.01) == {"reminded": 0, "escalated": 1}
    assert run_at(1.50) == {"reminded": 0, "escalated": 0}
    for chat in ("201", "301"):  # unit head of Phòng Kinh tế, leader of the commune
        assert [m for m in messages_to(db_url, chat) if m.startswith("Quá hạn")] == [
            messages_to(db_url, chat)[-1]]
    with session_scope(db_url) as session:
        actions = [e.action for e in session.scalar(
            select(Ticket).where(Ticket.code == code)).events]
        assert actions == ["created", "clock_reminder", "clock_escalation"]


def test_stopped_and_paused_clocks_are_left_alone(db_url):
    ctx = context()
    make_ticket(db_url, category="ha_tang", kind="khieu_nai")
    ctx.clock.advance(days=365)
    with session_scope(db_url) as session:
        for ticket in session.scalars(select(Ticket)):
            for clock in ticket.clocks:
                clock.stopped_at = NOW
        assert check_clocks(session, ctx) == {"reminded": 0, "escalated": 0}


def test_a_reopened_tickets_new_period_is_reminded_again(db_url):
    from bot.core import desk
    from bot.core.authz import Caller

    ctx = context()
    code = make_ticket(db_url, category="ha_tang")
    with session_scope(db_url) as session:
        ticket = session.scalar(select(Ticket).where(Ticket.code == code))
        owner = session.get(Officer, ticket.officer_id)
        link_chat = {"kinhte": "101", "kinhte2": "102"}[owner.username]
        clerk = Caller.officer(owner.id)
        desk.accept(session, clerk, code, ctx, kind="phan_anh", category="ha_tang")
    link(db_url, owner.username, link_chat)

    def reminders() -> list[str]:
        return [m for m in messages_to(db_url, link_chat) if m.startswith("Nhắc việc")]

    def run_at_share(share: float) -> dict:
        with session_scope(db_url) as session:
            clock = next(c for c in session.scalar(select(Ticket).where(
                Ticket.code == code)).clocks if c.name == "resolve")
            ctx.clock.now = clock.started_at + (clock.due_at - clock.started_at) * share
            return check_clocks(session, ctx)

    assert run_at_share(0.8) == {"reminded": 1, "escalated": 0}
    with session_scope(db_url) as session:
        desk.resolve(session, clerk, code, ctx, "Đã xử lý xong.")
    ctx.clock.advance(days=2)
    with session_scope(db_url) as session:
        desk.reopen(session, clerk, code, ctx, "Người dân báo còn tắc")
    assert run_at_share(0.8) == {"reminded": 1, "escalated": 0}
    assert len(reminders()) == 2  # the second period's reminder is queued, not deduplicated
    with session_scope(db_url) as session:
        keys = session.scalars(select(OutboxMessage.dedupe_key).where(
            OutboxMessage.dedupe_key.like("clock:%"))).all()
        assert len(set(keys)) == 2


def test_an_extended_denunciation_deadline_is_reminded_and_escalated_again(db_url):
    from bot.core import desk
    from bot.core.authz import Caller

    link(db_url, "chutich", "301")
    ctx = context()
    code = make_ticket(db_url, "Tố cáo cán bộ nhận tiền", category="can_bo", kind="to_cao")
    with session_scope(db_url) as session:
        handler = Caller.officer(session.scalar(
            select(Officer.id).where(Officer.username == "chutich")))
        desk.accept(session, handler, code, ctx, kind="to_cao", category="can_bo")
    ctx.clock.advance(days=31)
    with session_scope(db_url) as session:
        assert check_clocks(session, ctx) == {"reminded": 0, "escalated": 1}
        desk.extend_resolve_clock(session, handler, code, ctx, 30, "01/QĐ-UBND",
                                  "Cần xác minh thêm")
    ctx.clock.advance(days=20)  # 51 of 60 days
    with session_scope(db_url) as session:
        assert check_clocks(session, ctx) == {"reminded": 1, "escalated": 0}
    ctx.clock.advance(days=10)
    with session_scope(db_url) as session:
        assert check_clocks(session, ctx) == {"reminded": 0, "escalated": 1}
    overdue = [m for m in messages_to(db_url, "301") if m.startswith("Quá hạn")]
    assert len(overdue) == 2  # one per period of the clock
