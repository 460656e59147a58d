"""Officers' actions through the core on a real database (SQLite and PostgreSQL): corrections
at acceptance, questions before and after acceptance with both clocks, texts kept in notes
(events carry note ids only), replies, rejections with where to turn, duplicates, tố cáo
extensions, documents, urgent tickets on an hours clock, the search text and its erasure.
(Invite formats and admin commands on an unmigrated database: tests/test_desk_fixes.py.)"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.core import desk, service
from bot.core.authz import Caller, NotAllowed
from bot.core.tickets import IllegalTransition
from bot.store.db import session_scope
from bot.store.desk_models import NluCorrection, TicketDocument
from bot.store.models import Attachment, OutboxMessage, Ticket, TicketNote
from tests.conftest import BACKENDS
from tests.helpers import NOW, context, make_ticket, officer, told

pytestmark = pytest.mark.parametrize("empty_db_url", BACKENDS, indirect=True)
REPORT = "Đường thôn 3 ngập sâu, cống bị tắc"


def ticket_of(session, code: str) -> Ticket:
    return session.scalar(select(Ticket).where(Ticket.code == code))


def clocks(session, code: str) -> dict:
    return {c.name: c for c in ticket_of(session, code).clocks}


def file_report(ctx, text: str = REPORT, key: str = "inbox:1", **kwargs) -> str:
    return service.submit_report("web:c1", text, "thôn 3", key, ctx=ctx,
                                 **{"category": "ha_tang", **kwargs}).code


def accepted_by_head(session, code: str, ctx) -> Caller:
    """The roads' unit head accepts the report as filed (a phản ánh on infrastructure)."""
    head = officer(session, "truongkt")
    desk.accept(session, head, code, ctx, kind="phan_anh", category="ha_tang")
    return head


def event_texts(ticket: Ticket) -> list[str]:
    return [v for e in ticket.events for v in (e.data or {}).values() if isinstance(v, str)]


def test_accept_that_fixes_the_prediction_records_a_correction_and_the_document(db_url):
    ctx = context()
    fixed = make_ticket(db_url, category="ha_tang", predicted_category="moi_truong",
                        predicted_kind="phan_anh", nlu_confidence=0.41)
    same = make_ticket(db_url, category="ha_tang", predicted_category="ha_tang",
                       predicted_kind="phan_anh", nlu_confidence=0.93)
    with session_scope(db_url) as session:
        head = officer(session, "truongkt")
        desk.accept(session, head, fixed, ctx, kind="kien_nghi", category="ha_tang",
                    document_number="12/TB-UBND")
        desk.accept(session, head, same, ctx, kind="phan_anh", category="ha_tang")
    with session_scope(db_url) as session:
        corrections = session.scalars(select(NluCorrection)).all()
        assert [(c.ticket_id, c.predicted_category, c.predicted_kind, c.fixed_category,
                 c.fixed_kind, c.confidence, c.officer_id) for c in corrections] == [
            (ticket_of(session, fixed).id, "moi_truong", "phan_anh", "ha_tang", "kien_nghi",
             0.41, officer(session, "truongkt").id)]
        document = session.scalar(select(TicketDocument))
        assert (document.kind, document.number) == ("acceptance", "12/TB-UBND")
        accepted = ticket_of(session, fixed).events[-1]
        assert accepted.data["document_id"] == document.id and accepted.data["corrected"]


def test_accept_without_a_prediction_compares_with_what_was_filed(db_url):
    ctx = context()
    code = make_ticket(db_url, category="khac", needs_triage=True)
    with session_scope(db_url) as session:
        triage = officer(session, "tiepnhan")
        with pytest.raises(NotAllowed):
            desk.accept(session, triage, code, ctx, kind="phan_anh", category="khong_co")
        desk.accept(session, triage, code, ctx, kind="phan_anh", category="moi_truong")
    with session_scope(db_url) as session:
        correction = session.scalar(select(NluCorrection))
        assert (correction.predicted_category, correction.fixed_category) == (
            "khac", "moi_truong")


