"""The Zalo OA webhook for real: signed events POSTed to the bot's web server, stored in the
real database (files in the real storage) and answered through the fake Zalo API on 127.0.0.1
(tests/fake_zalo_oa.py). Rasa is a closed port, so what needs it is postponed; stickers, files
and pins are answered or recorded without it. Sending and tokens: test_zalo_oa_send.py."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from structlog.testing import capture_logs

from bot.channels import zalo_oa
from bot.core.citizens import citizen_for
from bot.dialogue.pipeline import UNSUPPORTED_TEXT
from bot.settings import Settings
from bot.store.db import session_scope
from bot.store.files import LocalFileStorage
from bot.store.models import Attachment, InboxMessage, OutboxMessage, Ticket, TicketNote
from tests.fake_zalo_oa import FakeZaloOA, free_port, handled, post, row_of, running
from tests.helpers import make_ticket

pytestmark = pytest.mark.timeout(120)
USER = "8417318429310496281"  # more digits than a double keeps exactly


@pytest.fixture
def zalo() -> Iterator[FakeZaloOA]:
    with FakeZaloOA() as server:
        yield server


@pytest.fixture
def settings(zalo, db_url, tmp_path) -> Settings:
    return zalo.bot_settings(db_url, tmp_path / "var", free_port())


async def settled(db_url: str, event: dict, timeout: float = 20) -> InboxMessage:
    """The event's row once its files are kept or given up (whatever the dialogue does)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = row_of(db_url, event)
        if row is not None and (not row.payload.get("media") or row.payload.get(
                "media_failed") or attachments_of(db_url, row)):
            return row
        await asyncio.sleep(0.1)
    raise AssertionError("event not settled in time")


def inbox_count(db_url: str) -> int:
    with session_scope(db_url) as session:
        return len(list(session.scalars(select(InboxMessage.id))))


def attachments_of(db_url: str, row: InboxMessage) -> list[Attachment]:
    with session_scope(db_url) as session:
        found = list(session.scalars(select(Attachment).where(Attachment.inbox_id == row.id)))
        session.expunge_all()
        return found


# --- the webhook: what is refused -------------------------------------------------------


def test_forged_and_malformed_events_are_refused_unlogged_and_not_stored(zalo, settings,
                                                                          db_url):
    secret_words = "số nhà 12 ngõ 5, điện thoại 0912345678"
    event = zalo.user_event("user_send_text", USER, text=secret_words)
    body = json.dumps(event).encode()
    no_time = {k: v for k, v in event.items() if k != "timestamp"}
    other_app = {**event, "app_id": "999"}

    async def scenario() -> list[int]:
        async with running(settings):
            return [
                await post(settings, event, mac="mac=" + "0" * 64),  # forged
                await post(settings, event, mac=""),  # no signature
                await post(settings, event, secret="not-the-oa-secret"),
                await post(settings, body[:-7], mac="mac=x"),  # not JSON
                await post(settings, b"[1, 2]", mac="mac=x"),
                await post(settings, no_time, mac="mac=x"),
                await post(settings, other_app, app_id="999"),  # well signed, not our app
                await post(settings, {**event, "sender": {"id": None}}),  # no citizen
            ]

    with capture_logs() as logs:
        statuses = asyncio.run(scenario())
    assert statuses == [401, 401, 401, 400, 400, 400, 403, 400]
    assert inbox_count(db_url) == 0
    refused = [entry for entry in logs if entry["event"] == "zalo_webhook_refused"]
    assert len(refused) == 8
    assert not any(secret_words in str(entry) or "0912345678" in str(entry) for entry in logs)


def test_event_past_the_retry_horizon_or_from_the_future_is_refused(zalo, settings, db_url):
    horizon_ms = settings.zalo_retry_horizon_seconds * 1000
    now_ms = int(time.time() * 1000)
    old = zalo.user_event("user_send_text", USER, timestamp=now_ms - horizon_ms - 60_000,
                          text="tin cũ")
    ahead = zalo.user_event("user_send_text", USER, timestamp=now_ms + 3_600_000, text="sau")
    late_but_inside = zalo.user_event("user_send_text", USER,
                                      timestamp=now_ms - horizon_ms + 60_000, text="tin trễ")

    async def scenario() -> list[int]:
        async with running(settings):
            return [await post(settings, e) for e in (old, ahead, late_but_inside)]

    assert asyncio.run(scenario()) == [403, 403, 200]
    assert row_of(db_url, old) is None and row_of(db_url, ahead) is None
    assert row_of(db_url, late_but_inside).text == "tin trễ"


