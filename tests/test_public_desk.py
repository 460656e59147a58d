"""The desk's side of the public board, over real HTTP on SQLite and PostgreSQL: the resolve form's
public summary reaching the board end to end, the privacy check refusing phones, e-mails, names,
house numbers and copied words (the ticket then stays as it was), writing, approving and
removing the summary later, a tố cáo that can never get one, and erasure clearing it."""

from __future__ import annotations

import re
from html import unescape

import pytest
from sqlalchemy import select

from bot.core import public_board, service
from bot.core.authz import NotAllowed
from bot.core.citizens import citizen_for
from bot.core.erasure import erase_citizen
from bot.store.db import session_scope
from bot.store.models import Officer, TicketEvent
from tests.conftest import BACKENDS
from tests.desk_client import desk as desk_app
from tests.helpers import NOW, TestClock, context, officer, ticket
from tests.public_seed import CITIZEN_TEXT, NAME, PHONE, seed_board

SUMMARY = "Đèn đường trục chính thôn Đông hỏng; xã đã thay bóng đèn và sửa đường dây điện."
ANSWER = "Dạ, xã đã thay bóng đèn trục chính thôn Đông. Cảm ơn Ông/Bà đã phản ánh."
EMPTY_SUMMARY_BOX = re.compile(r'<textarea name="public_summary"[^>]*></textarea>')


def filed(sender: str = "web:c1", text: str = CITIZEN_TEXT, **kwargs) -> str:
    """A report with the citizen's name and phone on record."""
    code = service.submit_report(sender, text, "Thôn Đông", f"inbox:{sender}", phone=PHONE,
                                 ctx=context(), **{"category": "ha_tang", **kwargs}).code
    with session_scope(service._db_url()) as session:
        citizen_for(session, *sender.split(":"), NOW).display_name = NAME
    return code


def officer_id(url: str, username: str) -> int:
    with session_scope(url) as session:
        return session.scalar(select(Officer.id).where(Officer.username == username))


def actions_of(url: str, code: str) -> list[str]:
    with session_scope(url) as session:
        found = ticket(url, code)
        return list(session.scalars(select(TicketEvent.action).where(
            TicketEvent.ticket_id == found.id).order_by(TicketEvent.id)))


@pytest.mark.parametrize("empty_db_url", BACKENDS, indirect=True)
@pytest.mark.timeout(120)
def test_the_resolve_form_takes_a_public_summary_that_reaches_the_board(app_env):
    code = filed()

    async def scenario(login) -> None:
        head, visitor = login("truongkt"), login(None)
        html = await head.act(code, "accept", kind="phan_anh", category="ha_tang")
        assert "Tóm tắt công khai" in html
        assert EMPTY_SUMMARY_BOX.search(html)  # never prefilled from the citizen's words
        html = await head.act(code, "resolve", answer=ANSWER, public_summary=SUMMARY)
        assert "Bảng công khai" in html and "Đang công khai" in html
        assert f'href="/public/{code}"' in html and SUMMARY in unescape(html)
        status, board = await visitor.get("/public/")
        assert status == 200 and code in board and SUMMARY in unescape(board)
        status, page = await visitor.get(f"/public/{code}")
        assert status == 200 and ANSWER in unescape(page) and PHONE not in page

    desk_app(scenario, TestClock(NOW))
    stored = ticket(app_env, code)
    assert (stored.status, stored.public_summary) == ("resolved", SUMMARY)
    assert stored.public_summary_by == officer_id(app_env, "truongkt")
    assert actions_of(app_env, code)[-2:] == ["resolved", "public_summary_set"]


REFUSED = {
    "Đèn đường hỏng, liên hệ chị ấy qua số 0912 345 678 để biết thêm.": "số điện thoại",
    "Đèn đường hỏng; xã đã sửa, người dân gửi thư tới bich.tran@example.com.": "email",
    "Bà Bích phản ánh đèn đường hỏng; xã đã thay bóng đèn mới.": "tên người dân",
    "Trần Thị Bích phản ánh đèn đường hỏng; xã đã thay bóng.": "tên người dân",
    "Đèn đường trước nhà số 12 thôn Đông hỏng; xã đã thay bóng.": "số nhà",
    "Đèn đường trước số 12 thôn Đông hỏng; xã đã thay bóng.": "số nhà",
    CITIZEN_TEXT.split(". ", 1)[1]: "chép nguyên văn",
    "Ngắn": "từ 10 đến 1000 ký tự",
}


@pytest.mark.parametrize("empty_db_url", BACKENDS, indirect=True)
@pytest.mark.timeout(120)
def test_a_summary_with_personal_data_is_refused_and_the_ticket_stays_as_it_was(app_env):
    code = filed()

    async def scenario(login) -> None:
        head = login("truongkt")
        await head.act(code, "accept", kind="phan_anh", category="ha_tang")
        for summary, said in REFUSED.items():
            status, body = await head.post(code, "resolve",
                                           data={"answer": ANSWER, "public_summary": summary})
            assert status == 403 and said in body, (summary, body)
        html = await head.page(code)
        assert EMPTY_SUMMARY_BOX.search(html)

    desk_app(scenario, TestClock(NOW))
    stored = ticket(app_env, code)
    assert (stored.status, stored.public_summary, stored.answer_text) == ("accepted", None, None)