def test_question_before_acceptance_keeps_the_accept_clock_and_the_answer_leads_to_resolve_clock(
        app_env):
    ctx = context()
    code = file_report(ctx)
    with session_scope(app_env) as session:
        accept_due = clocks(session, code)["accept"].due_at
        desk.ask_for_information(session, officer(session, "truongkt"), code, ctx,
                                 "Ông/Bà cho biết đoạn đường ngập ở đâu?")
        ticket = ticket_of(session, code)
        assert (ticket.status, ticket.status_before_info) == ("need_info", "received")
        assert ticket.relay_until == ctx.clock() + timedelta(hours=72)  # the citizen's answer
    assert "đoạn đường ngập ở đâu" in told(app_env)[-1]
    ctx.clock.advance(days=1)
    # an officer cannot skip thụ lý
    with session_scope(app_env) as session, pytest.raises(IllegalTransition):
        desk.start_work(session, officer(session, "truongkt"), code, ctx)
    assert service.add_information("web:c1", code, "Đoạn trước nhà văn hóa", "inbox:2",
                                   ctx=ctx) == "Đã tiếp nhận"
    # the pipeline says "đã bổ sung vào đơn"; no second "đã được tiếp nhận" from the core
    assert "đoạn đường ngập ở đâu" in told(app_env)[-1]
    with session_scope(app_env) as session:
        ticket = ticket_of(session, code)
        accept = clocks(session, code)["accept"]
        assert (ticket.status, ticket.status_before_info) == ("received", None)
        assert accept.stopped_at is None and accept.paused_at is None
        assert accept.due_at == accept_due and "resolve" not in clocks(session, code)
        assert [(e.action, e.to_status) for e in ticket.events][-1] == (
            "information_added", "received")
    ctx.clock.advance(days=1)
    with session_scope(app_env) as session:
        desk.accept(session, officer(session, "truongkt"), code, ctx, kind="phan_anh",
                    category="ha_tang")
        both = clocks(session, code)
        assert both["accept"].stopped_at == ctx.clock()
        assert both["resolve"].started_at == ctx.clock() and both["resolve"].stopped_at is None
        desk.resolve(session, officer(session, "truongkt"), code, ctx, "Đã khơi thông cống.")
        assert clocks(session, code)["resolve"].stopped_at == ctx.clock()


def test_question_after_assignment_pauses_the_resolve_clock_and_the_answer_returns_to_assigned(
        app_env):
    ctx = context()
    code = file_report(ctx)
    with session_scope(app_env) as session:
        head = accepted_by_head(session, code, ctx)
        desk.assign(session, head, code, ctx, officer_id=officer(session, "kinhte").id)
        due = clocks(session, code)["resolve"].due_at
        desk.ask_for_information(session, head, code, ctx, "Ông/Bà gửi giúp ảnh chụp?")
        assert clocks(session, code)["resolve"].paused_at == ctx.clock()
    ctx.clock.advance(days=2)  # Monday -> Wednesday: two working days paused
    service.add_information("web:c1", code, "Ảnh đây ạ", "inbox:2", ctx=ctx)
    with session_scope(app_env) as session:
        resolve = clocks(session, code)["resolve"]
        assert ticket_of(session, code).status == "assigned"
        assert resolve.paused_at is None and resolve.due_at > due


def test_accept_while_a_question_before_acceptance_is_open_starts_the_resolve_clock(app_env):
    ctx = context()
    code = file_report(ctx)
    with session_scope(app_env) as session:
        head = officer(session, "truongkt")
        desk.ask_for_information(session, head, code, ctx, "Ông/Bà cho biết số nhà?")
        desk.accept(session, head, code, ctx, kind="phan_anh", category="ha_tang")
        ticket = ticket_of(session, code)
        assert (ticket.status, ticket.status_before_info) == ("accepted", None)
        assert clocks(session, code)["resolve"].stopped_at is None
    service.add_information("web:c1", code, "Số 12", "inbox:2", ctx=ctx)  # a late answer
    with session_scope(app_env) as session:
        ticket = ticket_of(session, code)
        assert ticket.status == "accepted" and ticket.events[-1].to_status is None


