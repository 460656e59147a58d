"""The citizen's journey end to end on the running default setup (real Rasa model, real
actions, real HTTP): a photo report with a location pin and a phone on Telegram, the web chat's
area buttons, upload and kind choice, a request for information answered, a reply to a ticket
message, bad input, a crafted intent payload, and a restart in the middle of a form."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select

from bot.core import desk
from bot.core.authz import Caller
from bot.core.context import CoreContext
from bot.dialogue.pipeline import INFO_ADDED_TEXT, INTRO_TEXT, UNSUPPORTED_TEXT
from bot.store.db import session_scope
from bot.store.files import LocalFileStorage
from bot.store.models import Attachment, Citizen, Officer, OfficerRole, Ticket, TicketNote
from tests.e2e import (
    CODE,
    press,
    running_setup,
    say,
    start_and_consent,
    telegram_consent,
    telegram_report,
    text_of,
    ticket,
    to_summary,
)

PHOTO = b"\xff\xd8\xff\xe0JFIF" + bytes(range(256)) * 8
CTX = CoreContext.build(ZoneInfo("Asia/Ho_Chi_Minh"))


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    with running_setup(tmp_path_factory.mktemp("journey")) as running:
        yield running


def head_of(session, unit_id: int) -> Caller:
    head = session.scalar(select(Officer).join(OfficerRole).where(
        OfficerRole.role == "unit_head", Officer.unit_id == unit_id))
    return Caller.officer(head.id)


def work_on(setup, code: str, then: str, text: str) -> None:
    """The unit head accepts, takes and starts the ticket, then resolves it or asks for info."""
    with session_scope(setup.db_url) as session:
        found = session.scalar(select(Ticket).where(Ticket.code == code))
        head = head_of(session, found.unit_id)
        desk.accept(session, head, code, CTX, kind=found.kind, category=found.category)
        desk.assign(session, head, code, CTX, officer_id=head.id)
        desk.start_work(session, head, code, CTX)
        if then == "resolve":
            desk.resolve(session, head, code, CTX, text)
        else:
            desk.ask_for_information(session, head, code, CTX, text)


def after(fake, chat: int, count: int, predicate=lambda m: True) -> dict:
    """The first message to `chat` sent after the first `count` messages of the fake."""
    return fake.wait_for(lambda m: m["chat_id"] == chat and fake.sent.index(m) >= count
                         and predicate(m))


def test_telegram_photo_report_with_pin_and_phone(setup):
    fake, chat = setup.telegram, 888001
    report = "Cống thoát nước ở đây bị tắc, nước tràn cả ra đường <b>gấp</b> & *nguy hiểm*"
    fake.user_sends_photo(chat, PHOTO, caption=report)
    intro = fake.wait_for(lambda m: m["chat_id"] == chat)  # first contact: who we are
    assert intro["text"] == INTRO_TEXT
    where = fake.wait_for(lambda m: m["chat_id"] == chat and "Thôn 3" in fake.button_titles(m))
    assert "vị trí" in where["text"]
    fake.user_sends_location(chat, 16.46372, 107.59086)
    fake.wait_for(lambda m: m["chat_id"] == chat and "số điện thoại" in m["text"]
                  and "Bỏ qua" in fake.button_titles(m))
    assert not any("ảnh, video hoặc" in m["text"] for m in fake.sent if m["chat_id"] == chat)
    fake.user_says(chat, "0905 123 456")
    summary = fake.wait_for(lambda m: m["chat_id"] == chat and "Gửi" in fake.button_titles(m))
    for shown in (report, "Vị trí GPS 16.46372, 107.59086", "1 tệp", "0905123456"):
        assert shown in summary["text"], summary["text"]
    assert summary["parse_mode"] is None  # echoed verbatim, nothing interpreted
    fake.user_presses(chat, summary, "Gửi")
    notice = fake.wait_for(lambda m: m["chat_id"] == chat and "Đồng ý" in fake.button_titles(m))
    fake.user_presses(chat, notice, "Đồng ý")
    receipt = fake.wait_for(lambda m: m["chat_id"] == chat and CODE.search(m["text"]))
    assert "Đã nhận kèm 1 tệp" in receipt["text"]
    code = CODE.search(receipt["text"])[0]
    with session_scope(setup.db_url) as session:
        filed = session.scalar(select(Ticket).where(Ticket.code == code))
        assert filed.text == report and filed.channel == "telegram"
        assert (round(filed.latitude, 5), round(filed.longitude, 5)) == (16.46372, 107.59086)
        [photo] = session.scalars(select(Attachment).where(Attachment.ticket_id == filed.id))
        assert photo.media_type == "photo"
        storage = LocalFileStorage(setup.root / "files")
        assert storage.get(photo.storage_key) == PHOTO
        assert session.get(Citizen, filed.citizen_id).phone == "0905123456"


def test_telegram_bad_input_crafted_payload_and_reply_to_a_ticket_message(setup):
    fake, chat = setup.telegram, 888002
    telegram_consent(fake, chat)
    count = len(fake.sent)
    fake.user_sends_sticker(chat)
    assert after(fake, chat, count)["text"] == UNSUPPORTED_TEXT
    code = telegram_report(fake, chat, "Đèn đường ở Thôn 1 tắt cả tuần nay, buổi tối rất tối",
                           since=count)
    work_on(setup, code, "resolve", "Đã thay bóng đèn thôn 1.")
    answer = fake.wait_for(lambda m: m["chat_id"] == chat and "Đã thay bóng" in m["text"])
    assert "5 ★" in fake.button_titles(answer)
    count = len(fake.sent)
    fake.user_says(chat, f'/rate{{"ticket_code":"{code}","rating":"1"}}')  # typed, not pressed
    after(fake, chat, count)
    assert (ticket(setup, code).status, ticket(setup, code).rating) == ("resolved", None)
    count = len(fake.sent)
    fake.user_replies(chat, answer, "Dạ, bóng ở cột số 12 vẫn chưa sáng")
    assert after(fake, chat, count)["text"] == INFO_ADDED_TEXT.format(code=code)
    with session_scope(setup.db_url) as session:
        notes = session.scalars(select(TicketNote.text).join(Ticket).where(Ticket.code == code))
        assert "Dạ, bóng ở cột số 12 vẫn chưa sáng" in list(notes)


def test_web_area_button_upload_and_chosen_kind(setup):
    report = "Đoạn đường vào trường tiểu học bị sụt lún, xe máy đi qua rất dễ ngã"
    with httpx.Client() as client:
        start_and_consent(client, setup)
        where = say(client, setup, text=report)
        files = press(client, setup, where, "Thôn Đông")
        assert "ảnh" in text_of(files)
        uploaded = client.post(f"{setup.web}/api/chat/upload", timeout=60,
                               files={"file": ("cong.jpg", PHOTO, "image/jpeg")})
        assert uploaded.status_code == 200
        replies = uploaded.json()["messages"]
        assert "đã nhận tệp" in text_of(replies)
        summary = to_summary(client, setup, replies)
        assert "1 tệp" in text_of(summary) and "Thôn Đông" in text_of(summary)
        kinds = press(client, setup, summary, "Đổi loại đơn")
        summary = press(client, setup, kinds, "Kiến nghị")
        assert "Loại đơn: Kiến nghị" in text_of(summary)
        receipt = press(client, setup, summary, "Gửi")
        code = CODE.search(text_of(receipt))[0]
    filed = ticket(setup, code)
    assert (filed.kind, filed.kind_intended) == ("kien_nghi", "kien_nghi")
    assert filed.location_text == "Thôn Đông" and filed.area_id is not None
    with session_scope(setup.db_url) as session:
        assert len(session.scalars(select(Attachment).where(
            Attachment.ticket_id == filed.id)).all()) == 1


def test_web_answer_to_a_request_for_information_joins_the_ticket(setup):
    with httpx.Client() as client:
        start_and_consent(client, setup)
        summary = to_summary(client, setup, say(client, setup, text=(
            "Bãi rác tự phát ở Thôn 2 bốc mùi hôi, ruồi nhặng bay vào nhà dân")))
        code = CODE.search(text_of(press(client, setup, summary, "Gửi")))[0]
        work_on(setup, code, "ask", "Ông/Bà cho biết bãi rác nằm gần nhà ai, đường nào?")
        pushed = client.get(f"{setup.web}/api/chat/messages", timeout=30).json()["messages"]
        assert "gần nhà ai" in text_of(pushed)
        answer = say(client, setup, text="Dạ, bãi rác ở cuối đường bê tông, gần nhà ông Tư")
        assert INFO_ADDED_TEXT.format(code=code) in text_of(answer)
    filed = ticket(setup, code)
    assert filed.status == "in_progress"
    with session_scope(setup.db_url) as session:
        notes = list(session.scalars(select(TicketNote.text).where(
            TicketNote.ticket_id == filed.id, TicketNote.kind == "citizen")))
        assert notes == ["Dạ, bãi rác ở cuối đường bê tông, gần nhà ông Tư"]
        assert len(session.scalars(select(Ticket).where(
            Ticket.citizen_id == filed.citizen_id)).all()) == 1


def test_a_form_survives_a_restart(setup):
    report = "Cây xanh trước nhà văn hóa bị gió làm gãy cành, nằm chắn ngang lối đi"
    with httpx.Client() as client:
        start_and_consent(client, setup)
        where = say(client, setup, text=report)
        assert "ở đâu" in text_of(where)
        setup.stop()
        setup.start()
        files = say(client, setup, text="nhà văn hóa Thôn 3")
        assert "ảnh" in text_of(files), files  # the form went on where it was
        summary = to_summary(client, setup, files)
        assert report in text_of(summary)
        code = CODE.search(text_of(press(client, setup, summary, "Gửi")))[0]
    assert ticket(setup, code).text == report
