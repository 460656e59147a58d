"""The whole default setup, for real: `nghedan up` (Rasa server with the trained model, action
server, bot) on a fresh SQLite database; a citizen files a report on the web chat and in the
terminal; the supervisor restarts a dead process and stops everything on SIGTERM.
One `up` (one Rasa server) for the whole module."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx
import pytest
from sqlalchemy import select

from bot.dialogue.training_consent import QUESTION_TEXT as TRAINING_QUESTION
from bot.store.db import session_scope
from bot.store.models import (
    Citizen,
    ConversationTracker,
    FaqEntry,
    InboxMessage,
    Officer,
    OfficerRole,
    OrgUnit,
    OutboxMessage,
    Ticket,
)
from tests.e2e import (
    CODE,
    REPORT,
    file_report,
    press,
    running_setup,
    say,
    start_and_consent,
    text_of,
    to_summary,
)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    with running_setup(tmp_path_factory.mktemp("up")) as running:
        yield running


def test_up_prints_channels_and_loads_demo_commune(setup):
    banner = setup.output.read_text()
    assert f"Web chat:   bật, http://127.0.0.1:{setup.web_port}/" in banner
    assert "Telegram:   bật" in banner
    assert "Zalo OA:    tắt" in banner and "Zalo Bot:   tắt" in banner  # no ZALO_* set
    with session_scope(setup.db_url) as session:
        assert session.scalar(select(OrgUnit).where(OrgUnit.is_triage.is_(True))) is not None


def test_citizen_files_a_report_on_the_web_chat(setup):
    with httpx.Client() as client:
        greeting = say(client, setup, text="/start")
        assert greeting and greeting[0]["text"].startswith("Dạ")
        assert any("/xoadulieu" in (m["text"] or "") for m in greeting)  # the privacy notice
        confirm = to_summary(client, setup, say(client, setup, text=REPORT))
        assert any("thôn 3" in (m["text"] or "") for m in confirm), confirm
        with session_scope(setup.db_url) as session:
            before = len(list(session.scalars(select(Ticket))))
        asked = press(client, setup, confirm, "Gửi")  # no consent yet: nothing is filed
        assert "Đồng ý" in [b["title"] for m in asked for b in m["buttons"]], asked
        with session_scope(setup.db_url) as session:
            assert len(list(session.scalars(select(Ticket)))) == before
        receipt = press(client, setup, asked, "Đồng ý")
        text = " ".join(m["text"] or "" for m in receipt)
        code = CODE.search(text)
        assert code, receipt
        status = say(client, setup, text="đơn của tôi sao rồi")
        assert code[0] in " ".join(m["text"] or "" for m in status)
    with session_scope(setup.db_url) as session:
        ticket = session.scalar(select(Ticket).where(Ticket.code == code[0]))
        assert ticket.text == REPORT and "thôn 3" in ticket.location_text.lower()
        assert ticket.status == "received" and ticket.citizen_id is not None
        assert [e.action for e in ticket.events] == ["created"]
        inbox = list(session.scalars(select(InboxMessage).where(InboxMessage.channel == "web")))
        assert inbox and all(row.status == "done" for row in inbox)
        outbox = list(session.scalars(select(OutboxMessage).where(OutboxMessage.channel == "web")))
        assert outbox and all(row.status == "sent" for row in outbox)


def test_faq_answer_comes_from_the_database_and_follows_an_edit(setup):
    question = "cho em hỏi ủy ban xã làm việc giờ nào, thứ bảy có làm không ạ"
    with session_scope(setup.db_url) as session:
        entry = session.scalar(select(FaqEntry).where(FaqEntry.key == "gio_lam_viec"))
        original = entry.answer
    with httpx.Client() as client:
        first = say(client, setup, text=question)
        assert first[0]["text"].startswith("Dạ, xin chào")  # first contact: who we are
        assert first[1]["text"] == original
        assert "Gửi phản ánh" in [b["title"] for b in first[1]["buttons"]]
        with session_scope(setup.db_url) as session:
            session.scalar(select(FaqEntry).where(FaqEntry.key == "gio_lam_viec")).answer = (
                "Dạ, xã làm việc cả sáng thứ Bảy.")
        second = say(client, setup, text="ubnd xa lam viec may gio vay ad")
        assert second[0]["text"] == "Dạ, xã làm việc cả sáng thứ Bảy."


def test_report_is_routed_by_its_category(setup):
    report = "Trại heo ở thôn 2 xả nước thải ra mương, cả xóm ngửi mùi hôi thối không chịu nổi"
    with httpx.Client() as client:
        start_and_consent(client, setup)
        code = file_report(client, setup, report)
    with session_scope(setup.db_url) as session:
        ticket = session.scalar(select(Ticket).where(Ticket.code == code))
        assert ticket.category == "moi_truong" and not ticket.needs_triage
        assert not session.get(OrgUnit, ticket.unit_id).is_triage


def test_citizen_withdraws_own_ticket_but_not_someone_elses(setup):
    with httpx.Client() as owner, httpx.Client() as stranger:
        start_and_consent(owner, setup)
        code = file_report(owner, setup, REPORT)
        refused = say(stranger, setup, text=f"/huy {code}")
        assert "không tìm thấy" in text_of(refused)
        done = " ".join(m["text"] or "" for m in say(owner, setup, text=f"/huy {code}"))
        assert f"{code} đã được rút" in done  # the status push of the ticket core
    with session_scope(setup.db_url) as session:
        ticket = session.scalar(select(Ticket).where(Ticket.code == code))
        assert ticket.status == "withdrawn"
        assert [e.action for e in ticket.events][-1] != "created"


def test_denouncer_is_told_how_identity_is_protected(setup):
    with httpx.Client() as client:
        say(client, setup, text="/start")
        replies = say(client, setup, text=(
            "Tôi xin tố cáo ông trưởng thôn 2 ăn chặn tiền hỗ trợ lũ lụt của các hộ nghèo"))
        text = " ".join(m["text"] or "" for m in replies)
        assert "Luật Tố cáo 2018" in text and "bí mật" in text


def test_citizen_erases_personal_data_after_confirming(setup):
    with httpx.Client() as client:
        start_and_consent(client, setup)
        code = file_report(client, setup, REPORT)
        kept = press(client, setup, say(client, setup, text="/xoadulieu"), "Không xóa")
        assert "giữ nguyên" in kept[0]["text"]
        with session_scope(setup.db_url) as session:
            ticket = session.scalar(select(Ticket).where(Ticket.code == code))
            assert ticket.text == REPORT
            citizen = session.get(Citizen, ticket.citizen_id)
            senders = [f"{i.channel}:{i.external_id}" for i in citizen.identities]
            assert all(session.get(ConversationTracker, sender) for sender in senders)
        done = press(client, setup, say(client, setup, text="/xoadulieu"), "Xóa dữ liệu")
        assert "đã được xóa" in " ".join(m["text"] or "" for m in done)
    with session_scope(setup.db_url) as session:
        ticket = session.scalar(select(Ticket).where(Ticket.code == code))
        assert ticket.text != REPORT and ticket.status == "withdrawn"
        assert all(session.get(ConversationTracker, sender) is None for sender in senders)
        inbox = session.scalars(select(InboxMessage).where(
            InboxMessage.sender_external_id.in_([s.split(":", 1)[1] for s in senders])))
        assert all(row.text is None for row in inbox)


def test_citizen_rates_the_answer_with_a_button(setup):
    from zoneinfo import ZoneInfo

    from bot.core import desk
    from bot.core.authz import Caller
    from bot.core.context import CoreContext

    ctx = CoreContext.build(ZoneInfo("Asia/Ho_Chi_Minh"))
    with httpx.Client() as client:
        start_and_consent(client, setup)
        code = file_report(client, setup, REPORT)
        with session_scope(setup.db_url) as session:
            ticket = session.scalar(select(Ticket).where(Ticket.code == code))
            head = session.scalar(select(Officer).join(OfficerRole).where(
                OfficerRole.role == "unit_head", Officer.unit_id == ticket.unit_id))
            officer = Caller.officer(head.id)
            desk.accept(session, officer, code, ctx, kind="phan_anh", category=ticket.category)
            desk.assign(session, officer, code, ctx, officer_id=head.id)
            desk.start_work(session, officer, code, ctx)
            desk.resolve(session, officer, code, ctx, "Đã nạo vét cống thôn 3.")
        pushed = client.get(f"{setup.web}/api/chat/messages", timeout=30).json()["messages"]
        answer = [m for m in pushed if "Đã nạo vét" in (m["text"] or "")]
        assert answer, pushed
        rated = press(client, setup, answer, "5 ★")
        assert "đã đánh giá 5/5" in text_of(rated)
        assert "góp ý" in text_of(rated)  # the optional comment
        thanked = say(client, setup, text="Cán bộ xử lý nhanh, cảm ơn <b>xã</b> & thôn")
        assert "đã ghi nhận ý kiến" in text_of(thanked)
    with session_scope(setup.db_url) as session:
        ticket = session.scalar(select(Ticket).where(Ticket.code == code))
        assert (ticket.status, ticket.rating) == ("closed", 5)
        assert ticket.rating_comment == "Cán bộ xử lý nhanh, cảm ơn <b>xã</b> & thôn"


def test_redelivered_web_message_is_handled_once(setup):
    with httpx.Client() as client:
        first = say(client, setup, text="xin chào", client_message_id="same-id")
        again = say(client, setup, text="xin chào", client_message_id="same-id")
    assert first and again == []
    with session_scope(setup.db_url) as session:
        rows = session.scalars(select(InboxMessage).where(
            InboxMessage.platform_message_id.endswith(":same-id")))
        assert len(list(rows)) == 1


def test_terminal_chat_holds_a_conversation_through_rasa(setup):
    script = f"xin chào\n1\n{REPORT}\n1\n1\n1\nthoát\n"  # Đồng ý, Bỏ qua ×2, Gửi
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "chat", "--user", "ong-ba-test"], input=script,
        capture_output=True, text=True, env=setup.env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "Bot: Dạ" in result.stdout
    assert "[1] Gửi" in result.stdout
    code = CODE.search(result.stdout.split("[1] Gửi", 1)[1])
    assert code, result.stdout
    with session_scope(setup.db_url) as session:
        ticket = session.scalar(select(Ticket).where(Ticket.code == code[0]))
        assert ticket.channel == "cli"


def test_telegram_user_files_a_report_with_buttons(setup):
    fake, chat = setup.telegram, 777001
    fake.user_says(chat, "/start")
    greeting = fake.wait_for(lambda m: m["chat_id"] == chat)
    assert greeting["text"].startswith("Dạ")
    notice = fake.wait_for(lambda m: m["chat_id"] == chat
                           and "Đồng ý" in fake.button_titles(m))
    fake.user_presses(chat, notice, "Đồng ý")
    fake.wait_for(lambda m: m["chat_id"] == chat and m["text"].startswith("Dạ, cảm ơn"))
    fake.user_says(chat, REPORT)
    media = fake.wait_for(lambda m: m["chat_id"] == chat and "ảnh" in m["text"]
                          and "Bỏ qua" in fake.button_titles(m))
    fake.user_presses(chat, media, "Bỏ qua")
    phone = fake.wait_for(lambda m: m["chat_id"] == chat and "số điện thoại" in m["text"]
                          and "Bỏ qua" in fake.button_titles(m))
    fake.user_presses(chat, phone, "Bỏ qua")
    confirm = fake.wait_for(lambda m: m["chat_id"] == chat and "Gửi" in fake.button_titles(m))
    fake.user_presses(chat, confirm, "Gửi")
    receipt = fake.wait_for(lambda m: m["chat_id"] == chat and CODE.search(m["text"]))
    # The receipt is followed (1 s later: one message per second per chat) by the optional
    # training question; every reply is then sent and recorded with Telegram's message id.
    fake.wait_for(lambda m: m["chat_id"] == chat and m["text"] == TRAINING_QUESTION)
    with session_scope(setup.db_url) as session:
        code = CODE.search(receipt["text"])[0]
        ticket = session.scalar(select(Ticket).where(Ticket.code == code))
        assert ticket.channel == "telegram"
    assert wait_until(lambda: all_sent_to(setup, chat)), "a reply was not sent"


def all_sent_to(setup, chat: int) -> bool:
    with session_scope(setup.db_url) as session:
        rows = session.scalars(select(OutboxMessage).where(
            OutboxMessage.recipient_external_id == str(chat))).all()
        return bool(rows) and all(row.status == "sent" and row.platform_message_id
                                  for row in rows)


def wait_until(condition, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def test_telegram_user_who_blocked_the_bot_is_not_retried(setup):
    fake, chat = setup.telegram, 666001
    fake.blocked.add(chat)
    fake.user_says(chat, "xin chào")
    deadline = time.monotonic() + 60
    rows: list[OutboxMessage] = []
    while time.monotonic() < deadline:
        with session_scope(setup.db_url) as session:
            rows = list(session.scalars(select(OutboxMessage).where(
                OutboxMessage.recipient_external_id == str(chat))))
        if rows and all(row.status == "failed" for row in rows):
            break
        time.sleep(0.5)
    assert rows and all(row.status == "failed" for row in rows)
    assert all(row.attempts == 1 and "blocked by the user" in row.last_error for row in rows)


def test_supervisor_restarts_a_dead_process(setup):
    before = setup.pids()
    os.killpg(before["actions"], signal.SIGKILL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and setup.pids()["actions"] == before["actions"]:
        time.sleep(0.5)
    after = setup.pids()
    assert after["actions"] != before["actions"]
    assert after["rasa"] == before["rasa"] and after["bot"] == before["bot"]
    assert "Tiến trình actions đã dừng" in setup.output.read_text()


def test_sigterm_stops_everything(setup):
    pids = setup.pids()
    setup.process.send_signal(signal.SIGTERM)
    assert setup.process.wait(timeout=60) == 0
    for pid in pids.values():
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert "Đã dừng tất cả tiến trình." in setup.output.read_text()
