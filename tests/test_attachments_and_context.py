"""Files, pins and context without Rasa: files staged against their inbox message go with the
report being drafted (or are dropped with it); a message from a citizen whose ticket waits for
information, or a reply to a message about a ticket, is added to that ticket and never reaches
the conversation (Rasa is on a closed port here, so it could not answer anyway)."""

from __future__ import annotations

import asyncio
import socket
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.core import attachments, desk, service
from bot.core.authz import Caller
from bot.core.messaging import Inbound, store_inbound
from bot.dialogue.pipeline import FILE_FAILED_TEXT, INFO_ADDED_TEXT, UNSUPPORTED_TEXT, Pipeline
from bot.dialogue.rasa_client import RasaClient
from bot.dialogue.turns import dialogue_text
from bot.settings import load_settings
from bot.store.db import session_scope
from bot.store.files import LocalFileStorage
from bot.store.models import (
    Attachment,
    ChannelIdentity,
    Citizen,
    InboxMessage,
    Officer,
    OutboxMessage,
    Ticket,
    TicketNote,
)
from tests.helpers import NOW, context

PHOTO = b"\xff\xd8\xff\xe0" + b"photo of the blocked drain" * 40


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def inbound(url: str, text: str | None = None, sender: str = "c1", photo: bytes | None = None,
            **payload) -> int:
    with session_scope(url) as session:
        if photo is not None:
            payload["media"] = [{"type": "photo", "content_type": "image/jpeg"}]
        row = store_inbound(session, Inbound("web", f"m{len(str(payload))}-{text}-{id(payload)}",
                                             sender, text, payload), NOW)
        if photo is not None:
            attachments.stage_attachment(session, storage(), row.id, "image/jpeg", photo)
        return row.id


def storage() -> LocalFileStorage:
    return LocalFileStorage(load_settings().storage_dir)


def replies(url: str, inbox_id: int) -> list[str]:
    with session_scope(url) as session:
        return [r.text for r in session.scalars(select(OutboxMessage).where(
            OutboxMessage.in_reply_to == inbox_id).order_by(OutboxMessage.id))]


def run(url: str, *inbox_ids: int, at=NOW) -> None:
    async def go() -> None:
        rasa = RasaClient(f"http://127.0.0.1:{closed_port()}", "t", timeout=2)
        pipeline = Pipeline(url, rasa, clock=lambda: at)
        for inbox_id in inbox_ids:
            await pipeline.process_inbound(inbox_id)
        await rasa.aclose()

    asyncio.run(go())


def seen(url: str, inbox_id: int) -> str:
    with session_scope(url) as session:
        return dialogue_text(session, session.get(InboxMessage, inbox_id))


def test_files_pins_and_shared_phones_reach_rasa_as_bot_written_intents(app_env):
    assert seen(app_env, inbound(app_env, photo=PHOTO)) == "/attach"
    assert seen(app_env, inbound(app_env, "cống tắc", photo=PHOTO)) == "cống tắc"
    pin = {"latitude": 16.463721, "longitude": 107.590862}
    assert seen(app_env, inbound(app_env, location_pin=pin)) == (
        '/inform_location{"location": "Vị trí GPS 16.46372, 107.59086", '
        '"latitude": "16.463721", "longitude": "107.590862"}')
    assert seen(app_env, inbound(app_env, location_pin={"latitude": 99, "longitude": 0})) == ""
    assert seen(app_env, inbound(app_env, contact_phone="+84 905 123 456")) == (
        '/inform_phone{"phone": "84905123456"}')


def test_unsupported_and_failed_files_are_answered_without_rasa(app_env):
    sticker = inbound(app_env, unsupported="sticker")
    too_big = inbound(app_env, media_failed=[{"type": "video", "reason": "too_large"}])
    captioned = inbound(app_env, "đơn của tôi đây ạ", unsupported="document")
    run(app_env, sticker, too_big, captioned)
    assert replies(app_env, sticker) == [UNSUPPORTED_TEXT]
    assert replies(app_env, too_big) == [FILE_FAILED_TEXT]
    assert seen(app_env, captioned) == "đơn của tôi đây ạ"  # the words still go to the dialogue
    with session_scope(app_env) as session:
        assert session.get(InboxMessage, captioned).status == "pending"  # Rasa is down here
    with session_scope(app_env) as session:
        assert session.get(InboxMessage, sticker).status == "done"


