"""Urgent reports: rules on the words with or without diacritics, tested on sentences that are
and are not about danger; an urgent report gets an acceptance clock in hours, reaches the unit
head and the on-call officers at once, and the citizen is told (with the emergency numbers when
lives may be at risk). An officer clears a wrong flag (real database, SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from actions.report import receipt_text
from bot.core import desk, notices, service
from bot.core.authz import Caller
from bot.core.urgent import detect
from bot.store.db import session_scope
from bot.store.desk_models import OfficerNotice
from bot.store.models import Officer, Ticket
from tests.conftest import BACKENDS
from tests.helpers import NOW, context

URGENT_LIVES = [
    "Cháy nhà ở thôn 3, lửa đang lan sang nhà bên",
    "chay nha o thon 3 roi, moi nguoi den giup",
    "Có đám cháy lớn ở chợ xã",
    "Sạt lở đất trên đường lên bản, đất đá lăn xuống",
    "sat lo dat o doi thong, nguy hiem lam",
    "Dây điện bị đứt rơi xuống đường trước trường học",
    "day dien dut roi xuong duong",
    "Cột điện bị gãy đổ ra đường",
    "Nhà văn hóa thôn bị sập mái",
    "Bức tường cũ có nguy cơ sập đổ vào nhà dân",
    "Hai nhóm thanh niên đánh nhau ở ngã ba",
    "danh nhau o quan bia, co nguoi cam dao",
    "Có em bé bị đuối nước ở ao làng",
    "Lũ quét cuốn trôi cầu tạm",
    "Đèn dầu đổ làm cháy nhà ông Ba",
]
URGENT_PROPERTY = [
    "Đường thôn 3 ngập sâu, xe máy không đi được",
    "ngap sau qua dau goi o to 5",
    "Nước sông dâng cao tràn vào khu dân cư",
]
NOT_URGENT = [
    "Xe chạy nhanh qua cổng trường, rất nguy hiểm",
    "xe chay nhanh qua cong truong",
    "Thanh niên chạy xe máy lạng lách ban đêm",
    "Bóng đèn đường ở ngõ 5 bị cháy, tối om",
    "Tháng này tôi cháy túi vì tiền điện cao quá",
    "Cơm cháy ở quán đầu ngõ bán không có giấy phép",
    "Đường thôn 3 ngập khi mưa to",
    "Trang web dịch vụ công bị sập nguồn cả sáng",
    "Chó nhà hàng xóm sủa cả đêm",
    "Sắp tới xã có tổ chức tiêm chủng không?",
    "",
]


@pytest.mark.parametrize("text", URGENT_LIVES)
def test_danger_to_life_is_urgent_with_or_without_diacritics(text):
    found = detect(text)
    assert (found.urgent, found.life_at_risk) == (True, True), found


@pytest.mark.parametrize("text", URGENT_PROPERTY)
def test_deep_flooding_is_urgent_without_saying_lives_are_at_risk(text):
    found = detect(text)
    assert (found.urgent, found.life_at_risk) == (True, False), found


@pytest.mark.parametrize("text", NOT_URGENT)
def test_sentences_that_only_look_dangerous_are_not_urgent(text):
    assert not detect(text).urgent, detect(text)


def test_running_is_never_fire_but_fire_typed_plain_is():
    assert not detect("xe chạy nhanh").urgent and not detect("xe chay nhanh").urgent
    assert detect("cháy nhà").matched and detect("chay nha").matched == "cháy nhà"


def test_receipt_tells_urgent_and_gives_emergency_numbers_only_when_lives_are_at_risk():
    plain = service.Receipt("KN-2026-000001", "Phòng Kinh tế", "Đã tiếp nhận", "10:00")
    flood = service.Receipt("KN-2026-000002", "Phòng Kinh tế", "Đã tiếp nhận", "14:00",
                            urgent=True)
    fire = service.Receipt("KN-2026-000003", "Phòng Kinh tế", "Đã tiếp nhận", "14:00",
                           urgent=True, life_at_risk=True)
    assert "KHẨN CẤP" not in receipt_text(plain) and "113" not in receipt_text(plain)
    assert "KHẨN CẤP" in receipt_text(flood) and "113" not in receipt_text(flood)
    said = receipt_text(fire)
    assert said.startswith("Dạ, nếu có người đang gặp nguy hiểm")
    for number in ("113 (công an)", "114 (cứu hỏa)", "115 (cấp cứu)", "KN-2026-000003"):
        assert number in said


@pytest.mark.parametrize("empty_db_url", BACKENDS, indirect=True)
def test_urgent_report_has_an_hours_clock_and_reaches_head_and_on_call_at_once(app_env):
    ctx = context()
    with session_scope(app_env) as session:
        session.scalar(select(Officer).where(Officer.username == "congan")).on_call = True
        session.scalar(select(Officer).where(Officer.username == "kinhte2")).on_call = True
    receipt = service.submit_report("web:c1", "Cháy nhà kho cạnh đường thôn 3, khói rất to",
                                    "Thôn 3", "inbox:1", category="ha_tang", ctx=ctx)
    assert (receipt.urgent, receipt.life_at_risk) == (True, True)
    with session_scope(app_env) as session:
        ticket = session.scalar(select(Ticket).where(Ticket.code == receipt.code))
        assert ticket.urgent
        accept = next(c for c in ticket.clocks if c.name == "accept")
        assert accept.due_at == NOW + timedelta(hours=ctx.urgent_accept_hours)
        told = {session.get(Officer, n.officer_id).username: n for n in session.scalars(
            select(OfficerNotice).where(OfficerNotice.ticket_id == ticket.id))}
        owner = session.get(Officer, ticket.officer_id).username
        # the unit head, the on-call officer of the unit, the assigned officer; not the on-call
        # officer of another unit
        assert set(told) == {"truongkt", "kinhte2", owner}
        assert {n.kind for n in told.values()} == {"urgent"}
        assert told["truongkt"].text.startswith(f"KHẨN CẤP: đơn mới {receipt.code}")
        assert notices.unread_count(session, told["truongkt"].officer_id) == 1


@pytest.mark.parametrize("empty_db_url", BACKENDS, indirect=True)
def test_an_urgent_ticket_transferred_is_urgent_news_for_the_new_units_on_call_officer(app_env):
    ctx = context()
    with session_scope(app_env) as session:
        session.scalar(select(Officer).where(Officer.username == "congan")).on_call = True
    receipt = service.submit_report("web:c1", "Hai nhóm thanh niên đánh nhau ở ngã ba thôn 3",
                                    "Thôn 3", "inbox:1", category="ha_tang", ctx=ctx)
    with session_scope(app_env) as session:
        head = Caller.officer(session.scalar(select(Officer.id).where(
            Officer.username == "truongkt")))
        desk.transfer_to_unit(session, head, receipt.code, ctx, "xa-an-binh-cong-an",
                              "Việc của công an xã")
        ticket = session.scalar(select(Ticket).where(Ticket.code == receipt.code))
        told = [n for n in session.scalars(select(OfficerNotice).where(
            OfficerNotice.ticket_id == ticket.id, OfficerNotice.officer_id == ticket.officer_id))]
        assert session.get(Officer, ticket.officer_id).username == "congan"
        assert [(n.kind, n.text.split(",")[0]) for n in told] == [
            ("urgent", f"KHẨN CẤP: đơn {receipt.code} báo nguy hiểm được chuyển tới Công an xã")]


@pytest.mark.parametrize("empty_db_url", BACKENDS, indirect=True)
def test_the_nlu_flag_alone_makes_a_report_urgent_and_an_officer_clears_a_wrong_one(app_env):
    ctx = context()
    receipt = service.submit_report("web:c1", "Cống thôn 3 tắc, nước tràn vào nhà",
                                    "Thôn 3", "inbox:1", category="ha_tang", ctx=ctx,
                                    urgent=True)
    assert (receipt.urgent, receipt.life_at_risk) == (True, False)
    with session_scope(app_env) as session:
        head = Caller.officer(session.scalar(select(Officer.id).where(
            Officer.username == "truongkt")))
        desk.clear_urgent(session, head, receipt.code, ctx, "Không nguy hiểm tức thời")
        ticket = session.scalar(select(Ticket).where(Ticket.code == receipt.code))
        assert not ticket.urgent and ticket.events[-1].action == "urgent_cleared"
        assert "nguy hiểm" not in repr(ticket.events[-1].data)  # the reason is a note
