"""An officer works a citizen's report to the end on the running default setup (`nghedan up`:
real Rasa model, actions, bot; a fake Telegram Bot API on 127.0.0.1), the officer on a
phone-sized Chromium: the citizen files on Telegram (then on the web chat), the officer finds the
ticket in the queue, accepts it with a corrected category, asks a question, the citizen answers
from their chat, the answer shows on the ticket page, the officer resolves; the citizen receives
every step and the rating buttons."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select

from bot.core.passwords import set_password
from bot.store.db import session_scope
from bot.store.desk_models import NluCorrection
from bot.store.models import Ticket
from tests.browser import chromium, login, phone_page, require_chromium
from tests.e2e import (
    file_report,
    running_setup,
    say,
    start_and_consent,
    telegram_consent,
    telegram_report,
    text_of,
    ticket,
)

PASSWORD = "mat-khau-can-bo-2026"
HEAD = "truongkt"  # head of Phòng Kinh tế, where road and lighting reports go


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    require_chromium()
    with running_setup(tmp_path_factory.mktemp("desk-journey")) as running:
        with session_scope(running.db_url) as session:
            set_password(session, HEAD, PASSWORD)
        yield running


@pytest.fixture(scope="module")
def officer(setup):
    with chromium() as browser:
        page = phone_page(browser, setup.web)
        login(page, HEAD, PASSWORD)
        yield page


def submit(page, action: str, **fields: str) -> None:
    """Fill and send one action form of the ticket page (POST, then back to the page)."""
    form = page.locator(f"form[action$='/{action}']")
    for name, value in fields.items():
        field = form.locator(f"[name={name}]")
        if field.evaluate("el => el.tagName") == "SELECT":
            field.select_option(value)
        else:
            field.fill(value)
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    assert "/desk/tickets/" in page.url, page.url  # POST-redirect-GET back to the ticket


def work_the_ticket(setup, page, code: str, citizen_answers) -> None:
    """Queue -> ticket page -> accept (category corrected) -> ask -> (citizen answers) ->
    the answer on the page -> resolve."""
    page.goto("/desk/?tab=unit")
    page.click(f"a:has-text('{code}')")
    page.wait_for_url(f"**/desk/tickets/{code}")
    submit(page, "accept", category="xay_dung_do_thi", kind="kien_nghi")
    assert ticket(setup, code).status == "accepted"
    submit(page, "ask", question="Ông/Bà cho biết vị trí cụ thể, gần nhà số mấy ạ?")
    assert ticket(setup, code).status == "need_info"
    answer = citizen_answers("Dạ, ngay trước cổng nhà văn hóa thôn, cạnh cột điện số 7")
    page.reload()
    assert answer in page.locator("body").inner_text()
    assert ticket(setup, code).status == "accepted"  # back to where the question found it
    submit(page, "resolve", answer="Xã đã cử người sửa, đoạn đường đã thông từ chiều nay.")
    assert ticket(setup, code).status == "resolved"
    with session_scope(setup.db_url) as session:
        correction = session.scalar(select(NluCorrection).join(
            Ticket, Ticket.id == NluCorrection.ticket_id).where(Ticket.code == code))
        assert correction.fixed_category == "xay_dung_do_thi"
        assert correction.predicted_category != "xay_dung_do_thi"


def test_telegram_report_worked_to_the_end_by_an_officer_on_a_phone(setup, officer):
    fake, chat = setup.telegram, 889001
    telegram_consent(fake, chat)
    fake.wait_for(lambda m: m["chat_id"] == chat and m["text"].startswith("Dạ, cảm ơn"))
    code = telegram_report(
        fake, chat, "Đường bê tông ở Thôn 1 bị sụt lún một đoạn dài, xe máy đi rất nguy hiểm")

    def answer_on_telegram(text: str) -> str:
        fake.wait_for(lambda m: m["chat_id"] == chat and "gần nhà số mấy" in m["text"])
        fake.user_says(chat, text)
        fake.wait_for(lambda m: m["chat_id"] == chat and "đã bổ sung" in m["text"].lower())
        return text

    work_the_ticket(setup, officer, code, answer_on_telegram)
    to_citizen = [m for m in fake.sent if m["chat_id"] == chat]
    assert any("thụ lý" in m["text"] for m in to_citizen)
    answer = fake.wait_for(lambda m: m["chat_id"] == chat and "đã thông" in m["text"])
    assert "5 ★" in fake.button_titles(answer) and "Chưa hài lòng" in fake.button_titles(answer)


def test_web_chat_report_worked_to_the_end_by_an_officer_on_a_phone(setup, officer):
    with httpx.Client() as client:
        start_and_consent(client, setup)
        code = file_report(client, setup,
                           "Mương thoát nước ở Thôn 3 bị lấp, mưa xuống là nước tràn vào nhà dân")
        pushed: list[dict] = []

        def pending() -> list[dict]:
            got = client.get(f"{setup.web}/api/chat/messages", timeout=30).json()["messages"]
            pushed.extend(got)
            return got

        def answer_on_the_web(text: str) -> str:
            pending()
            assert "gần nhà số mấy" in text_of(pushed)
            assert "đã bổ sung" in text_of(say(client, setup, text=text)).lower()
            return text

        work_the_ticket(setup, officer, code, answer_on_the_web)
        pending()
    assert "thụ lý" in text_of(pushed)
    [answer] = [m for m in pushed if "đã thông" in (m["text"] or "")]
    assert {"5 ★", "Chưa hài lòng"} <= {b["title"] for b in answer["buttons"]}