def test_draft_files_go_with_the_filed_report_and_one_copy_is_kept(app_env):
    ctx = context()
    inbound(app_env, photo=PHOTO)
    inbound(app_env, "cống tắc", photo=PHOTO)  # the same photo again: one file on disk
    other = inbound(app_env, sender="someone-else", photo=b"\xff\xd8" + b"x" * 100)
    receipt = service.submit_report("web:c1", "Cống thôn 3 tắc", "Thôn 3", "inbox:9", ctx=ctx,
                                    latitude=16.46, longitude=107.59, phone="0905123456")
    assert receipt.attachments == 2
    with session_scope(app_env) as session:
        ticket = session.scalar(select(Ticket).where(Ticket.code == receipt.code))
        files = session.scalars(select(Attachment).where(Attachment.ticket_id == ticket.id)).all()
        assert {f.storage_key for f in files} == {files[0].storage_key}
        assert storage().get(files[0].storage_key) == PHOTO
        assert (ticket.latitude, ticket.longitude) == (16.46, 107.59)
        assert session.get(Citizen, ticket.citizen_id).phone == "0905123456"
        [theirs] = attachments.of_inbox(session, other)
        assert theirs.ticket_id is None  # someone else's draft is not touched
    again = service.submit_report("web:c1", "Cống thôn 3 tắc", "Thôn 3", "inbox:9", ctx=ctx)
    assert (again.code, again.attachments) == (receipt.code, 2)  # a retry: same ticket


def test_a_cancelled_draft_drops_its_files_but_keeps_a_shared_copy(app_env):
    inbound(app_env, photo=PHOTO, sender="c1")
    inbound(app_env, photo=PHOTO, sender="c2")  # same bytes, another citizen's draft
    with session_scope(app_env) as session:
        key = session.scalar(select(Attachment.storage_key))
    with session_scope(app_env) as session:
        mine = attachments.staged(session, "web", "c1", NOW)
        assert attachments.discard(session, storage(), mine) == 1
    assert storage().get(key) == PHOTO
    with session_scope(app_env) as session:
        theirs = attachments.staged(session, "web", "c2", NOW)
        attachments.discard(session, storage(), theirs)
    with pytest.raises(FileNotFoundError):
        storage().get(key)


def take_up(session, code: str, ctx) -> Caller:
    """The unit head accepts the ticket, takes it and starts work; returns the head."""
    head = Caller.officer(session.scalar(select(Officer.id).where(
        Officer.username == "truongkt")))
    desk.accept(session, head, code, ctx, kind="phan_anh", category="ha_tang")
    desk.assign(session, head, code, ctx, officer_id=head.id)
    desk.start_work(session, head, code, ctx)
    return head


def ask_for_information(url: str, code: str) -> None:
    ctx = context()
    with session_scope(url) as session:
        head = take_up(session, code, ctx)
        desk.ask_for_information(session, head, code, ctx, "Ông/Bà gửi giúp ảnh chụp cống.")


def test_the_message_after_a_request_for_information_is_added_to_that_ticket(app_env):
    code = service.submit_report("web:c1", "Cống thôn 3 tắc", "Thôn 3", "inbox:1",
                                 category="ha_tang", ctx=context()).code
    ask_for_information(app_env, code)
    answer = inbound(app_env, "Dạ, ảnh đây, cống ở đầu ngõ 4", photo=PHOTO)
    run(app_env, answer, answer)  # processed twice (a retry): one note
    assert replies(app_env, answer) == [INFO_ADDED_TEXT.format(code=code)]
    with session_scope(app_env) as session:
        ticket = session.scalar(select(Ticket).where(Ticket.code == code))
        assert ticket.status == "in_progress"
        notes = session.scalars(select(TicketNote).where(
            TicketNote.ticket_id == ticket.id, TicketNote.kind == "citizen")).all()
        assert [n.text for n in notes] == ["Dạ, ảnh đây, cống ở đầu ngõ 4"]
        assert [a.ticket_id for a in attachments.of_inbox(session, answer)] == [ticket.id]
        assert len(session.scalars(select(Ticket)).all()) == 1
    later = inbound(app_env, "đường thôn 2 cũng ngập")  # in_progress, relay over: dialogue
    run(app_env, later, at=NOW + timedelta(hours=load_settings().relay_hours, minutes=1))
    with session_scope(app_env) as session:
        assert session.get(InboxMessage, later).status == "pending"  # waiting for Rasa


