"""Officers' quick actions in chat, through the pipeline on a real database (SQLite and
PostgreSQL) and through the real PTB Telegram channel against the fake Bot API on 127.0.0.1:
/hangdoi, /don CODE, the help line, the "Nhận xử lý" / "Chi tiết" buttons, and every press
authorised again on the server (forged keys, forwarded buttons, a relinked account, an officer
outside the ticket's scope are refused politely and change nothing). Rasa is a closed port: an
officer's message never needs it."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from bot.channels.base import deliver_due
from bot.core import desk, service
from bot.core.authz import Caller
from bot.core.messaging import Inbound, Outbound, queue_outbound, store_inbound
from bot.core.notices import ticket_buttons, ticket_link
from bot.core.officers import create_invite
from bot.core.taxonomy import ActorType
from bot.core.tickets import Actor, update_fields
from bot.dialogue import officer_chat as chat
from bot.dialogue.pipeline import UNAVAILABLE_TEXT, Pipeline
from bot.dialogue.rasa_client import RasaClient
from bot.settings import Settings, load_settings
from bot.store.db import session_scope
from bot.store.desk_models import NluCorrection
from bot.store.models import DataAccessLog, InboxMessage, Officer, OutboxMessage, Ticket
from tests.conftest import BACKENDS
from tests.fake_telegram import FakeTelegram
from tests.helpers import NOW, context, ticket
from tests.test_escalation import link
from tests.test_pipeline import closed_port
from tests.test_telegram_channel import polling_bot

OWNER, COLLEAGUE, OUTSIDER, CITIZEN = "7001", "7002", "7003", "8001"
SYSTEM = Actor(ActorType.SYSTEM, None, "system")
_ids = itertools.count(1)


def officer_id(db_url: str, username: str) -> int:
    with session_scope(db_url) as session:
        return session.scalar(select(Officer.id).where(Officer.username == username))


def report(text: str = "Đèn đường thôn 3 hỏng cả tuần nay", category: str = "ha_tang",
           kind: str = "phan_anh", now: datetime = NOW, **kwargs) -> str:
    """A citizen's report (web chat), filed through the service; routed to Phòng Kinh tế."""
    key = f"test:{next(_ids)}"
    return service.submit_report("web:c1", text, "thôn 3", key, category=category, kind=kind,
                                 ctx=context(now), phone="0901234567", **kwargs).code


def set_officer(db_url: str, code: str, username: str | None) -> None:
    """Test setup: who holds the ticket before the officer acts (an audited change)."""
    holder = officer_id(db_url, username) if username else None
    with session_scope(db_url) as session:
        found = session.scalar(select(Ticket).where(Ticket.code == code))
        update_fields(session, found, SYSTEM, context(), action="reassigned", officer_id=holder)


def close(db_url: str, code: str) -> None:
    """Test setup: the unit head declines the ticket (a final status)."""
    head = Caller.officer(officer_id(db_url, "truongkt"))
    with session_scope(db_url) as session:
        desk.reject(session, head, code, context(), "Không thuộc thẩm quyền xã", "UBND tỉnh")


def events(db_url: str, code: str) -> list[tuple[str, str | None, str]]:
    with session_scope(db_url) as session:
        found = session.scalar(select(Ticket).where(Ticket.code == code))
        return [(e.action, e.to_status, e.channel) for e in found.events]


def notice(db_url: str, chat_id: str, code: str, username: str) -> int:
    """An officer's chat notice with the buttons CORE-B's notify puts on it."""
    holder = officer_id(db_url, username)
    with session_scope(db_url) as session:
        return queue_outbound(session, Outbound(
            "telegram", chat_id, f"Thông báo thử: đơn {code}", ticket_buttons(code),
            officer_id=holder), f"test-notice:{next(_ids)}", NOW).id


def _handle(db_url: str, inbound: Inbound) -> list[tuple[str, list]]:
    with session_scope(db_url) as session:
        inbox_id = store_inbound(session, inbound, NOW).id

    async def run() -> None:
        rasa = RasaClient(f"http://127.0.0.1:{closed_port()}", "token", timeout=2)
        bot = Pipeline(db_url, rasa, clock=lambda: NOW)
        await bot.process_inbound(inbox_id)
        await bot.rasa.aclose()

    asyncio.run(run())
    with session_scope(db_url) as session:
        assert session.get(InboxMessage, inbox_id).status == "done"
        return [(r.text, r.buttons) for r in session.scalars(select(OutboxMessage).where(
            OutboxMessage.in_reply_to == inbox_id).order_by(OutboxMessage.id))]


