"""Notices to officers on a real database (SQLite and PostgreSQL): every notice is stored on the
desk with an unread count, whatever happens to its deliveries (push, e-mail, chat; each held
with the reason when it cannot go); chat notices carry the quick-action buttons; each carries
code, category, place, deadline and link. Citizens hear officers' texts from the notes, and the
reporters of tickets linked as duplicates hear the master's status messages."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.core import desk, notices, service
from bot.core.authz import Caller
from bot.core.notices import HELD_NO_CHAT, HELD_NO_EMAIL, HELD_NO_SMTP, HELD_PUSH
from bot.jobs.clock_checks import check_clocks
from bot.store.db import session_scope
from bot.store.desk_models import NoticeDelivery, OfficerNotice, PushSubscription
from bot.store.models import ChannelIdentity, Officer, OutboxMessage, Ticket
from tests.conftest import BACKENDS
from tests.helpers import NOW, context

pytestmark = pytest.mark.parametrize("empty_db_url", BACKENDS, indirect=True)
REPORT = "Cống thoát nước đầu ngõ 4 bị tắc, nước tràn ra đường"


def officer(session, username: str) -> Officer:
    return session.scalar(select(Officer).where(Officer.username == username))


def file_report(ctx, sender: str = "web:c1", key: str = "inbox:1", text: str = REPORT,
                **kwargs) -> str:
    return service.submit_report(sender, text, "Thôn 3", key, ctx=ctx,
                                 **{"category": "ha_tang", **kwargs}).code


def ticket_of(session, code: str) -> Ticket:
    return session.scalar(select(Ticket).where(Ticket.code == code))


def deliveries(session, notice: OfficerNotice) -> dict[str, NoticeDelivery]:
    return {d.via: d for d in notices.deliveries_of(session, notice.id)}


def notice_kinds(session, username: str) -> list[str]:
    return [n.kind for n in reversed(notices.list_notices(session, officer(session, username).id))]


def told(url: str, recipient: str) -> list[OutboxMessage]:
    with session_scope(url) as session:
        rows = list(session.scalars(select(OutboxMessage).where(
            OutboxMessage.recipient_external_id == recipient).order_by(OutboxMessage.id)))
        session.expunge_all()
        return rows


def test_new_ticket_notice_is_on_the_desk_with_unread_count_1_and_chat_held(app_env,
                                                                              monkeypatch):
    monkeypatch.setenv("PUBLIC_URL", "https://nghedan.example.vn")
    code = file_report(context())
    with session_scope(app_env) as session:
        ticket = ticket_of(session, code)
        owner = session.get(Officer, ticket.officer_id)  # no linked chat, no push, no e-mail
        assert notices.unread_count(session, owner.id) == 1
        [notice] = notices.list_notices(session, owner.id)
        assert (notice.kind, notice.ticket_id) == ("new", ticket.id)
        link = f"https://nghedan.example.vn/desk/tickets/{code}"
        assert notice.link == link
        accept_due = next(c for c in ticket.clocks if c.name == "accept").due_at
        for part in (code, "Hạ tầng", "Thôn 3", accept_due.astimezone(context().tz)
                     .strftime("%H:%M ngày %d/%m/%Y"), link):
            assert part in notice.text
        sent = deliveries(session, notice)
        assert {via: (d.status, d.last_error) for via, d in sent.items()} == {
            "push": ("held", HELD_PUSH), "email": ("held", HELD_NO_SMTP),
            "chat": ("held", HELD_NO_CHAT)}
        assert session.scalars(select(OutboxMessage).where(
            OutboxMessage.officer_id.is_not(None))).all() == []


def test_chat_notice_is_queued_with_take_and_show_buttons(app_env):
    with session_scope(app_env) as session:
        for username, chat in (("kinhte", "101"), ("kinhte2", "102")):
            session.add(ChannelIdentity(channel="telegram", external_id=chat,
                                        officer_id=officer(session, username).id))
    code = file_report(context())
    with session_scope(app_env) as session:
        owner = session.get(Officer, ticket_of(session, code).officer_id)
        chat = {"kinhte": "101", "kinhte2": "102"}[owner.username]
        [notice] = notices.list_notices(session, owner.id)
        delivery = deliveries(session, notice)["chat"]
        assert delivery.status == "queued"
    [row] = told(app_env, chat)
    assert row.id == delivery.outbox_id and row.channel == "telegram"
    assert row.text.startswith(f"Đơn mới {code}") and f"/desk/tickets/{code}" in row.text
    assert row.buttons == [{"title": "Nhận xử lý", "payload": f"officer:take:{code}"},
                           {"title": "Chi tiết", "payload": f"officer:show:{code}"}]


def test_push_and_email_are_pending_with_a_subscription_and_smtp(app_env, monkeypatch):
    monkeypatch.setenv("SMTP_HOST", "127.0.0.1")
    with session_scope(app_env) as session:
        for username in ("kinhte", "kinhte2"):
            clerk = officer(session, username)
            clerk.email = f"{username}@anbinh.gov.vn"
            session.add(PushSubscription(officer_id=clerk.id, endpoint=f"https://push/{username}",
                                         p256dh="k", auth="a"))
        officer(session, "truongkt").email = None
    code = file_report(context())
    with session_scope(app_env) as session:
        ticket = ticket_of(session, code)
        [notice] = notices.list_notices(session, ticket.officer_id)
        assert {v: d.status for v, d in deliveries(session, notice).items()} == {
            "push": "pending", "email": "pending", "chat": "held"}
        head = officer(session, "truongkt")
        again = notices.store_notice(session, head, ticket, "reminder", "Nhắc việc", "k:1", NOW,
                                     None)
        assert deliveries(session, again)["email"].last_error == HELD_NO_EMAIL


def test_store_notice_is_idempotent_per_dedupe_key(db_url):
    with session_scope(db_url) as session:
        head = officer(session, "truongkt")
        first = notices.store_notice(session, head, None, "digest", "Tổng hợp", "digest:1", NOW,
                                     None)
        second = notices.store_notice(session, head, None, "digest", "Tổng hợp", "digest:1", NOW,
                                      None)
        assert first.id == second.id
        assert len(session.scalars(select(NoticeDelivery)).all()) == 3
        with pytest.raises(ValueError):
            notices.store_notice(session, head, None, "gossip", "?", "x", NOW, None)


def test_mark_read_one_then_all_never_another_officers(db_url):
    with session_scope(db_url) as session:
        head, clerk = officer(session, "truongkt"), officer(session, "kinhte")
        mine = [notices.store_notice(session, head, None, "digest", f"n{i}", f"d:{i}", NOW, None)
                for i in range(3)]
        theirs = notices.store_notice(session, clerk, None, "digest", "x", "d:x", NOW, None)
        assert notices.mark_read(session, head.id, theirs.id, NOW) == 0
        assert notices.mark_read(session, head.id, mine[0].id, NOW) == 1
        assert notices.unread_count(session, head.id) == 2
        assert notices.mark_read(session, head.id, None, NOW) == 2
        assert (notices.unread_count(session, head.id), notices.unread_count(session, clerk.id)) \
            == (0, 1)


def test_every_officer_notice_goes_through_the_desk(app_env):
    """new, assigned, citizen answered, reopened, reminder and escalation: all stored, for
    officers with no linked chat; the officer who acted is not told of their own step."""
    ctx = context()
    code = file_report(ctx)
    with session_scope(app_env) as session:
        head = Caller.officer(officer(session, "truongkt").id)
        first = session.get(Officer, ticket_of(session, code).officer_id).username
        other = {"kinhte": "kinhte2", "kinhte2": "kinhte"}[first]
        desk.accept(session, head, code, ctx, kind="phan_anh", category="ha_tang")
        desk.assign(session, head, code, ctx, officer_id=officer(session, other).id)
        clerk = Caller.officer(officer(session, other).id)
        desk.ask_for_information(session, clerk, code, ctx, "Ông/Bà gửi giúp ảnh cống.")
    service.add_information("web:c1", code, "Ảnh đây ạ", "inbox:2", ctx=ctx)
    with session_scope(app_env) as session:
        desk.resolve(session, clerk, code, ctx, "Đã nạo vét cống.")
    service.reopen_not_satisfied("web:c1", code, "Vẫn tắc", ctx=ctx, escalate=True)
    ctx.clock.advance(days=60)
    with session_scope(app_env) as session:
        check_clocks(session, ctx)
    with session_scope(app_env) as session:
        assert notice_kinds(session, first) == ["new"]
        assert notice_kinds(session, other) == ["assigned", "citizen_answered", "reopened"]
        assert notice_kinds(session, "truongkt") == ["escalated", "escalated"]
        assert notice_kinds(session, "chutich") == ["escalated", "escalated"]
        assert all(f"/desk/tickets/{code}" in n.text
                   for n in session.scalars(select(OfficerNotice)))


def test_a_ticket_without_officer_reaches_every_active_officer_of_its_unit(app_env):
    ctx = context()
    code = file_report(ctx)
    with session_scope(app_env) as session:
        desk.transfer_to_unit(session, Caller.officer(officer(session, "truongkt").id), code,
                              ctx, "xa-an-binh-vp", "Thuộc văn phòng")
        assert notice_kinds(session, "tiepnhan") == ["assigned"]  # the least loaded there
        ticket_of(session, code).officer_id = None  # nobody assigned any more
        desk.add_note(session, Caller.officer(officer(session, "chanhvp").id), code, ctx,
                      "Chờ phân công lại")
        officer(session, "motcua").unit_id = ticket_of(session, code).unit_id
        officer(session, "motcua").active = False
    service.add_information("web:c1", code, "Thêm ảnh ạ", "inbox:2", ctx=ctx)
    with session_scope(app_env) as session:
        assert notice_kinds(session, "tiepnhan") == ["assigned", "citizen_answered"]
        assert notice_kinds(session, "chanhvp") == ["citizen_answered"]
        assert notice_kinds(session, "motcua") == []  # inactive


def test_a_to_cao_notice_reaches_only_those_allowed_and_hides_the_place(app_env):
    ctx = context()
    code = file_report(ctx, kind="to_cao", category="can_bo")
    with session_scope(app_env) as session:
        ticket = ticket_of(session, code)
        assert ticket.confidential
        stored = list(session.scalars(select(OfficerNotice).where(
            OfficerNotice.ticket_id == ticket.id)))
        assert {session.get(Officer, n.officer_id).username for n in stored} == {"chutich"}
        assert "Thôn 3" not in stored[0].text and "bảo mật" in stored[0].text


def test_citizen_hears_the_officers_question_reply_and_answer_from_the_notes(app_env):
    ctx = context()
    code = file_report(ctx)
    with session_scope(app_env) as session:
        clerk = Caller.officer(ticket_of(session, code).officer_id)
        desk.reply(session, clerk, code, ctx, "Ngày mai cán bộ tới kiểm tra ạ.")
        desk.accept(session, clerk, code, ctx, kind="phan_anh", category="ha_tang")
        desk.ask_for_information(session, clerk, code, ctx, "Cống ở số nhà nào ạ?")
    service.add_information("web:c1", code, "Số 12", "inbox:2", ctx=ctx)
    with session_scope(app_env) as session:
        desk.resolve(session, clerk, code, ctx, "Đã thông cống, nước đã rút.")
        texts = [e.data for e in ticket_of(session, code).events]
    said = [m.text for m in told(app_env, "c1")]
    assert any("Ngày mai cán bộ tới kiểm tra ạ." in t for t in said)
    assert any("Cống ở số nhà nào ạ?" in t for t in said)
    assert any("Đã thông cống, nước đã rút." in t for t in said)
    flat = repr(texts)
    assert "Ngày mai" not in flat and "số nhà" not in flat and "thông cống" not in flat


def test_reporters_of_linked_duplicates_receive_the_masters_status_messages(app_env):
    ctx = context()
    master = file_report(ctx, "web:c1", "inbox:1")
    copy = file_report(ctx, "web:c2", "inbox:2", text="Cống đầu ngõ 4 tắc, nước tràn")
    with session_scope(app_env) as session:
        head = Caller.officer(officer(session, "truongkt").id)
        desk.link_duplicate(session, head, copy, ctx, of_code=master)
        desk.accept(session, head, master, ctx, kind="phan_anh", category="ha_tang")
        desk.resolve(session, head, master, ctx, "Đã nạo vét cống đầu ngõ 4.")
    to_copy = told(app_env, "c2")
    assert [m.ticket_id for m in to_copy] == [to_copy[0].ticket_id] * 3  # about their own ticket
    assert to_copy[0].text.startswith(f"Dạ, đơn {copy} của Ông/Bà phản ánh cùng sự việc")
    assert to_copy[1].text.startswith(f"Dạ, đơn {copy} đã được thụ lý")
    assert "Đã nạo vét cống đầu ngõ 4." in to_copy[2].text and master in to_copy[2].text
    assert to_copy[2].buttons == []  # nothing of theirs to rate
    to_master = told(app_env, "c1")
    assert to_master[-1].buttons and all(copy not in m.text for m in to_master)