# --- the webhook: what is stored and answered -------------------------------------------


def test_text_event_is_stored_before_200_once_and_answered_by_the_pipeline(zalo, settings,
                                                                           db_url):
    event = zalo.user_event("user_send_text", USER, text="Đèn đường thôn 3 hỏng")

    async def scenario() -> tuple[list[int], InboxMessage | None, InboxMessage]:
        async with running(settings):
            statuses = [await post(settings, event)]
            stored_when_answered = row_of(db_url, event)
            statuses.append(await post(settings, event))  # Zalo delivers it again
            return statuses, stored_when_answered, await handled(db_url, event)

    statuses, stored, row = asyncio.run(scenario())
    assert statuses == [200, 200]
    assert stored is not None and stored.text == "Đèn đường thôn 3 hỏng"
    assert (stored.channel, stored.sender_external_id) == ("zalo", USER)
    assert stored.payload["oa_id"] == "579745863508352884"
    assert inbox_count(db_url) == 1
    # Rasa is down: the citizen is told through the OA API, to the exact user id
    told = zalo.wait_for(lambda m: m["user_id"] == USER)
    assert told["text"].startswith("Dạ")


def test_sticker_is_answered_politely_through_the_oa_api(zalo, settings, db_url):
    event = zalo.user_event("user_send_sticker", USER, attachments=[
        {"type": "sticker", "payload": {"id": "bfe6", "url": "https://zalo.me/sticker"}}])

    async def scenario() -> InboxMessage:
        async with running(settings):
            assert await post(settings, event) == 200
            row = await handled(db_url, event)
            await asyncio.to_thread(zalo.wait_for, lambda m: m["user_id"] == USER)
            return row

    row = asyncio.run(scenario())
    assert row.payload["unsupported"] == "sticker"
    [sent] = zalo.sent
    assert sent["text"] == UNSUPPORTED_TEXT and sent["token"] == "access-0"
    with session_scope(db_url) as session:
        reply = session.scalar(select(OutboxMessage).where(OutboxMessage.in_reply_to == row.id))
        assert (reply.status, reply.platform_message_id) == ("sent", sent["message_id"])


def test_photo_voice_video_pin_file_follow_and_unfollow(zalo, settings, db_url, tmp_path):
    photo, voice, video = (b"\xff\xd8" + os.urandom(3000), os.urandom(2000),
                           os.urandom(4000))
    events = {
        "photo": zalo.user_event("user_send_image", USER, text="cống tắc", attachments=[
            {"type": "image", "payload": {"url": zalo.add_file("p.jpg", photo, "image/jpeg"),
                                          "thumbnail": "https://example.invalid/t.jpg"}}]),
        "voice": zalo.user_event("user_send_audio", USER, attachments=[
            {"type": "audio", "payload": {"url": zalo.add_file("v.aac", voice,
                                                               "application/octet-stream")}}]),
        "video": zalo.user_event("user_send_video", USER, attachments=[
            {"type": "video", "payload": {"url": zalo.add_file("c.mp4", video, "video/mp4")}}]),
        "pin": zalo.user_event("user_send_location", USER, attachments=[
            {"type": "location", "payload": {"coordinates": {"latitude": "16.0471",
                                                             "longitude": "108.2062"}}}]),
        "pdf": zalo.user_event("user_send_file", USER, attachments=[
            {"type": "file", "payload": {"url": zalo.add_file("d.pdf", b"%PDF", "x/y"),
                                         "name": "don.pdf", "size": "4"}}]),
        "gone": zalo.user_event("user_send_image", USER, attachments=[
            {"type": "image", "payload": {"url": f"{zalo.base_url}/files/missing.jpg"}}]),
    }
    follow, unfollow = zalo.follow_event("follow", USER), zalo.follow_event("unfollow", USER)

    async def scenario() -> dict[str, InboxMessage]:
        async with running(settings):
            for event in [*events.values(), follow, unfollow]:
                assert await post(settings, event) == 200
            return {name: await settled(db_url, event) for name, event in events.items()}

    rows = asyncio.run(scenario())
    storage = LocalFileStorage(settings.storage_dir)
    for name, data, media_type, content_type in (("photo", photo, "photo", "image/jpeg"),
                                                 ("voice", voice, "voice", "audio/aac"),
                                                 ("video", video, "video", "video/mp4")):
        [attachment] = attachments_of(db_url, rows[name])
        assert (attachment.media_type, attachment.content_type) == (media_type, content_type)
        assert storage.get(attachment.storage_key) == data
    assert rows["photo"].text == "cống tắc"
    assert rows["pin"].payload["location_pin"] == {"latitude": 16.0471, "longitude": 108.2062}
    assert rows["pdf"].payload["unsupported"] == "document"
    assert rows["gone"].payload["media_failed"] == [{"type": "photo",
                                                     "reason": "download_failed"}]
    with session_scope(db_url) as session:
        kept = {r.payload.get("event"): r for r in session.scalars(select(InboxMessage).where(
            InboxMessage.platform_message_id.like("%follow:%")))}
        assert kept["follow"].text == "/start" and kept["follow"].sender_external_id == USER
        assert (kept["unfollow"].status, kept["unfollow"].text) == ("done", None)