def test_assigning_during_a_question_after_acceptance_returns_the_answer_to_assigned(app_env):
    ctx = context()
    code = file_report(ctx)
    with session_scope(app_env) as session:
        head = accepted_by_head(session, code, ctx)
        desk.ask_for_information(session, head, code, ctx, "Ông/Bà cho biết số nhà?")
        with pytest.raises(IllegalTransition):  # no way back before thụ lý
            desk.accept(session, head, code, ctx, kind="phan_anh", category="ha_tang")
        desk.assign(session, head, code, ctx, officer_id=officer(session, "kinhte").id)
    service.add_information("web:c1", code, "Số 12", "inbox:2", ctx=ctx)
    with session_scope(app_env) as session:
        assert ticket_of(session, code).status == "assigned"


def test_officer_texts_are_notes_events_keep_note_ids_and_the_citizen_hears_them(app_env):
    ctx = context()
    code = file_report(ctx)
    with session_scope(app_env) as session:
        head = accepted_by_head(session, code, ctx)
        desk.reply(session, head, code, ctx, "Tổ công tác sẽ đến kiểm tra sáng mai.")
        ticket = ticket_of(session, code)
        assert ticket.status == "accepted" and ticket.events[-1].action == "replied"
        assert ticket.relay_until == ctx.clock() + timedelta(hours=ctx.relay_hours)
        desk.add_note(session, head, code, ctx, "Gọi điện cho trưởng thôn trước")
        desk.resolve(session, head, code, ctx, "Đã nạo vét xong cống.", document_number="5/TL")
    with session_scope(app_env) as session:
        ticket = ticket_of(session, code)
        notes = {n.kind: n for n in session.scalars(select(TicketNote))}
        assert set(notes) == {"reply", "note", "answer"} and notes["note"].internal
        assert not notes["reply"].internal and notes["answer"].author_type == "officer"
        by_action = {e.action: e.data for e in ticket.events}
        assert by_action["replied"] == {"note_id": notes["reply"].id}
        assert by_action["resolved"]["note_id"] == notes["answer"].id
        assert not any("cống" in v or "Tổ công tác" in v for v in event_texts(ticket))
    messages = told(app_env)
    assert "Tổ công tác sẽ đến kiểm tra sáng mai." in messages[1]
    assert "Đã nạo vét xong cống." in messages[2]
    assert not any("trưởng thôn" in m for m in messages)  # the internal note stays inside


def test_reject_tells_the_reason_and_where_to_turn(app_env):
    ctx = context()
    code = file_report(ctx)
    with session_scope(app_env) as session:
        desk.reject(session, officer(session, "truongkt"), code, ctx,
                    "Việc tranh chấp ranh giới đất thuộc thẩm quyền hòa giải",
                    "Tổ hòa giải thôn 3")
        assert all(c.stopped_at is not None for c in ticket_of(session, code).clocks)
    last = told(app_env)[-1]
    assert "không được thụ lý" in last and "Tổ hòa giải thôn 3" in last


def test_reopen_needs_a_resolved_ticket_and_keeps_its_reason_internal(app_env):
    ctx = context()
    code = file_report(ctx)
    with session_scope(app_env) as session:
        head = accepted_by_head(session, code, ctx)
        with pytest.raises(IllegalTransition):
            desk.reopen(session, head, code, ctx, "Kiểm tra lại")
        desk.resolve(session, head, code, ctx, "Đã xử lý.")
        desk.reopen(session, head, code, ctx, "Người dân báo vẫn còn ngập")
        note = session.get(TicketNote, ticket_of(session, code).events[-1].data["note_id"])
        assert (note.kind, note.internal) == ("reason", True)
    assert not any("vẫn còn ngập" in m for m in told(app_env))


