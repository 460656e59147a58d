"""The ticket lifecycle through the service API: legal transitions only, each an audit event
with actor and channel, and the citizen told of every status change."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.core import desk, service
from bot.core.authz import NotAllowed
from bot.core.tickets import IllegalTransition
from bot.store.db import session_scope
from bot.store.models import Officer, OutboxMessage, Ticket, TicketNote
from tests.conftest import BACKENDS
from tests.helpers import context, officer

pytestmark = pytest.mark.parametrize("empty_db_url", BACKENDS, indirect=True)
REPORT = "Đường thôn 3 ngập sâu, cống bị tắc"


def citizen_messages(url: str, recipient: str = "c1") -> list[str]:
    with session_scope(url) as session:
        return [m.text for m in session.scalars(select(OutboxMessage).where(
            OutboxMessage.recipient_external_id == recipient).order_by(OutboxMessage.id))]


def file_report(ctx, sender: str = "web:c1", key: str = "inbox:1") -> str:
    return service.submit_report(sender, REPORT, "thôn 3", key, category="ha_tang",
                                 ctx=ctx).code


def test_full_journey_is_audited_and_told(app_env):
    ctx = context()
    code = file_report(ctx)
    with session_scope(app_env) as session:
        head, clerk = officer(session, "truongkt"), officer(session, "kinhte2")
        desk.accept(session, head, code, ctx, kind="kien_nghi", category="ha_tang")
        desk.assign(session, head, code, ctx, officer_id=clerk.id)
        desk.start_work(session, clerk, code, ctx)
        desk.ask_for_information(session, clerk, code, ctx, "Ông/Bà gửi giúp ảnh chụp cống.")
    service.add_information("web:c1", code, "Cống ở đầu ngõ 4", "inbox:2", ctx=ctx)
    service.add_information("web:c1", code, "Cống ở đầu ngõ 4", "inbox:2", ctx=ctx)  # retried
    with session_scope(app_env) as session:
        desk.resolve(session, officer(session, "kinhte2"), code, ctx, "Đã nạo vét cống ngày 5/3.")
    service.rate("web:c1", code, 5, ctx=ctx)

    with session_scope(app_env) as session:
        ticket = session.scalar(select(Ticket).where(Ticket.code == code))
        assert ticket.status == "closed" and ticket.rating == 5 and ticket.kind == "kien_nghi"
        trail = [(e.action, e.from_status, e.to_status, e.actor_type, e.channel)
                 for e in ticket.events]
        assert trail == [
            ("created", None, "received", "citizen", "web"),
            ("accepted", "received", "accepted", "officer", "desk"),
            ("assigned", "accepted", "assigned", "officer", "desk"),
            ("in_progress", "assigned", "in_progress", "officer", "desk"),
            ("need_info", "in_progress", "need_info", "officer", "desk"),
            ("information_added", "need_info", "in_progress", "citizen", "web"),
            ("resolved", "in_progress", "resolved", "officer", "desk"),
            ("rated", "resolved", "closed", "citizen", "web"),
        ]
        notes = session.scalars(select(TicketNote).order_by(TicketNote.id)).all()
        assert [(n.kind, n.author_type) for n in notes] == [
            ("question", "officer"), ("citizen", "citizen"), ("answer", "officer")]
        # Events keep codes only: the officers' words are in the notes, named by id.
        assert not any(isinstance(v, str) and "cống" in v
                       for e in ticket.events for v in (e.data or {}).values())
    told = citizen_messages(app_env)
    # every status change after the receipt the conversation gave, but for the return from
    # need_info (the conversation says "đã bổ sung vào đơn" itself)
    assert len(told) == 6
    with session_scope(app_env) as session:
        answer = session.scalars(select(OutboxMessage).where(
            OutboxMessage.recipient_external_id == "c1").order_by(OutboxMessage.id)).all()[4]
        assert [b["payload"] for b in answer.buttons] == [
            *(f"rate:{code}:{n}" for n in range(1, 6)), f"not_satisfied:{code}"]
    assert "thụ lý" in told[0] and "cống" in told[3] and "Đã nạo vét" in told[4]


def test_illegal_steps_are_refused(app_env):
    ctx = context()
    code = file_report(ctx)
    with session_scope(app_env) as session:
        with pytest.raises(IllegalTransition):
            desk.resolve(session, officer(session, "kinhte"), code, ctx, "Xong rồi.")
        with pytest.raises(NotAllowed):
            desk.reject(session, officer(session, "kinhte"), code, ctx, "", "UBND xã")
        with pytest.raises(NotAllowed):  # where to turn instead is required
            desk.reject(session, officer(session, "kinhte"), code, ctx, "Không thuộc thẩm quyền",
                        "")
    with pytest.raises(NotAllowed):
        service.rate("web:c1", code, 4, ctx=ctx)  # nothing to rate yet


def test_reopen_restarts_the_resolve_clock(app_env):
    ctx = context()
    code = file_report(ctx)
    with session_scope(app_env) as session:
        clerk = officer(session, "kinhte")
        desk.accept(session, clerk, code, ctx, kind="phan_anh", category="ha_tang")
        desk.resolve(session, clerk, code, ctx, "Đã xử lý.")
        first_due = next(c.due_at for c in desk.load_ticket(session, clerk, code).clocks
                         if c.name == "resolve")
    ctx.clock.advance(days=3)
    with session_scope(app_env) as session:
        ticket = desk.reopen(session, officer(session, "kinhte"), code, ctx, "Dân chưa hài lòng")
        clock = next(c for c in ticket.clocks if c.name == "resolve")
        assert ticket.status == "in_progress" and clock.stopped_at is None
        assert clock.started_at == ctx.clock() and clock.due_at > first_due
    assert "mở lại" in citizen_messages(app_env)[-1]


def test_transfers_keep_a_reason(app_env):
    ctx = context()
    code = file_report(ctx)
    with session_scope(app_env) as session:
        clerk = officer(session, "kinhte")
        desk.transfer_to_unit(session, clerk, code, ctx, "xa-an-binh-vhxh", "Thuộc lĩnh vực y tế")
        ticket = desk.load_ticket(session, officer(session, "vanhoa"), code)
        assert ticket.events[-1].action == "transferred_unit"
        note = session.get(TicketNote, ticket.events[-1].data["note_id"])
        assert (note.kind, note.internal, note.text) == ("reason", True, "Thuộc lĩnh vực y tế")
        assert "Thuộc lĩnh vực y tế" not in str(ticket.events[-1].data)
        assert session.get(Officer, ticket.officer_id).username == "vanhoa"
        with pytest.raises(NotAllowed):  # no longer theirs
            desk.load_ticket(session, clerk, code)
        desk.transfer_outside(session, officer(session, "vanhoa"), code, ctx,
                              "UBND tỉnh", "Vượt thẩm quyền cấp xã")
    assert "UBND tỉnh" in citizen_messages(app_env)[-1]
    with session_scope(app_env) as session, pytest.raises(IllegalTransition):
        desk.start_work(session, officer(session, "vanhoa"), code, ctx)


def test_withdraw_is_idempotent_and_final(app_env):
    ctx = context()
    code = file_report(ctx)
    assert service.withdraw("web:c1", code, ctx=ctx) == "Đã rút"
    assert service.withdraw("web:c1", code, ctx=ctx) == "Đã rút"
    with session_scope(app_env) as session:
        ticket = session.scalar(select(Ticket).where(Ticket.code == code))
        assert [e.action for e in ticket.events] == ["created", "withdrawn"]
        assert all(c.stopped_at is not None for c in ticket.clocks)


def test_citizen_not_satisfied_reopens_and_officer_hears_of_it(app_env):
    from tests.test_escalation import link

    link(app_env, "kinhte", "t-kt")
    link(app_env, "kinhte2", "t-kt2")
    ctx = context()
    code = file_report(ctx)
    with pytest.raises(NotAllowed):
        service.reopen_not_satisfied("web:c1", code, "chưa xong", ctx=ctx)
    with session_scope(app_env) as session:
        ticket = session.scalar(select(Ticket).where(Ticket.code == code))
        owner = session.get(Officer, ticket.officer_id).username
        clerk = officer(session, owner)
        desk.accept(session, clerk, code, ctx, kind="phan_anh", category="ha_tang")
        desk.resolve(session, clerk, code, ctx, "Đã sửa xong.")
    assert service.reopen_not_satisfied("web:c1", code, "Vẫn còn ngập", ctx=ctx) == "Đang xử lý"
    with session_scope(app_env) as session:
        ticket = session.scalar(select(Ticket).where(Ticket.code == code))
        assert (ticket.events[-1].action, ticket.events[-1].actor_type) == ("reopened", "citizen")
        chat = {"kinhte": "t-kt", "kinhte2": "t-kt2"}[owner]
        notices = session.scalars(select(OutboxMessage.text).where(
            OutboxMessage.recipient_external_id == chat))
        assert any("mở lại" in text for text in notices)
