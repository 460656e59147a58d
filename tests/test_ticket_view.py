"""The ticket page as data: words, place and map link, clocks with time left in working days,
days or hours, a Vietnamese timeline, the conversation apart from internal notes, duplicates,
documents, attachments, what the caller may do now; a tố cáo is "not found" for others and its
denouncer's identity and access log stay with the handlers; every look at identity is logged."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import delete, func, select

from bot.core import desk, service
from bot.core.admin import create_template
from bot.core.authz import Caller, NotAllowed
from bot.core.desk import TicketNotFound
from bot.core.ticket_view import VIEW_PURPOSE, clock_view, ticket_page
from bot.core.tickets import update_fields
from bot.store.db import session_scope
from bot.store.desk_models import AnswerTemplate
from bot.store.models import Attachment, Citizen, DataAccessLog, Officer, Ticket, TicketClock
from tests.conftest import BACKENDS
from tests.helpers import NOW, OFFICER, TZ, context, make_ticket

pytestmark = pytest.mark.parametrize("empty_db_url", BACKENDS, indirect=True)
THRESHOLD = 0.35


def as_(session, username: str) -> Caller:
    return Caller.officer(session.scalar(select(Officer).where(Officer.username == username)).id)


def page(url: str, username: str, code: str, now=NOW):
    with session_scope(url) as session:
        return ticket_page(session, as_(session, username), code, context(now), THRESHOLD)


def citizen(url: str, name: str = "Nguyễn Văn Dân", phone: str = "0912345678") -> int:
    with session_scope(url) as session:
        person = Citizen(display_name=name, phone=phone, created_at=NOW)
        session.add(person)
        session.flush()
        return person.id


def test_page_shows_words_place_map_clock_and_what_can_be_done(db_url):
    code = make_ticket(db_url, "Đường thôn 3 ngập sâu, xe không qua được", key="a",
                       category="ha_tang", location_text="đầu thôn 3", latitude=16.75,
                       longitude=107.18, nlu_confidence=0.82, predicted_category="ha_tang",
                       citizen_id=citizen(db_url))
    view = page(db_url, "kinhte", code, now=NOW + timedelta(hours=1))
    assert (view.text, view.location_text, view.area_name) == (
        "Đường thôn 3 ngập sâu, xe không qua được", "đầu thôn 3", "Thôn 3")
    assert view.map_url == ("https://www.openstreetmap.org/?mlat=16.750000&mlon=107.180000"
                            "#map=17/16.750000/107.180000")
    assert (view.status_label, view.kind_label, view.category_label, view.confidence) == (
        "Đã tiếp nhận", "Phản ánh", "Hạ tầng, giao thông, điện nước", 0.82)
    assert view.unit_name == "Phòng Kinh tế" and view.officer_name == "Lê Văn Kinh Tế"
    [clock] = view.clocks
    assert (clock.label, clock.unit_label, clock.left_text) == (
        "Thời hạn thụ lý", "ngày làm việc", "còn 10 ngày làm việc")
    assert clock.due_local == "16/03/2026 23:59" and not clock.overdue
    assert [(e.actor_label, e.action_label) for e in view.events] == [
        ("Người dân", "Tiếp nhận đơn")]
    assert [(m.kind, m.text) for m in view.conversation] == [
        ("report", "Đường thôn 3 ngập sâu, xe không qua được")]
    assert {"accept", "reject", "ask", "reply", "note", "transfer", "assign", "link"} <= set(
        view.actions)
    assert not {"resolve", "reopen", "extend", "clear_urgent"} & set(view.actions)
    assert ("Lê Văn Kinh Tế" in dict(view.unit_officers).values()
            and "xa-an-binh-kinh-te" not in dict(view.units))
    assert view.citizen_name == "Nguyễn Văn Dân" and view.citizen_phone == "0912345678"


def test_conversation_holds_citizen_and_officer_messages_notes_stay_internal(app_env):
    ctx = context()
    code = service.submit_report("telegram:7", "Cột điện nghiêng sắp đổ ở thôn 1", "thôn 1",
                                 "k1", category="ha_tang", ctx=ctx).code
    with session_scope(app_env) as session:
        me = as_(session, "kinhte")
        desk.accept(session, me, code, ctx, kind="phan_anh", category="ha_tang")
        desk.ask_for_information(session, me, code, ctx, question="Cột số mấy ạ?")
    service.add_information("telegram:7", code, "Cột số 12 gần nhà văn hóa", "k2", ctx=ctx)
    with session_scope(app_env) as session:
        me = as_(session, "kinhte")
        desk.reply(session, me, code, ctx, text="Dạ, điện lực sẽ đến trong chiều nay.")
        desk.add_note(session, me, code, ctx, text="Đã gọi điện lực, chờ xe thang.")
    view = page(app_env, "kinhte", code)
    assert [(m.kind, m.who, m.text) for m in view.conversation] == [
        ("report", "Người dân", "Cột điện nghiêng sắp đổ ở thôn 1"),
        ("question", "Lê Văn Kinh Tế", "Cột số mấy ạ?"),
        ("citizen", "Người dân", "Cột số 12 gần nhà văn hóa"),
        ("reply", "Lê Văn Kinh Tế", "Dạ, điện lực sẽ đến trong chiều nay."),
    ]
    assert [(m.kind, m.text) for m in view.internal_notes] == [
        ("note", "Đã gọi điện lực, chờ xe thang.")]
    labels = [e.action_label for e in view.events]
    assert labels[:2] == ["Tiếp nhận đơn", "Thụ lý"]
    assert {"Đề nghị người dân bổ sung thông tin", "Người dân bổ sung thông tin",
            "Trả lời người dân", "Ghi chú nội bộ"} <= set(labels)
    assert [c.name for c in view.clocks] == ["accept", "resolve"]
    assert view.clocks[0].left_text == "đã xong, đúng hạn" and view.clocks[0].stopped
    assert view.clocks[1].left_text == "còn 7 ngày làm việc"
    assert "resolve" in view.actions and "accept" not in view.actions


def test_time_left_in_working_days_calendar_days_and_hours(db_url):
    ctx = context()

    def left(unit: str, due, paused=None, stopped=None, now=NOW) -> tuple[str, bool]:
        clock = TicketClock(name="accept", unit=unit, length=1, source="", started_at=NOW,
                            due_at=due, paused_at=paused, stopped_at=stopped, extensions=0)
        view = clock_view(clock, now, ctx)
        return view.left_text, view.overdue

    end_of = ctx.clocks.calendar.add_working_days  # end of the n-th working day after NOW
    assert left("working_days", end_of(NOW, 3, TZ)) == ("còn 3 ngày làm việc", False)
    assert left("working_days", end_of(NOW, 0, TZ)) == ("hết hạn trong hôm nay", False)
    assert left("working_days", end_of(NOW - timedelta(days=7), 1, TZ)) == (
        "quá hạn 4 ngày làm việc", True)
    assert left("calendar_days", NOW + timedelta(days=5)) == ("còn 5 ngày", False)
    assert left("calendar_days", NOW - timedelta(days=2)) == ("quá hạn 2 ngày", True)
    assert left("hours", NOW + timedelta(hours=3, minutes=10)) == ("còn 4 giờ", False)
    assert left("hours", NOW - timedelta(hours=2)) == ("quá hạn 2 giờ", True)
    assert left("calendar_days", NOW + timedelta(days=5), paused=NOW - timedelta(days=1)) == (
        "tạm dừng, còn 6 ngày", False)
    assert left("hours", NOW, stopped=NOW - timedelta(hours=1)) == ("đã xong, đúng hạn", False)
    assert left("hours", NOW - timedelta(hours=2), stopped=NOW) == ("đã xong, trễ hạn", True)


def test_denunciation_is_not_found_for_others_and_identity_only_for_handlers(db_url):
    code = make_ticket(db_url, "Tố cáo cán bộ địa chính nhận tiền", key="a", category="can_bo",
                       kind="to_cao", citizen_id=citizen(db_url, "Trần Thị Tố"))
    for username in ("kinhte", "quantri", "truongkt", "tiepnhan"):
        with pytest.raises(TicketNotFound):
            page(db_url, username, code)
    handler = page(db_url, "chutich", code)
    assert handler.citizen_name == "Trần Thị Tố" and not handler.identity_hidden
    assert [a.actor_label for a in handler.access_log] == ["Phạm Văn Chủ Tịch"]
    assert handler.duplicate_candidates == [] and "link" not in handler.actions
    with session_scope(db_url) as session:  # assigned to an officer without the role
        ticket = session.scalar(select(Ticket).where(Ticket.code == code))
        kt = session.scalar(select(Officer).where(Officer.username == "kinhte"))
        update_fields(session, ticket, OFFICER, context(), officer_id=kt.id)
    assigned = page(db_url, "kinhte", code)
    assert assigned.identity_hidden and assigned.citizen_name is None
    assert assigned.citizen_phone is None and assigned.access_log == []
    assert assigned.text == "Tố cáo cán bộ địa chính nhận tiền"
    with session_scope(db_url) as session:
        assert session.scalar(select(func.count()).select_from(DataAccessLog)) == 1


def test_showing_identity_is_logged_and_listed(db_url):
    code = make_ticket(db_url, "Đèn đường hỏng", key="a", category="ha_tang",
                       citizen_id=citizen(db_url))
    page(db_url, "kinhte", code)
    view = page(db_url, "truongkt", code, now=NOW + timedelta(minutes=5))
    assert [(a.actor_label, a.purpose) for a in view.access_log] == [
        ("Lê Văn Kinh Tế", VIEW_PURPOSE), ("Đặng Văn Trưởng Phòng", VIEW_PURPOSE)]
    with session_scope(db_url) as session:
        with pytest.raises(TicketNotFound):  # another unit's ticket
            ticket_page(session, as_(session, "congan"), code, context(), THRESHOLD)
        with pytest.raises(TicketNotFound):
            ticket_page(session, as_(session, "kinhte"), "KN-2026-999999", context(), THRESHOLD)
        with pytest.raises(NotAllowed):
            ticket_page(session, Caller.citizen(1, "web"), code, context(), THRESHOLD)
        assert session.scalar(select(func.count()).select_from(DataAccessLog)) == 2


def test_duplicate_candidates_and_links_shown_never_for_khieu_nai(db_url):
    first = make_ticket(db_url, "Đường thôn 3 bị ngập sâu sau mưa, xe máy không đi được",
                        key="a", category="ha_tang", location_text="thôn 3")
    again = make_ticket(db_url, "Mưa xong đường ở thôn 3 ngập nặng, xe máy không qua được",
                        key="b", category="ha_tang", location_text="thôn 3")
    view = page(db_url, "kinhte", again)
    assert [c.code for c in view.duplicate_candidates] == [first]
    ctx = context()
    with session_scope(db_url) as session:
        desk.link_duplicate(session, as_(session, "truongkt"), again, ctx, of_code=first)
    linked = page(db_url, "truongkt", again)
    assert linked.duplicate_of == first and linked.duplicate_candidates == []
    assert "link" not in linked.actions
    assert page(db_url, "truongkt", first).linked == [again]
    complaint = make_ticket(db_url, "Đường thôn 3 bị ngập sâu sau mưa, xe máy không đi được",
                            key="c", category="ha_tang", kind="khieu_nai",
                            location_text="thôn 3")
    view = page(db_url, "truongkt", complaint)
    assert view.duplicate_candidates == [] and "link" not in view.actions


def test_actions_follow_status_and_kind(db_url):
    ctx = context()
    urgent = make_ticket(db_url, "Cây đổ chắn đường", key="a", category="ha_tang", urgent=True)
    view = page(db_url, "kinhte", urgent)
    assert "clear_urgent" in view.actions and view.urgent
    assert view.clocks[0].unit_label == "giờ" and view.clocks[0].left_text == "còn 4 giờ"
    with session_scope(db_url) as session:
        me = as_(session, "kinhte")
        desk.accept(session, me, urgent, ctx, kind="phan_anh", category="ha_tang")
        desk.resolve(session, me, urgent, ctx, answer="Dạ, đã dọn cây.")
    done = page(db_url, "kinhte", urgent)
    assert "reopen" in done.actions and not {"resolve", "accept", "assign"} & set(done.actions)
    assert done.conversation[-1].kind == "answer"
    secret = make_ticket(db_url, "Tố cáo nhận hối lộ", key="b", category="can_bo",
                         kind="to_cao")
    with session_scope(db_url) as session:
        desk.accept(session, as_(session, "chutich"), secret, ctx, kind="to_cao",
                    category="can_bo")
    assert "extend" in page(db_url, "chutich", secret).actions
    other = make_ticket(db_url, "Ổ gà", key="c", category="ha_tang")
    with session_scope(db_url) as session:
        holder = session.get(Officer, session.scalar(
            select(Ticket.officer_id).where(Ticket.code == other))).username
    colleague = {"kinhte": "kinhte2", "kinhte2": "kinhte"}[holder]
    assert "assign" in page(db_url, holder, other).actions
    assert "assign" not in page(db_url, colleague, other).actions  # not theirs, not a head
    assert "assign" in page(db_url, "truongkt", other).actions


def test_attachments_documents_and_answer_templates_listed(db_url):
    ctx = context()
    code = make_ticket(db_url, "Rác thải ven sông", key="a", category="moi_truong")
    with session_scope(db_url) as session:
        ticket = session.scalar(select(Ticket).where(Ticket.code == code))
        photo = Attachment(ticket_id=ticket.id, media_type="photo", content_type="image/jpeg",
                           storage_key="ab/cd", size_bytes=1200, sha256="0" * 64)
        session.add(photo)
        session.flush()
        me = as_(session, "kinhte")
        desk.accept(session, me, code, ctx, kind="phan_anh", category="moi_truong",
                    document_number="12/TB-UBND")
        session.execute(delete(AnswerTemplate))  # without the demo commune's own templates
        template = create_template(session, as_(session, "quantri"), "Đã thu gom",
                                   "Dạ, xã đã thu gom rác.", category="moi_truong")
    view = page(db_url, "kinhte", code)
    assert [(a.media_type, a.content_type) for a in view.attachments] == [("photo", "image/jpeg")]
    assert [(d.kind_label, d.number) for d in view.documents] == [
        ("Thông báo thụ lý", "12/TB-UBND")]
    assert [t.id for t in view.answer_templates] == [template.id]