def test_link_duplicate_is_refused_for_complaints_and_stops_the_duplicates_clocks(app_env):
    ctx = context()
    master = file_report(ctx)
    duplicate = file_report(ctx, "Cống thôn 3 tắc gây ngập", key="inbox:2")
    complaint = file_report(ctx, "Khiếu nại việc thu phí", key="inbox:3", kind="khieu_nai")
    with session_scope(app_env) as session:
        head = officer(session, "truongkt")
        for this, that in ((complaint, master), (duplicate, complaint)):
            with pytest.raises(NotAllowed):
                desk.link_duplicate(session, head, this, ctx, that)
        with pytest.raises(NotAllowed):
            desk.link_duplicate(session, head, master, ctx, master)
        desk.link_duplicate(session, head, duplicate, ctx, master)
        linked = ticket_of(session, duplicate)
        assert linked.duplicate_of_id == ticket_of(session, master).id
        assert all(c.stopped_at == ctx.clock() for c in linked.clocks)
        assert ticket_of(session, master).events[-1].action == "duplicate_linked"
        with pytest.raises(NotAllowed):  # the master cannot become its duplicate's duplicate
            desk.link_duplicate(session, head, master, ctx, duplicate)


def test_denunciation_resolve_clock_extends_once_or_twice_when_especially_complex(db_url):
    ctx = context()
    code = make_ticket(db_url, "Tố cáo cán bộ địa chính nhận tiền", category="can_bo",
                       kind="to_cao")
    feedback = make_ticket(db_url, category="ha_tang")
    with session_scope(db_url) as session:
        handler = officer(session, "chutich")
        with pytest.raises(NotAllowed):  # not yet accepted: no resolve clock
            desk.extend_resolve_clock(session, handler, code, ctx, 30, "01/QĐ-UBND", "Phức tạp")
        desk.accept(session, handler, code, ctx, kind="to_cao", category="can_bo")
        with pytest.raises(NotAllowed):
            desk.extend_resolve_clock(session, officer(session, "truongkt"), feedback, ctx, 10,
                                      "02/QĐ", "Phức tạp")
        due = clocks(session, code)["resolve"].due_at
        with pytest.raises(NotAllowed):
            desk.extend_resolve_clock(session, handler, code, ctx, 31, "01/QĐ-UBND", "Phức tạp")
        desk.extend_resolve_clock(session, handler, code, ctx, 30, "01/QĐ-UBND",
                                  "Cần xác minh thêm tại ngân hàng")
        assert clocks(session, code)["resolve"].due_at == due + timedelta(days=30)
        with pytest.raises(NotAllowed):  # once, unless especially complex
            desk.extend_resolve_clock(session, handler, code, ctx, 10, "02/QĐ-UBND", "Thêm")
        desk.extend_resolve_clock(session, handler, code, ctx, 20, "02/QĐ-UBND",
                                  "Vụ việc đặc biệt phức tạp", especially_complex=True)
        with pytest.raises(NotAllowed):
            desk.extend_resolve_clock(session, handler, code, ctx, 5, "03/QĐ-UBND", "Thêm nữa",
                                      especially_complex=True)
        resolve = clocks(session, code)["resolve"]
        assert (resolve.extensions, resolve.due_at) == (2, due + timedelta(days=50))
        numbers = session.scalars(select(TicketDocument.number).where(
            TicketDocument.kind == "extension").order_by(TicketDocument.id)).all()
        assert numbers == ["01/QĐ-UBND", "02/QĐ-UBND"]
        assert "ngân hàng" not in str([e.data for e in ticket_of(session, code).events])


def test_add_document_takes_only_an_attachment_of_the_same_ticket(db_url):
    ctx = context()
    code, other = make_ticket(db_url, category="ha_tang"), make_ticket(db_url, category="ha_tang")
    with session_scope(db_url) as session:
        pdf = Attachment(ticket_id=ticket_of(session, other).id, media_type="document",
                         content_type="application/pdf", storage_key="x/1.pdf", size_bytes=10,
                         sha256="0" * 64, created_at=NOW)
        session.add(pdf)
        session.flush()
        head = officer(session, "truongkt")
        with pytest.raises(NotAllowed):
            desk.add_document(session, head, code, ctx, "decision", "9/QĐ", attachment_id=pdf.id)
        with pytest.raises(NotAllowed):
            desk.add_document(session, head, code, ctx, "hop_dong", "9/QĐ")
        desk.add_document(session, head, other, ctx, "decision", "9/QĐ", attachment_id=pdf.id)
        assert ticket_of(session, other).events[-1].data["kind"] == "decision"