def say(db_url: str, chat_id: str, text: str) -> list[tuple[str, list]]:
    return _handle(db_url, Inbound("telegram", f"{chat_id}:{next(_ids)}", chat_id, text))


def press(db_url: str, chat_id: str, key: str) -> list[tuple[str, list]]:
    return _handle(db_url, Inbound("telegram", f"cb:{next(_ids)}", chat_id, None,
                                   {"button": key}))


def only_text(replies: list[tuple[str, list]]) -> str:
    [(text, _)] = replies
    assert text != UNAVAILABLE_TEXT  # Rasa (a closed port) was never asked
    return text


# --- through the pipeline, both databases ----------------------------------------------------


@pytest.mark.parametrize("empty_db_url", BACKENDS, indirect=True)
class TestPipeline:
    def test_hangdoi_lists_own_open_tickets_urgent_first_then_by_deadline(self, app_env):
        link(app_env, "kinhte", OWNER)
        plain = report()
        urgent = report("Cột điện đổ chắn ngang đường thôn 3", urgent=True)
        other = report("Ổ gà lớn đường liên thôn")
        done = report("Cống thôn 3 tắc")
        for code in (plain, urgent, done):
            set_officer(app_env, code, "kinhte")
        set_officer(app_env, other, "kinhte2")
        close(app_env, done)
        [(text, buttons)] = say(app_env, OWNER, "/hangdoi")
        lines = text.splitlines()
        assert "2 đơn" in lines[0]
        assert lines[1].startswith(f"1. KHẨN · {urgent} · Hạ tầng") and plain in lines[2]
        assert other not in text and done not in text
        assert "Đơn vị còn 3 đơn đang mở" in text and "/desk/" in text
        assert buttons == [{"title": f"Chi tiết {urgent}", "payload": f"officer:show:{urgent}"},
                           {"title": f"Chi tiết {plain}", "payload": f"officer:show:{plain}"}]

    def test_don_shows_status_kind_place_deadlines_identity_and_link_and_logs_access(
            self, app_env):
        link(app_env, "kinhte", OWNER)
        code = report()
        [(text, buttons)] = say(app_env, OWNER, f"/don {code.lower()}")
        assert f"Đơn {code}" in text and "Trạng thái: Đã tiếp nhận" in text
        assert "Loại đơn: Phản ánh · Lĩnh vực: Hạ tầng" in text
        assert "Địa điểm: thôn 3" in text and "Thời hạn thụ lý: " in text
        assert "Nội dung: Đèn đường thôn 3 hỏng" in text and "0901234567" in text
        assert text.endswith(ticket_link(code))
        assert [b["payload"] for b in buttons] == [f"officer:take:{code}"]
        with session_scope(app_env) as session:
            assert session.scalar(select(func.count()).select_from(DataAccessLog).where(
                DataAccessLog.purpose == chat.CHAT_PURPOSE)) == 1
        assert only_text(say(app_env, OWNER, "/don")) == chat.DON_USAGE_TEXT

    def test_to_cao_is_not_found_for_an_ordinary_officer_and_its_words_stay_on_the_desk(
            self, app_env):
        link(app_env, "kinhte", OWNER)
        link(app_env, "chutich", COLLEAGUE)  # denunciation handler, the tố cáo's officer
        code = report("Tố cáo cán bộ địa chính nhận tiền của dân", kind="to_cao",
                      category="can_bo")
        sent = notice(app_env, OWNER, code, "kinhte")  # even a notice sent by mistake
        hidden = chat.NOT_FOUND_TEXT.format(code=code)
        assert only_text(say(app_env, OWNER, f"/don {code}")) == hidden
        assert only_text(press(app_env, OWNER, f"{sent}:0")) == hidden
        assert only_text(press(app_env, OWNER, f"{sent}:1")) == hidden
        assert only_text(say(app_env, OWNER, "/don KN-2026-999999")) == (
            chat.NOT_FOUND_TEXT.format(code="KN-2026-999999"))  # the same as a missing one
        assert [e[0] for e in events(app_env, code)] == ["created"]
        text = only_text(say(app_env, COLLEAGUE, code))  # a bare code works as /don
        assert "Loại đơn: Tố cáo" in text and chat.CONFIDENTIAL_TEXT in text
        assert "nhận tiền" not in text and "0901234567" not in text

    def test_other_text_gets_the_help_line_and_an_invite_still_relinks(self, app_env):
        link(app_env, "kinhte", OWNER)
        text = only_text(say(app_env, OWNER, "xin chào, hôm nay có đơn nào không?"))
        assert "/hangdoi" in text and "/don" in text and "Lê Văn Kinh Tế" in text
        assert f"{load_settings().desk_base_url}/desk/" in text
        with session_scope(app_env) as session:
            officer = session.scalar(select(Officer).where(Officer.username == "kinhte2"))
            invite = create_invite(session, officer, NOW)
        assert "Võ Thị Hạ Tầng" in only_text(say(app_env, OWNER, invite))
        assert "Võ Thị Hạ Tầng" in only_text(say(app_env, OWNER, "/start"))

    def test_take_accepts_a_received_ticket_as_filed_and_assigns_it_to_the_presser(
            self, app_env):
        link(app_env, "kinhte2", OWNER)
        code = report(predicted_category="ha_tang", predicted_kind="phan_anh")
        set_officer(app_env, code, None)
        sent = notice(app_env, OWNER, code, "kinhte2")
        text = only_text(press(app_env, OWNER, f"{sent}:0"))
        assert text.startswith(chat.TAKEN_TEXT.format(code=code))
        assert "Đã thụ lý: Phản ánh · Hạ tầng" in text and "Thời hạn giải quyết" in text
        after = ticket(app_env, code)
        assert (after.status, after.officer_id) == ("assigned", officer_id(app_env, "kinhte2"))
        taken = events(app_env, code)
        assert taken[-2:] == [("accepted", "accepted", "telegram"),
                              ("assigned", "assigned", "telegram")]
        with session_scope(app_env) as session:
            assert session.scalar(select(NluCorrection)) is None  # nothing was corrected
        # pressed again (a double tap, a retry): nothing more happens
        assert only_text(press(app_env, OWNER, f"{sent}:0")) == chat.ALREADY_TEXT.format(
            code=code, status="Đã giao xử lý")
        assert events(app_env, code) == taken

    def test_the_cores_new_ticket_notice_carries_buttons_that_work(self, app_env):
        link(app_env, "kinhte", OWNER)  # the least loaded officer of Phòng Kinh tế
        code = report()
        with session_scope(app_env) as session:
            [sent] = session.scalars(select(OutboxMessage).where(
                OutboxMessage.recipient_external_id == OWNER)).all()
            assert code in sent.text and sent.buttons == ticket_buttons(code)
        assert only_text(press(app_env, OWNER, f"{sent.id}:0")).startswith(
            chat.TAKEN_TEXT.format(code=code))
        assert ticket(app_env, code).status == "accepted"  # already theirs: no assignment

    def test_take_of_a_colleagues_accepted_ticket_assigns_it_and_show_button_works(
            self, app_env):
        link(app_env, "kinhte2", OWNER)
        code = report()
        set_officer(app_env, code, "kinhte")
        sent = notice(app_env, OWNER, code, "kinhte2")
        assert "Đã thụ lý" in only_text(press(app_env, OWNER, f"{sent}:0"))
        assert ticket(app_env, code).officer_id == officer_id(app_env, "kinhte2")
        set_officer(app_env, code, "kinhte")  # the head gives it back to the colleague
        text = only_text(press(app_env, OWNER, f"{sent}:0"))
        assert "Đơn đã được giao cho anh/chị." in text and "Đã thụ lý" not in text
        assert ticket(app_env, code).officer_id == officer_id(app_env, "kinhte2")
        [(details, buttons)] = press(app_env, OWNER, f"{sent}:1")
        assert "Trạng thái: Đã giao xử lý" in details and "Cán bộ: Võ Thị Hạ Tầng" in details
        assert buttons == []  # already theirs: nothing to take

    def test_take_refuses_a_triage_ticket_and_a_closed_one_without_change(self, app_env):
        link(app_env, "tiepnhan", OWNER)
        link(app_env, "kinhte", COLLEAGUE)
        triage = report("Có chuyện cần hỏi xã", category="khac")
        closed = report()
        close(app_env, closed)
        before = events(app_env, triage)
        text = only_text(press(app_env, OWNER, f"{notice(app_env, OWNER, triage, 'tiepnhan')}:0"))
        assert text == chat.TRIAGE_TEXT.format(code=triage, link=ticket_link(triage))
        assert events(app_env, triage) == before and ticket(app_env, triage).status == "received"
        text = only_text(press(app_env, COLLEAGUE,
                               f"{notice(app_env, COLLEAGUE, closed, 'kinhte')}:0"))
        assert text.startswith(f"Dạ, đơn {closed} đang ở trạng thái «Không thụ lý»")

    def test_forged_keys_are_refused_and_change_nothing(self, app_env):
        link(app_env, "kinhte", OWNER)
        link(app_env, "kinhte2", COLLEAGUE)  # same unit: the core alone would let them act
        code = report()
        sent = notice(app_env, OWNER, code, "kinhte")
        before = events(app_env, code)
        for key in (f"{sent}:0", f"{sent}:1", f"{sent}:7", "999999:0", f"officer:take:{code}",
                    "", "0:0"):
            assert only_text(press(app_env, COLLEAGUE, key)) == chat.REFUSED_TEXT, key
        assert only_text(press(app_env, OWNER, f"{sent}:7")) == chat.REFUSED_TEXT
        # typed text that looks like a payload is only text: the help line
        assert "/hangdoi" in only_text(say(app_env, COLLEAGUE, f"officer:take:{code}"))
        assert events(app_env, code) == before and ticket(app_env, code).status == "received"

    def test_a_citizen_pressing_a_forwarded_officer_button_is_refused(self, app_env):
        link(app_env, "kinhte", OWNER)
        code = report()
        sent = notice(app_env, OWNER, code, "kinhte")
        before = events(app_env, code)
        assert only_text(press(app_env, CITIZEN, f"{sent}:0")) == chat.CITIZEN_REFUSED_TEXT
        assert events(app_env, code) == before

    def test_a_relinked_account_cannot_use_the_previous_officers_buttons(self, app_env):
        link(app_env, "kinhte", OWNER)
        code = report()
        sent = notice(app_env, OWNER, code, "kinhte")
        link(app_env, "kinhte2", OWNER)  # the phone now belongs to a colleague
        assert only_text(press(app_env, OWNER, f"{sent}:0")) == chat.REFUSED_TEXT
        assert ticket(app_env, code).status == "received"

    def test_core_refuses_an_officer_outside_the_tickets_scope(self, app_env):
        link(app_env, "vanhoa", OUTSIDER)  # Phòng Văn hóa - Xã hội, not the roads' unit
        code = report()
        sent = notice(app_env, OUTSIDER, code, "vanhoa")  # a notice sent to them by mistake
        before = events(app_env, code)
        assert only_text(press(app_env, OUTSIDER, f"{sent}:0")) == (
            chat.NOT_FOUND_TEXT.format(code=code))
        assert only_text(press(app_env, OUTSIDER, f"{sent}:1")) == (
            chat.NOT_FOUND_TEXT.format(code=code))
        assert events(app_env, code) == before

    def test_a_leader_outside_the_unit_accepts_but_does_not_take_the_ticket(self, app_env):
        link(app_env, "chutich", OWNER)  # leader of the commune: may act on every unit's ticket
        code = report()
        set_officer(app_env, code, "kinhte")
        text = only_text(press(app_env, OWNER, f"{notice(app_env, OWNER, code, 'chutich')}:0"))
        assert "Đã thụ lý" in text and "Đơn vẫn do cán bộ Lê Văn Kinh Tế" in text
        after = ticket(app_env, code)
        assert (after.status, after.officer_id) == ("accepted", officer_id(app_env, "kinhte"))
        text = only_text(press(app_env, OWNER, f"{notice(app_env, OWNER, code, 'chutich')}:0"))
        assert text.startswith(f"Dạ, đơn {code} thuộc Phòng Kinh tế")


