"""The Telegram channel for real: the PTB Application (polling or webhook) against the fake Bot
API on 127.0.0.1, the real database and file storage. Rasa is a closed port, so text messages
are stored and postponed (the citizen is told the system is busy), which is enough here."""

from __future__ import annotations

import asyncio
import itertools
import os
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import select
from telegram.ext import Application

from bot.channels import telegram as channel
from bot.channels import telegram_send
from bot.channels.base import deliver_due
from bot.core.attachments import MAX_ATTACHMENT_BYTES
from bot.core.messaging import Outbound, queue_outbound
from bot.dialogue.pipeline import Pipeline
from bot.dialogue.rasa_client import RasaClient
from bot.settings import Settings
from bot.store.db import session_scope
from bot.store.files import LocalFileStorage
from bot.store.models import Attachment, InboxMessage, OutboxMessage
from bot.web.app import start_web

pytestmark = pytest.mark.timeout(120)
SECRET = "webhook-secret_42"
CHAT = 424242


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def settings(fake, db_url, tmp_path) -> Settings:
    return fake.bot_settings(db_url, tmp_path / "var")


def webhook_settings(settings: Settings) -> Settings:
    port = free_port()
    return settings.model_copy(update={"web_host": "127.0.0.1", "web_port": port,
                                       "public_url": f"http://127.0.0.1:{port}/",
                                       "telegram_webhook_secret": SECRET})


def new_pipeline(settings: Settings) -> Pipeline:
    rasa = RasaClient(f"http://127.0.0.1:{free_port()}", "token", timeout=2)
    return Pipeline(settings.effective_database_url, rasa)


@asynccontextmanager
async def polling_bot(settings: Settings) -> AsyncIterator[Application]:
    pipeline = new_pipeline(settings)
    application = channel.build_application(settings, pipeline)
    await channel.start(application)
    try:
        yield application
    finally:
        await channel.stop(application)
        await pipeline.rasa.aclose()


@asynccontextmanager
async def webhook_bot(settings: Settings) -> AsyncIterator[Application]:
    pipeline = new_pipeline(settings)
    application = channel.build_application(settings, pipeline)
    runner = await start_web(settings, pipeline, channel.webhook_routes(application))
    await channel.start(application)
    try:
        yield application
    finally:
        await channel.stop(application)
        await runner.cleanup()
        await pipeline.rasa.aclose()


@asynccontextmanager
async def sending_bot(settings: Settings) -> AsyncIterator[telegram_send.TelegramSender]:
    application = channel.build_application(settings, new_pipeline(settings))
    await application.initialize()
    try:
        yield application.bot_data["sender"]
    finally:
        await application.shutdown()


def platform_id(update: dict) -> str:
    message = update["message"]
    return f"{message['chat']['id']}:{message['message_id']}"


def inbox_row(db_url: str, update: dict) -> InboxMessage | None:
    with session_scope(db_url) as session:
        row = session.scalar(select(InboxMessage).where(
            InboxMessage.platform_message_id == platform_id(update)))
        if row is not None:
            session.expunge(row)
        return row