def test_staff_message_pauses_the_bot_and_our_own_echo_does_not(zalo, settings, db_url):
    sticker = zalo.user_event("user_send_sticker", USER, attachments=[])
    staff = zalo.staff_event(USER, "Dạ, tôi")  # the start of the bot's answer: still staff
    during = zalo.user_event("user_send_sticker", USER, attachments=[])

    async def scenario() -> tuple[InboxMessage, InboxMessage, InboxMessage]:
        async with running(settings):
            await post(settings, sticker)
            await handled(db_url, sticker)
            ours = await asyncio.to_thread(zalo.wait_for, lambda m: m["user_id"] == USER)
            echo = zalo.staff_event(USER, ours["text"], msg_id=ours["message_id"])
            assert await post(settings, echo) == 200
            assert zalo_oa.paused_until(db_url, USER) is None  # our own message: no pause
            assert await post(settings, staff) == 200
            assert await post(settings, during) == 200
            await asyncio.sleep(0.5)
            return row_of(db_url, echo), row_of(db_url, staff), row_of(db_url, during)

    echo, staff_row, during_row = asyncio.run(scenario())
    assert echo.status == "echo"
    assert (staff_row.status, staff_row.payload["staff"]) == ("staff", True)
    until = zalo_oa.paused_until(db_url, USER)
    expected = datetime.now(UTC) + timedelta(minutes=settings.zalo_staff_pause_minutes)
    assert abs((until - expected).total_seconds()) < 30
    assert during_row.status == "paused"
    assert len(zalo.sent) == 1  # only the first sticker was answered


def test_staff_message_is_kept_on_the_citizens_open_ticket(zalo, settings, db_url):
    with session_scope(db_url) as session:
        citizen = citizen_for(session, "zalo", USER, datetime.now(UTC))
        citizen_id = citizen.id
    code = make_ticket(db_url, "Cống thôn 3 bị tắc", citizen_id=citizen_id)
    staff = zalo.staff_event(USER, "Chiều nay cán bộ xuống kiểm tra cống ạ.")

    async def scenario() -> list[int]:
        async with running(settings):
            return [await post(settings, staff), await post(settings, staff)]

    assert asyncio.run(scenario()) == [200, 200]
    with session_scope(db_url) as session:
        notes = list(session.scalars(select(TicketNote).join(Ticket).where(
            Ticket.code == code, TicketNote.kind == "reply")))
        assert [(n.author_type, n.text) for n in notes] == [
            ("officer", "(Nhắn qua Zalo OA) Chiều nay cán bộ xuống kiểm tra cống ạ.")]


def test_pause_ends_and_numeric_ids_keep_every_digit(zalo, settings, db_url):
    big = 8417318429310496281  # a JSON number: as a double it would end in ...6000
    event = zalo.user_event("user_send_sticker", str(big), attachments=[])
    event["sender"]["id"] = big
    with session_scope(db_url) as session:
        zalo_oa._pause(session, str(big), datetime.now(UTC) - timedelta(minutes=1),
                       datetime.now(UTC) - timedelta(minutes=31))

    async def scenario() -> tuple[InboxMessage, dict]:
        async with running(settings):
            assert await post(settings, event) == 200
            row = await handled(db_url, event)
            return row, await asyncio.to_thread(zalo.wait_for, lambda m: True)

    row, sent = asyncio.run(scenario())
    assert row.sender_external_id == "8417318429310496281" and row.status == "done"
    assert sent["user_id"] == "8417318429310496281" and sent["text"] == UNSUPPORTED_TEXT


def test_events_while_stopping_get_503_to_come_again(zalo, settings, db_url):
    event = zalo.user_event("user_send_text", USER, text="xin chào")

    async def scenario() -> int:
        async with running(settings) as channel:
            channel.accepting = False
            return await post(settings, event)

    assert asyncio.run(scenario()) == 503
    assert inbox_count(db_url) == 0