# --- through the real Telegram channel -------------------------------------------------------


@pytest.fixture
def settings(fake, app_env, tmp_path) -> Settings:
    return fake.bot_settings(app_env, tmp_path / "var")


@asynccontextmanager
async def telegram_bot(settings: Settings) -> AsyncIterator[None]:
    """The real PTB channel polling the fake Bot API; the notices queued so far delivered."""
    async with polling_bot(settings) as application:
        await deliver_due(application.bot_data["sender"], settings.effective_database_url)
        yield


async def answered(fake: FakeTelegram, chat_id: int, act, starts: str = "Dạ") -> dict:
    """Do `act` (a user's press or message), then the first message to this chat beginning
    with `starts` (the core's notices about the same ticket may come in between)."""
    after = len(fake.sent)
    act()
    return await asyncio.to_thread(fake.wait_for, lambda m: m["chat_id"] == chat_id and (
        fake.sent.index(m) >= after and m["text"].startswith(starts)), 20)


@pytest.mark.timeout(120)
def test_telegram_notice_buttons_work_for_the_officer_and_not_for_forwarded_presses(
        fake, settings, app_env):
    owner, colleague, citizen = int(OWNER), int(COLLEAGUE), int(CITIZEN)
    link(app_env, "kinhte", OWNER)
    link(app_env, "kinhte2", COLLEAGUE)
    code = report(now=datetime.now(UTC))
    set_officer(app_env, code, None)
    notice(app_env, OWNER, code, "kinhte")

    async def scenario() -> list[dict]:
        async with telegram_bot(settings):
            sent = next(m for m in fake.sent if m["text"] == f"Thông báo thử: đơn {code}")
            assert fake.button_titles(sent) == ["Nhận xử lý", "Chi tiết"]
            # the notice forwarded: a citizen and a colleague press its button
            return [await answered(fake, other, lambda o=other: fake.user_presses(
                        o, sent, "Nhận xử lý")) for other in (citizen, colleague)] + [
                await answered(fake, owner, lambda: fake.user_presses(owner, sent, "Chi tiết"),
                               f"Đơn {code}"),
                await answered(fake, owner, lambda: fake.user_presses(owner, sent, "Nhận xử lý"))]

    to_citizen, to_colleague, details, taken = asyncio.run(scenario())
    assert to_citizen["text"] == chat.CITIZEN_REFUSED_TEXT
    assert to_colleague["text"] == chat.REFUSED_TEXT
    assert "Trạng thái: Đã tiếp nhận" in details["text"]
    assert taken["text"].startswith(chat.TAKEN_TEXT.format(code=code))
    assert fake.button_titles(taken) == ["Chi tiết"]
    after = ticket(app_env, code)
    assert (after.status, after.officer_id) == ("assigned", officer_id(app_env, "kinhte"))
    assert [e[0] for e in events(app_env, code)] == [
        "created", "reassigned", "accepted", "assigned"]
    assert fake.calls.count("answerCallbackQuery") == 4