def test_a_reply_to_a_message_about_a_ticket_is_added_to_it(app_env):
    code = service.submit_report("web:c1", "Đèn đường thôn 1 hỏng", "Thôn 1", "inbox:1",
                                 category="ha_tang", ctx=context()).code
    with session_scope(app_env) as session:
        ticket = session.scalar(select(Ticket).where(Ticket.code == code))
        desk.accept(session, Caller.officer(session.scalar(select(Officer.id).where(
            Officer.username == "truongkt"))), code, context(), kind="phan_anh",
            category="ha_tang")
        push = session.scalar(select(OutboxMessage).where(OutboxMessage.ticket_id == ticket.id,
                                                          OutboxMessage.recipient_external_id
                                                          == "c1"))
        push.platform_message_id = "4242"
    stranger = inbound(app_env, "thêm thông tin", sender="c2", reply_to="4242")
    mine = inbound(app_env, "Đèn ở cột số 12 ạ", reply_to="4242")
    run(app_env, stranger, mine)
    assert replies(app_env, mine) == [INFO_ADDED_TEXT.format(code=code)]
    with session_scope(app_env) as session:
        assert session.get(InboxMessage, stranger).status == "pending"  # not theirs: dialogue
        ticket = session.scalar(select(Ticket).where(Ticket.code == code))
        assert [n.text for n in session.scalars(select(TicketNote).where(
            TicketNote.ticket_id == ticket.id))] == ["Đèn ở cột số 12 ạ"]


def test_not_satisfied_escalates_when_so_configured(app_env):
    ctx = context()
    code = service.submit_report("web:c1", "Cống thôn 3 tắc", "Thôn 3", "inbox:1",
                                 category="ha_tang", ctx=ctx).code
    with session_scope(app_env) as session:
        head = take_up(session, code, ctx)
        desk.resolve(session, head, code, ctx, "Đã nạo vét.")
        session.add(ChannelIdentity(channel="telegram", external_id="9001", officer_id=head.id))
        before = len(session.scalars(select(OutboxMessage)).all())
    service.reopen_not_satisfied("web:c1", code, "", ctx=ctx, escalate=False)
    with session_scope(app_env) as session:
        texts = [m.text for m in session.scalars(select(OutboxMessage))][before:]
        assert not any("chưa hài lòng với kết quả" in t for t in texts)
        desk.resolve(session, head, code, ctx, "Đã nạo vét lại.")
        before = len(session.scalars(select(OutboxMessage)).all())
    service.reopen_not_satisfied("web:c1", code, "", ctx=ctx, escalate=True)
    service.add_reason("web:c1", code, "Vẫn còn ngập", ctx=ctx)
    with session_scope(app_env) as session:
        escalations = [m for m in session.scalars(select(OutboxMessage))][before:]
        assert any("chưa hài lòng với kết quả đơn " + code in (m.text or "")
                   and m.officer_id is not None for m in escalations)
        ticket = session.scalar(select(Ticket).where(Ticket.code == code))
        assert ticket.events[-1].data["escalated"] is True
        assert "Vẫn còn ngập" in [n.text for n in session.scalars(select(TicketNote))]


def test_the_sweep_waits_for_files_still_being_downloaded(app_env):
    from datetime import timedelta

    downloading = inbound(app_env, media=[{"type": "photo", "platform_file_id": "f1"}])
    plain = inbound(app_env, "xin chào")

    async def sweep(at) -> int:
        rasa = RasaClient(f"http://127.0.0.1:{closed_port()}", "t", timeout=2)
        swept = await Pipeline(app_env, rasa, clock=lambda: at).sweep_pending()
        await rasa.aclose()
        return swept

    assert asyncio.run(sweep(NOW + timedelta(seconds=30))) == 1  # the plain text only
    with session_scope(app_env) as session:
        assert session.get(InboxMessage, downloading).attempts == 0
        assert session.get(InboxMessage, plain).attempts == 1
    assert asyncio.run(sweep(NOW + timedelta(minutes=6))) == 2  # given up waiting