def test_urgent_ticket_has_an_accept_clock_in_hours_until_the_flag_is_cleared(db_url):
    ctx = context()
    code = make_ticket(db_url, "Sạt lở taluy đường lên thôn 5", category="ha_tang", urgent=True)
    with session_scope(db_url) as session:
        accept = clocks(session, code)["accept"]
        assert (accept.unit, accept.length) == ("hours", ctx.urgent_accept_hours)
        assert accept.due_at == NOW + timedelta(hours=4)
        head = officer(session, "truongkt")
        desk.clear_urgent(session, head, code, ctx, "Chỉ là đất đá nhỏ, không nguy hiểm")
        ticket = ticket_of(session, code)
        accept = clocks(session, code)["accept"]
        assert not ticket.urgent and (accept.unit, accept.length) == ("working_days", 10)
        assert ticket.events[-1].action == "urgent_cleared"
        with pytest.raises(NotAllowed):
            desk.clear_urgent(session, head, code, ctx, "Lần nữa")


def test_search_text_is_folded_and_erasure_clears_notes_answer_relay_and_officer_notices(app_env):
    from bot.store.desk_models import OfficerNotice
    from tests.test_escalation import link

    for username, chat in (("kinhte", "t-kt"), ("kinhte2", "t-kt2"), ("truongkt", "t-head")):
        link(app_env, username, chat)
    ctx = context()
    code = file_report(ctx, "Đèn đường hỏng ở Đồng Xoài")
    with session_scope(app_env) as session:
        ticket = ticket_of(session, code)
        assert ticket.search_text.startswith(code.lower().replace("-", " "))
        assert "den duong hong o dong xoai thon 3" in ticket.search_text
        head = accepted_by_head(session, code, ctx)
        desk.add_note(session, head, code, ctx, "Nhà ông A cạnh cột điện")
        desk.reply(session, head, code, ctx, "Ông/Bà ở số nhà mấy?")
        desk.resolve(session, head, code, ctx, "Đã thay bóng đèn.")
    service.erase_personal_data("web:c1", ctx=ctx)
    with session_scope(app_env) as session:
        ticket = ticket_of(session, code)
        assert ticket.search_text is None and ticket.answer_text is None
        assert ticket.relay_until is None
        assert {n.text for n in session.scalars(select(TicketNote))} == {
            "[Đã xóa theo yêu cầu của người dân]"}
        to_officers = session.scalars(select(OutboxMessage.text).where(
            OutboxMessage.officer_id.is_not(None))).all()
        notices = session.scalars(select(OfficerNotice.text)).all()
        assert to_officers and not any("thôn 3" in t or "Xoài" in t for t in to_officers)
        assert not any("thôn 3" in t or "Xoài" in t for t in notices)


def test_the_denouncer_is_told_of_an_extension_with_the_new_deadline_and_decision(app_env):
    ctx = context()
    code = file_report(ctx, "Tố cáo cán bộ địa chính xã nhận tiền để làm sổ đỏ nhanh",
                       category="can_bo", kind="to_cao")
    with session_scope(app_env) as session:
        handler = officer(session, "chutich")
        desk.accept(session, handler, code, ctx, kind="to_cao", category="can_bo")
        desk.extend_resolve_clock(session, handler, code, ctx, 30, "15/QĐ-UBND",
                                  "Cần xác minh thêm tại ngân hàng")
        due = clocks(session, code)["resolve"].due_at
    last = told(app_env)[-1]
    assert "gia hạn" in last and "15/QĐ-UBND" in last
    assert due.astimezone(ctx.tz).strftime("%d/%m/%Y") in last
    assert "xác minh thêm tại ngân hàng" not in last  # the reason is internal