async def handled(db_url: str, update: dict, timeout: float = 20) -> InboxMessage:
    """The update's inbox row once the pipeline has seen it (files are fetched before)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = inbox_row(db_url, update)
        if row is not None and (row.status != "pending" or row.attempts > 0):
            return row
        await asyncio.sleep(0.1)
    raise AssertionError(f"not handled in time: {platform_id(update)}")


def attachments_of(db_url: str, row: InboxMessage) -> list[Attachment]:
    with session_scope(db_url) as session:
        found = list(session.scalars(select(Attachment).where(Attachment.inbox_id == row.id)))
        session.expunge_all()
        return found


def file_bytes(settings: Settings, attachment: Attachment) -> bytes:
    return LocalFileStorage(settings.storage_dir).get(attachment.storage_key)


def media_of(update: dict, kind: str, index: int = -1) -> dict:
    item = update["message"][kind]
    return item[index] if isinstance(item, list) else item


# --- inbound: media -------------------------------------------------------------------------


def test_photo_keeps_caption_and_largest_size_on_disk(fake, settings, db_url):
    data = b"\xff\xd8\xff\xe0" + os.urandom(5000)

    async def scenario() -> tuple[dict, InboxMessage]:
        async with polling_bot(settings):
            update = fake.user_sends_photo(CHAT, data, caption="Cống thôn 3 bị tắc <b>gấp</b>")
            return update, await handled(db_url, update)

    update, row = asyncio.run(scenario())
    full = media_of(update, "photo")
    assert row.text == "Cống thôn 3 bị tắc <b>gấp</b>"
    assert row.payload == {"media": [{"type": "photo", "platform_file_id": full["file_id"],
                                      "content_type": "image/jpeg", "file_size": len(data)}]}
    [attachment] = attachments_of(db_url, row)
    assert (attachment.media_type, attachment.content_type, attachment.size_bytes) == (
        "photo", "image/jpeg", len(data))
    assert file_bytes(settings, attachment) == data
    assert fake.file_requests == [full["file_id"]]  # the preview size is never fetched


def test_voice_video_and_media_documents_are_kept_with_their_types(fake, settings, db_url):
    sends = [  # (send, expected media type, expected content type)
        (lambda c, d: fake.user_sends_voice(c, d), "voice", "audio/ogg"),
        (lambda c, d: fake.user_sends_voice(c, d, mime=None), "voice", "audio/ogg"),
        (lambda c, d: fake.user_sends_audio(c, d, "audio/mpeg"), "voice", "audio/mpeg"),
        (lambda c, d: fake.user_sends_video(c, d), "video", "video/mp4"),
        (lambda c, d: fake.user_sends_video(c, d, mime=None), "video", "video/mp4"),
        (lambda c, d: fake.user_sends_video_note(c, d), "video", "video/mp4"),
        (lambda c, d: fake.user_sends_document(c, d, "image/png", "a.png"), "photo", "image/png"),
        (lambda c, d: fake.user_sends_document(c, d, "video/quicktime", "b.mov"),
         "video", "video/quicktime"),
    ]

    async def scenario() -> list[tuple[bytes, InboxMessage]]:
        async with polling_bot(settings):
            sent = []
            for chat, (send, _, _) in enumerate(sends, start=1):
                data = os.urandom(3000)
                sent.append((send(chat, data), data))
            return [(d, await handled(db_url, u)) for u, d in sent]

    for (data, row), (_, media_type, content_type) in zip(
            asyncio.run(scenario()), sends, strict=True):
        [media] = row.payload["media"]
        assert (media["type"], media["content_type"], media["file_size"]) == (
            media_type, content_type, len(data)), row.payload
        [attachment] = attachments_of(db_url, row)
        assert (attachment.media_type, attachment.content_type) == (media_type, content_type)
        assert file_bytes(settings, attachment) == data


def test_too_large_or_refused_file_is_recorded_and_not_downloaded(fake, settings, db_url):
    async def scenario() -> tuple[InboxMessage, InboxMessage]:
        async with polling_bot(settings):
            big = fake.user_sends_video(1, b"small really", caption="clip ngập",
                                        declared_size=MAX_ATTACHMENT_BYTES + 1)
            gif = fake.user_sends_document(2, b"GIF89a", "image/gif", "x.gif")
            return await handled(db_url, big), await handled(db_url, gif)

    big, gif = asyncio.run(scenario())
    assert big.payload["media_failed"] == [{"type": "video", "reason": "too_large"}]
    assert big.payload["media"][0]["file_size"] == MAX_ATTACHMENT_BYTES + 1
    assert big.text == "clip ngập"
    assert gif.payload["media_failed"] == [{"type": "photo", "reason": "refused"}]
    assert fake.file_requests == [] and fake.downloads == []
    assert attachments_of(db_url, big) == [] and attachments_of(db_url, gif) == []


def test_failed_download_is_recorded_and_the_message_still_handled(fake, settings, db_url):
    async def scenario() -> tuple[InboxMessage, InboxMessage]:
        async with polling_bot(settings):
            gone = fake.user_sends_photo(1, b"\xff\xd8 photo one")
            fake.files.pop(media_of(gone, "photo")["file_id"])  # getFile: invalid file_id
            broken = fake.user_sends_voice(2, b"voice two")
            fake.files[media_of(broken, "voice")["file_id"]]["data"] = None  # 404
            return await handled(db_url, gone), await handled(db_url, broken)

    for row, kind in zip(asyncio.run(scenario()), ("photo", "voice"), strict=True):
        assert row.payload["media_failed"] == [{"type": kind, "reason": "download_failed"}]
        assert attachments_of(db_url, row) == []
        with session_scope(db_url) as session:  # the pipeline answered it all the same
            assert session.scalar(select(OutboxMessage).where(
                OutboxMessage.in_reply_to == row.id)) is not None


# --- inbound: everything else -----------------------------------------------------------


def test_location_contact_sticker_and_other_kinds_have_their_payloads(fake, settings, db_url):
    cases = [
        (lambda: fake.user_sends_location(1, 16.0471, 108.2062),
         {"location_pin": {"latitude": 16.0471, "longitude": 108.2062}}),
        (lambda: fake.user_sends_location(2, 16.5, 107.5, venue="Nhà văn hoá thôn 3"),
         {"location_pin": {"latitude": 16.5, "longitude": 107.5}}),
        (lambda: fake.user_sends_contact(3, "+84901234567", user_id=3),
         {"contact_phone": "+84901234567"}),
        (lambda: fake.user_sends_contact(4, "+84907654321", user_id=99),
         {"unsupported": "contact"}),
        (lambda: fake.user_sends_contact(5, "+84907654321", user_id=None),
         {"unsupported": "contact"}),
        (lambda: fake.user_sends_sticker(6), {"unsupported": "sticker"}),
        (lambda: fake.user_sends_document(7, b"%PDF-1.4", "application/pdf", "don.pdf"),
         {"unsupported": "document"}),
        (lambda: fake.user_sends(8, dice={"emoji": "🎲", "value": 3}), {"unsupported": "dice"}),
        (lambda: fake.user_sends(9, animation={
            **fake.add_file(b"gif", "animations/a.mp4"), "width": 1, "height": 1,
            "duration": 1, "mime_type": "video/mp4"},
            document={**fake.add_file(b"gif", "animations/a.mp4"), "mime_type": "video/mp4"}),
         {"unsupported": "animation"}),
    ]

    async def scenario() -> list[InboxMessage]:
        async with polling_bot(settings):
            updates = [send() for send, _ in cases]
            return [await handled(db_url, update) for update in updates]

    rows = asyncio.run(scenario())
    for row, (_, payload) in zip(rows, cases, strict=True):
        assert (row.text, row.payload) == (None, payload)
    assert fake.file_requests == []  # nothing of these is downloaded


def test_reply_to_a_bot_message_is_recorded(fake, settings, db_url):
    async def scenario() -> tuple[dict, InboxMessage, InboxMessage]:
        async with polling_bot(settings):
            first = fake.user_says(CHAT, "đường thôn 3 ngập")
            await handled(db_url, first)
            bot_message = await asyncio.to_thread(fake.wait_for, lambda m: m["chat_id"] == CHAT)
            reply = fake.user_replies(CHAT, bot_message, "vẫn chưa ai xử lý")
            own = fake.user_sends(CHAT, text="bổ sung", reply_to_message=first["message"])
            return bot_message, await handled(db_url, reply), await handled(db_url, own)

    bot_message, reply, own = asyncio.run(scenario())
    assert reply.text == "vẫn chưa ai xử lý"
    assert reply.payload == {"reply_to": str(bot_message["message_id"])}
    assert own.payload == {}  # replying to one's own message is not a reply to the bot


def test_groups_and_edited_messages_are_ignored(fake, settings, db_url):
    async def scenario() -> None:
        async with polling_bot(settings):
            fake.user_says(-100123, "tin trong nhóm", chat_type="group")
            original = fake.user_says(CHAT, "lần đầu")
            fake.user_edits(CHAT, original, "đã sửa")
            last = fake.user_says(CHAT, "tin cuối")
            await handled(db_url, last)

    asyncio.run(scenario())
    with session_scope(db_url) as session:
        texts = [r.text for r in session.scalars(select(InboxMessage).order_by(InboxMessage.id))]
    assert texts == ["lần đầu", "tin cuối"]


def offer_button(db_url: str) -> int:
    with session_scope(db_url) as session:
        return queue_outbound(session, Outbound("telegram", str(CHAT), "Gửi?", [
            {"title": "Gửi", "payload": "/affirm"}]), "offer", datetime.now(UTC)).id


async def pressed(db_url: str, press: dict, timeout: float = 20) -> dict:
    """The stored payload of a button press once the pipeline has seen it."""
    platform_id = f"cb:{press['callback_query']['id']}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with session_scope(db_url) as session:
            row = session.scalar(select(InboxMessage).where(
                InboxMessage.platform_message_id == platform_id))
            if row is not None and row.attempts:
                return row.payload
        await asyncio.sleep(0.1)
    raise AssertionError("button press not handled")


def test_button_press_is_stored_and_answered(fake, settings, db_url):
    offered = offer_button(db_url)

    async def scenario() -> dict:
        async with polling_bot(settings) as application:
            await deliver_due(application.bot_data["sender"], db_url)
            return await pressed(db_url, fake.user_presses(CHAT, fake.sent[0], "Gửi"))

    assert asyncio.run(scenario()) == {"button": f"{offered}:0"}
    assert "answerCallbackQuery" in fake.calls


# --- webhook ----------------------------------------------------------------------------


def test_webhook_is_registered_with_the_secret_and_kept_on_shutdown(fake, settings):
    hooked = webhook_settings(settings)

    async def scenario() -> None:
        async with webhook_bot(hooked):
            pass

    asyncio.run(scenario())
    assert fake.webhook == {"url": f"http://127.0.0.1:{hooked.web_port}/telegram/webhook",
                            "secret_token": SECRET,
                            "allowed_updates": ["message", "callback_query"]}
    assert "getUpdates" not in fake.calls and "deleteWebhook" not in fake.calls


def test_webhook_refuses_wrong_secret_and_bad_json(fake, settings, db_url):
    hooked = webhook_settings(settings)
    url = f"http://127.0.0.1:{hooked.web_port}/telegram/webhook"
    update = fake.user_says(CHAT, "xin chào")

    async def scenario() -> list[int]:
        async with webhook_bot(hooked), httpx.AsyncClient() as client:
            statuses = [await asyncio.to_thread(fake.deliver_webhook, update, "wrong")]
            statuses.append((await client.post(url, json=update)).status_code)  # no header
            statuses.append((await client.post(
                url, content=b"{not json", headers={channel.SECRET_HEADER: SECRET})).status_code)
            return statuses

    assert asyncio.run(scenario()) == [403, 403, 400]
    with session_scope(db_url) as session:
        assert session.scalar(select(InboxMessage)) is None


def test_webhook_stores_before_answering_and_ignores_redelivery(fake, settings, db_url):
    hooked = webhook_settings(settings)
    data = b"\xff\xd8 webhook photo"

    async def scenario() -> tuple[list[int], InboxMessage | None, InboxMessage]:
        async with webhook_bot(hooked):
            update = fake.user_sends_photo(CHAT, data, caption="ảnh cống")
            statuses = [await asyncio.to_thread(fake.deliver_webhook, update)]
            stored_when_answered = inbox_row(db_url, update)
            statuses.append(await asyncio.to_thread(fake.deliver_webhook, update))
            return statuses, stored_when_answered, await handled(db_url, update)

    statuses, stored_when_answered, row = asyncio.run(scenario())
    assert statuses == [200, 200]
    assert stored_when_answered is not None and stored_when_answered.text == "ảnh cống"
    with session_scope(db_url) as session:
        assert len(list(session.scalars(select(InboxMessage)))) == 1
        replies = list(session.scalars(select(OutboxMessage)))
    [attachment] = attachments_of(db_url, row)
    assert file_bytes(settings, attachment) == data
    assert len(fake.file_requests) == 1  # the redelivery downloaded nothing again
    # the busy notice, sent once; stop() waited for the background work to deliver it
    assert [r.status for r in replies] == ["sent"]
    assert [m["chat_id"] for m in fake.sent] == [CHAT]


def test_webhook_button_press_is_stored_and_answered(fake, settings, db_url):
    offered = offer_button(db_url)

    async def scenario() -> tuple[int, dict]:
        async with webhook_bot(webhook_settings(settings)) as application:
            await deliver_due(application.bot_data["sender"], db_url)
            press = fake.user_presses(CHAT, fake.sent[0], "Gửi")
            status = await asyncio.to_thread(fake.deliver_webhook, press)
            return status, await pressed(db_url, press)

    assert asyncio.run(scenario()) == (200, {"button": f"{offered}:0"})
    assert "answerCallbackQuery" in fake.calls


# --- sending ----------------------------------------------------------------------------


def queue(db_url: str, chat: int, text: str, key: str, buttons=()) -> int:
    with session_scope(db_url) as session:
        return queue_outbound(session, Outbound("telegram", str(chat), text, list(buttons)),
                              key, datetime.now(UTC)).id


def test_one_message_a_second_per_chat_without_slowing_other_chats(fake, settings, db_url):
    for i in range(3):
        queue(db_url, 1, f"tin {i}", f"a{i}")
    queue(db_url, 2, "tin cho B", "b")
    queue(db_url, 3, "tin cho C", "c")

    async def scenario() -> float:
        async with sending_bot(settings) as sender:
            started = time.monotonic()
            await asyncio.gather(*(deliver_due(sender, db_url, recipient=str(chat))
                                   for chat in (1, 2, 3)))
            return started

    started = asyncio.run(scenario())
    times = {chat: [m["received_at"] for m in fake.sent if m["chat_id"] == chat]
             for chat in (1, 2, 3)}
    assert len(times[1]) == 3
    gaps = [later - earlier for earlier, later in itertools.pairwise(times[1])]
    assert len(gaps) == 2 and min(gaps) >= 0.9, gaps
    assert times[2][0] - started < 0.5 and times[3][0] - started < 0.5


def test_concurrent_deliveries_send_each_message_once_in_order(fake, settings, db_url):
    ids = [queue(db_url, 1, f"tin {i}", f"a{i}") for i in range(3)]

    async def scenario() -> None:
        async with sending_bot(settings) as sender:  # a reply's delivery and the retry job
            await asyncio.gather(deliver_due(sender, db_url, recipient="1"),
                                 deliver_due(sender, db_url))

    asyncio.run(scenario())
    assert [m["text"] for m in fake.sent] == ["tin 0", "tin 1", "tin 2"]
    with session_scope(db_url) as session:
        rows = [session.get(OutboxMessage, i) for i in ids]
        assert [(r.status, r.attempts) for r in rows] == [("sent", 1)] * 3


def test_citizen_text_arrives_verbatim_without_parse_mode_or_preview(fake, settings, db_url):
    text = "<b>Đậm</b> *nghiêng* _gạch_ [link](http://example.com) `mã` &amp; <i>không đóng"
    queue(db_url, CHAT, text, "verbatim")

    async def scenario() -> None:
        async with sending_bot(settings) as sender:
            assert await deliver_due(sender, db_url) == 1

    asyncio.run(scenario())
    [sent] = fake.sent
    assert sent["text"] == text
    assert sent["parse_mode"] is None
    assert sent["link_preview_options"] == {"is_disabled": True}


def test_long_text_is_split_and_the_last_part_carries_buttons_and_id(fake, settings, db_url):
    text = " ".join(f"đoạn{i}" for i in range(800))  # about 5000 characters
    assert 4096 < len(text) < 8192
    outbox_id = queue(db_url, CHAT, text, "long", [{"title": "Gửi", "payload": "/affirm"}])

    async def scenario() -> None:
        async with sending_bot(settings) as sender:
            assert await deliver_due(sender, db_url) == 1

    asyncio.run(scenario())
    first, last = fake.sent
    assert first["text"] + last["text"] == text
    assert first["text"].endswith(" ") and len(first["text"]) <= 4096  # cut between words
    assert first["reply_markup"] is None and fake.button_titles(last) == ["Gửi"]
    with session_scope(db_url) as session:
        row = session.get(OutboxMessage, outbox_id)
        assert (row.status, row.platform_message_id) == ("sent", str(last["message_id"]))


def test_split_counts_utf16_units_like_telegram():
    emoji = "🙂" * 3000  # two UTF-16 units each
    pieces = telegram_send.split_text(emoji)
    assert "".join(pieces) == emoji
    assert [len(p.encode("utf-16-le")) // 2 for p in pieces] == [4096, 1904]
    assert telegram_send.split_text("ngắn") == ["ngắn"]


def test_blocked_user_is_failed_permanently_with_the_reason(fake, settings, db_url):
    fake.blocked.add(CHAT)
    outbox_id = queue(db_url, CHAT, "Dạ, đơn của Ông/Bà đã được tiếp nhận.", "blocked")

    async def scenario() -> None:
        async with sending_bot(settings) as sender:
            assert await deliver_due(sender, db_url) == 0

    asyncio.run(scenario())
    with session_scope(db_url) as session:
        row = session.get(OutboxMessage, outbox_id)
        assert (row.status, row.attempts) == ("failed", 1)
        assert "blocked by the user" in row.last_error
    assert fake.sent == []