@pytest.mark.timeout(120)
def test_telegram_forged_callback_data_is_refused_and_hangdoi_lists(fake, settings, app_env):
    owner, colleague = int(OWNER), int(COLLEAGUE)
    link(app_env, "kinhte", OWNER)
    link(app_env, "kinhte2", COLLEAGUE)
    code = report(now=datetime.now(UTC))
    set_officer(app_env, code, "kinhte")
    sent_id = notice(app_env, OWNER, code, "kinhte")

    def forged(data: str) -> dict:  # callback data a modified client makes up
        return {"message_id": 1, "date": int(time.time()), "text": "…",
                "reply_markup": {"inline_keyboard": [[{"text": "Nhận xử lý",
                                                       "callback_data": data}]]}}

    async def scenario() -> tuple[list[dict], dict]:
        async with telegram_bot(settings):
            refusals = [await answered(fake, colleague, lambda d=data: fake.user_presses(
                colleague, forged(d), "Nhận xử lý"))
                for data in (f"{sent_id}:0", f"officer:take:{code}", "424242:0")]
            return refusals, await answered(
                fake, owner, lambda: fake.user_says(owner, "/hangdoi@nghedan_bot"))

    refusals, listing = asyncio.run(scenario())
    assert [r["text"] for r in refusals] == [chat.REFUSED_TEXT] * 3
    assert code in listing["text"] and fake.button_titles(listing) == [f"Chi tiết {code}"]
    assert ticket(app_env, code).status == "received"
    assert [e[0] for e in events(app_env, code)] == ["created", "reassigned"]