def test_the_check_lets_documents_roads_areas_and_money_through():
    fine = ("Theo Quyết định số 45/QĐ-UBND, xã đã sửa đường số 5 ở tổ dân phố số 3.",
            "Xã hỗ trợ 1.500.000.000 đồng làm đường bê tông thôn Đông năm 2026.",
            "Khu vực có an ninh tốt; công an xã tăng cường tuần tra ban đêm.",
            "Công văn số 12/UBND-KT ngày 05/03/2026 đã trả lời người dân.")
    for text in fine:
        assert public_board.summary_problem(text, NAME, PHONE, CITIZEN_TEXT) is None, text
    assert public_board.summary_problem("Gọi +84 912-345-678 nhé", None, None) == "phone"
    assert public_board.summary_problem("Sửa số nhà 7", None, None) == "house"
    assert public_board.summary_problem("Cô Bích đã nhận kết quả", NAME, None) == "name"
    assert public_board.summary_problem("Có bích họa mới ở nhà văn hóa", NAME, None) is None


@pytest.mark.parametrize("empty_db_url", BACKENDS, indirect=True)
@pytest.mark.timeout(120)
def test_an_officer_writes_approves_and_removes_the_summary_later(app_env):
    code = filed()

    async def scenario(login) -> None:
        head, colleague, visitor = login("truongkt"), login("kinhte2"), login(None)
        status, body = await head.post(code, "public_summary", data={"public_summary": SUMMARY})
        assert status == 403 and "đã trả lời, giải quyết" in body  # not resolved yet
        await head.act(code, "accept", kind="phan_anh", category="ha_tang")
        html = await head.act(code, "resolve", answer=ANSWER)
        assert "Chưa công khai" in html and code not in (await visitor.get("/public/"))[1]
        html = await head.act(code, "public_summary", public_summary=SUMMARY)
        assert "Đã lưu tóm tắt công khai." in html and "Đang công khai" in html
        assert code in (await visitor.get("/public/"))[1]
        html = await colleague.act(code, "public_summary", public_summary=SUMMARY)
        assert "Người viết, duyệt: Võ Thị Hạ Tầng" in html  # approved by another officer
        await head.act(code, "public_summary", public_summary="")
        assert code not in (await visitor.get("/public/"))[1]
        assert (await visitor.get(f"/public/{code}"))[0] == 404

    desk_app(scenario, TestClock(NOW))
    assert ticket(app_env, code).public_summary is None
    assert [a for a in actions_of(app_env, code) if a.startswith("public_")] == [
        "public_summary_set", "public_summary_set", "public_summary_removed"]


@pytest.mark.parametrize("empty_db_url", BACKENDS, indirect=True)
@pytest.mark.timeout(120)
def test_a_to_cao_can_never_get_a_summary_nor_be_hidden_or_shown(app_env):
    code = filed(text="Tôi tố cáo cán bộ địa chính nhận tiền để làm sổ đỏ nhanh",
                 kind="to_cao", category="can_bo")

    async def scenario(login) -> None:
        handler = login("chutich")
        html = await handler.act(code, "accept", kind="to_cao", category="can_bo")
        assert 'name="public_summary"' not in html  # no box for it on the resolve form
        status, body = await handler.post(code, "resolve", data={
            "answer": "Đã xác minh, kết luận.", "public_summary": SUMMARY})
        assert status == 403 and public_board.CONFIDENTIAL_TEXT[1:] in body
        html = await handler.act(code, "resolve", answer="Đã xác minh, kết luận nội dung.")
        assert "Bảng công khai" not in html
        for action, data in (("public_summary", {"public_summary": SUMMARY}),
                             ("public_hide", {"reason": "Bảo mật"}), ("public_show", {})):
            status, body = await handler.post(code, action, data=data)
            assert status == 403 and public_board.CONFIDENTIAL_TEXT[1:] in body, action

    desk_app(scenario, TestClock(NOW))
    stored = ticket(app_env, code)
    assert stored.status == "resolved" and stored.public_summary is None
    with session_scope(app_env) as session, pytest.raises(NotAllowed):
        public_board.set_summary(session, officer(session, "chutich"), code, context(), SUMMARY)


@pytest.mark.parametrize("empty_db_url", BACKENDS, indirect=True)
@pytest.mark.timeout(120)
def test_erasure_clears_the_public_summary_and_the_hide_reason(app_env):
    seeded = seed_board(app_env)
    with session_scope(app_env) as session:
        public_board.hide(session, officer(session, "truongkt"), seeded.published, context(),
                          "Tạm ẩn để kiểm tra lại")
        public_board.show(session, officer(session, "truongkt"), seeded.published, context())
        public_board.hide(session, officer(session, "truongkt"), seeded.published, context(),
                          "Tạm ẩn để kiểm tra lại")
    before = ticket(app_env, seeded.published)
    assert before.public_summary and before.public_hidden_reason
    with session_scope(app_env) as session:
        erased = erase_citizen(session, "web", "pub-1", context())
    assert erased.tickets == 1
    after = ticket(app_env, seeded.published)
    assert (after.public_summary, after.public_hidden_reason, after.answer_text) == (
        None, None, None)
