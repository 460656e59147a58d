"""The Zalo Bot Platform channel for real: webhook and polling against the fake Bot API
(tests/fake_zalo_bot.py) on 127.0.0.1, the real database and the real web server. Rasa is a
closed port, so text messages are stored and postponed (the citizen is told the system is
busy), which is enough here."""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import func, select
from structlog.testing import capture_logs

from bot.channels import zalo_bot as channel
from bot.channels.base import deliver_due
from bot.channels.zalo_bot_send import MAX_TEXT, ZaloBotSender, pieces
from bot.cli import run
from bot.core.messaging import Outbound, queue_outbound
from bot.dialogue.pipeline import UNAVAILABLE_TEXT, Pipeline
from bot.dialogue.rasa_client import RasaClient
from bot.dialogue.turns import read_turn
from bot.settings import Settings
from bot.store.db import session_scope
from bot.store.files import LocalFileStorage
from bot.store.models import Attachment, InboxMessage, OutboxMessage
from bot.web.app import start_web
from tests.fake_zalo_bot import FakeZaloBot

pytestmark = pytest.mark.timeout(120)
SECRET = "zalo-bot-secret_42"
USER = "5841000000000000001"  # Zalo ids are long digit strings: kept as text
CONFIRM = [{"title": "Gửi", "payload": "/affirm"}, {"title": "Sửa", "payload": "/deny"},
           {"title": "Hủy", "payload": "/cancel"}]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def zalo() -> Iterator[FakeZaloBot]:
    with FakeZaloBot() as server:
        yield server


@pytest.fixture
def settings(zalo, db_url, tmp_path) -> Settings:
    return zalo.bot_settings(db_url, tmp_path / "var")


def webhook_settings(settings: Settings) -> Settings:
    port = free_port()
    return settings.model_copy(update={"web_host": "127.0.0.1", "web_port": port,
                                       "public_url": f"http://127.0.0.1:{port}/",
                                       "zalo_bot_webhook_secret": SECRET})


def new_pipeline(settings: Settings) -> Pipeline:
    rasa = RasaClient(f"http://127.0.0.1:{free_port()}", "token", timeout=2)
    return Pipeline(settings.effective_database_url, rasa)


@asynccontextmanager
async def webhook_bot(settings: Settings) -> AsyncIterator[channel.ZaloBotChannel]:
    pipeline = new_pipeline(settings)
    bot = channel.build(settings, pipeline)
    runner = await start_web(settings, pipeline, channel.webhook_routes(bot))
    await channel.start(bot)
    try:
        yield bot
    finally:
        await channel.stop(bot)
        await runner.cleanup()
        await pipeline.rasa.aclose()


@asynccontextmanager
async def polling_bot(settings: Settings) -> AsyncIterator[channel.ZaloBotChannel]:
    pipeline = new_pipeline(settings)
    bot = channel.build(settings, pipeline)
    await channel.start(bot)
    try:
        yield bot
    finally:
        await channel.stop(bot)
        await pipeline.rasa.aclose()


@asynccontextmanager
async def sending_bot(settings: Settings) -> AsyncIterator[ZaloBotSender]:
    bot = channel.build(settings, new_pipeline(settings))
    try:
        yield bot.sender
    finally:
        await channel.stop(bot)
        await bot.pipeline.rasa.aclose()


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
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = inbox_row(db_url, update)
        if row is not None and (row.status != "pending" or row.attempts > 0):
            return row
        await asyncio.sleep(0.1)
    raise AssertionError(f"not handled in time: {platform_id(update)}")


def inbox_count(db_url: str) -> int:
    with session_scope(db_url) as session:
        return session.scalar(select(func.count()).select_from(InboxMessage))


def queue(db_url: str, user: str, text: str, key: str, buttons=()) -> int:
    with session_scope(db_url) as session:
        return queue_outbound(session, Outbound("zalo_bot", user, text, list(buttons)), key,
                              datetime.now(UTC)).id


def outbox_row(db_url: str, outbox_id: int) -> OutboxMessage:
    with session_scope(db_url) as session:
        row = session.get(OutboxMessage, outbox_id)
        session.expunge(row)
        return row


# --- settings -------------------------------------------------------------------------------


def test_channel_is_off_without_a_token_and_webhook_needs_secret_and_public_url():
    plain = Settings(_env_file=None)
    assert not plain.zalo_bot_enabled
    assert plain.zalo_bot_base_url.startswith("https://")
    on = Settings(_env_file=None, zalo_bot_token="1:t", zalo_bot_webhook_secret=SECRET)
    assert on.zalo_bot_enabled and not channel.webhook_mode(on)  # no PUBLIC_URL: polling
    assert channel.webhook_mode(on.model_copy(update={"public_url": "https://x.example/"}))


# --- webhook --------------------------------------------------------------------------------


def test_webhook_is_registered_with_the_secret(zalo, settings):
    hooked = webhook_settings(settings)

    async def scenario() -> None:
        async with webhook_bot(hooked):
            pass

    asyncio.run(scenario())
    assert zalo.webhook == {"url": f"http://127.0.0.1:{hooked.web_port}/zalo-bot/webhook",
                            "secret_token": SECRET}
    assert "getUpdates" not in zalo.calls and "deleteWebhook" not in zalo.calls


def test_webhook_refuses_wrong_or_missing_secret_and_malformed_bodies(zalo, settings, db_url):
    hooked = webhook_settings(settings)
    url = f"http://127.0.0.1:{hooked.web_port}/zalo-bot/webhook"
    update = zalo.user_says(USER, "số nhà 12 bí mật")
    good = {channel.SECRET_HEADER: SECRET}

    async def scenario() -> list[int]:
        async with webhook_bot(hooked), httpx.AsyncClient() as client:
            statuses = [await asyncio.to_thread(zalo.deliver_webhook, update, "wrong-secret")]
            statuses.append((await client.post(url, json=update)).status_code)  # no header
            statuses.append((await client.post(url, content=b"{not json",
                                               headers=good)).status_code)
            statuses.append((await client.post(url, json={"text": "số nhà 12 bí mật"},
                                               headers=good)).status_code)
            return statuses

    with capture_logs() as logs:
        assert asyncio.run(scenario()) == [403, 403, 400, 400]
    assert inbox_count(db_url) == 0
    refused = [e for e in logs if e["event"] == "zalo_bot_webhook_refused"]
    assert [e["status"] for e in refused] == [403, 403, 400, 400]
    assert "bí mật" not in repr(logs) and SECRET not in repr(logs)  # never the body


def test_webhook_stores_before_answering_and_a_redelivery_once(zalo, settings, db_url):
    hooked = webhook_settings(settings)

    async def scenario() -> tuple[list[int], InboxMessage | None, InboxMessage]:
        async with webhook_bot(hooked):
            update = zalo.user_says(USER, "đường thôn 3 ngập")
            statuses = [await asyncio.to_thread(zalo.deliver_webhook, update)]
            stored_when_answered = inbox_row(db_url, update)
            statuses.append(await asyncio.to_thread(zalo.deliver_webhook, update))
            return statuses, stored_when_answered, await handled(db_url, update)

    statuses, stored_when_answered, row = asyncio.run(scenario())
    assert statuses == [200, 200]
    assert stored_when_answered is not None and stored_when_answered.text == "đường thôn 3 ngập"
    assert (row.channel, row.sender_external_id) == ("zalo_bot", USER)
    assert inbox_count(db_url) == 1
    # the busy notice (Rasa is down), sent once; stop() waited for the background work
    assert zalo.texts_to(USER) == [UNAVAILABLE_TEXT]


def test_groups_stickers_and_other_events(zalo, settings, db_url):
    hooked = webhook_settings(settings)

    async def scenario() -> InboxMessage:
        async with webhook_bot(hooked):
            group = zalo.user_says("g-1", "tin trong nhóm", chat_type="GROUP")
            other = {"event_name": "bot.added", "message": None}
            sticker = zalo.user_sends_sticker(USER)
            for update in (group, other, sticker):
                assert await asyncio.to_thread(zalo.deliver_webhook, update) == 200
            return await handled(db_url, sticker)

    row = asyncio.run(scenario())
    assert (row.text, row.payload) == (None, {"unsupported": "sticker"})
    assert inbox_count(db_url) == 1


def stored_files(settings: Settings, row: InboxMessage) -> list[tuple[str, bytes]]:
    with session_scope(settings.effective_database_url) as session:
        found = session.scalars(select(Attachment).where(Attachment.inbox_id == row.id))
        storage = LocalFileStorage(settings.storage_dir)
        return [(a.content_type, storage.get(a.storage_key)) for a in found]


def test_photos_are_downloaded_and_staged_before_the_pipeline_sees_them(zalo, settings, db_url):
    hooked = webhook_settings(settings)
    jpeg = b"\xff\xd8\xff\xe0" + os.urandom(3000)
    png = b"\x89PNG\r\n\x1a\n" + os.urandom(1000)

    async def scenario() -> list[InboxMessage]:
        async with webhook_bot(hooked):
            updates = [zalo.user_sends_photo(USER, jpeg, caption="ảnh cống vỡ"),
                       zalo.user_sends_photo("5841000000000000002", None),  # a dead link
                       zalo.user_sends_photo("5841000000000000003", png,
                                             content_type="application/octet-stream"),
                       zalo.user_sends_photo("5841000000000000004", b"%PDF-1.4",
                                             content_type="application/pdf")]
            for update in updates:
                assert await asyncio.to_thread(zalo.deliver_webhook, update) == 200
            return [await handled(db_url, update) for update in updates]

    photo, dead, octet, pdf = asyncio.run(scenario())
    assert (photo.text, photo.payload) == ("ảnh cống vỡ", {"media": [{"type": "photo"}]})
    assert stored_files(hooked, photo) == [("image/jpeg", jpeg)]
    assert stored_files(hooked, octet) == [("image/png", png)]  # known by its first bytes
    for row, reason in ((dead, "download_failed"), (pdf, "refused")):
        assert stored_files(hooked, row) == []
        assert row.payload["media_failed"] == [{"type": "photo", "reason": reason}]
    assert len(zalo.downloads) == 4  # the link itself is never stored


# --- polling --------------------------------------------------------------------------------


def test_polling_takes_one_update_at_a_time_without_an_offset(zalo, settings, db_url):
    async def scenario() -> list[InboxMessage]:
        async with polling_bot(settings):
            first = zalo.user_says(USER, "xin chào")
            second = zalo.user_says("5841000000000000002", "cột điện nghiêng")
            return [await handled(db_url, first), await handled(db_url, second)]

    rows = asyncio.run(scenario())
    assert [r.text for r in rows] == ["xin chào", "cột điện nghiêng"]
    assert zalo.calls[0] == "deleteWebhook" and "getUpdates" in zalo.calls
    assert zalo.updates == []


def test_polling_goes_on_after_errors(zalo, settings, db_url, monkeypatch):
    monkeypatch.setattr(channel, "POLL_PAUSE_SECONDS", 0.05)
    zalo.poll_failures = [("http", 502), 500, 401]

    async def scenario() -> InboxMessage:
        async with polling_bot(settings):
            return await handled(db_url, zalo.user_says(USER, "vẫn nghe chứ?"))

    assert asyncio.run(scenario()).text == "vẫn nghe chứ?"
    assert zalo.poll_failures == []


# --- sending --------------------------------------------------------------------------------


def test_long_text_is_split_at_2000_characters_with_the_choices_last(zalo, settings, db_url):
    text = " ".join(f"đoạn{i}" for i in range(600))  # about 4700 characters
    assert 2 * MAX_TEXT < len(text) < 3 * MAX_TEXT - 100
    outbox_id = queue(db_url, USER, text, "long", CONFIRM)

    async def scenario() -> None:
        async with sending_bot(settings) as sender:
            assert await deliver_due(sender, db_url) == 1

    asyncio.run(scenario())
    texts = zalo.texts_to(USER)
    assert len(texts) == 3 and all(len(t) <= MAX_TEXT for t in texts)
    assert "".join(texts) == f"{text}\n\n1. Gửi  2. Sửa  3. Hủy"
    assert texts[0].endswith(" ")  # cut between words
    row = outbox_row(db_url, outbox_id)
    assert (row.status, row.platform_message_id) == ("sent", zalo.sent[-1]["message_id"])


def test_choices_that_do_not_fit_the_last_piece_follow_it():
    text = "x" * (MAX_TEXT - 5)
    assert pieces(text, CONFIRM) == [text, "1. Gửi  2. Sửa  3. Hủy"]
    assert pieces("ngắn", []) == ["ngắn"]


def test_temporary_errors_are_retried_without_loss(zalo, settings, db_url):
    outbox_id = queue(db_url, USER, "Dạ, đơn của Ông/Bà đã được tiếp nhận.", "retry")
    zalo.failures = [("http", 502), 429, 500]  # a gateway, then errors in 200 bodies
    later = [datetime.now(UTC)]

    def clock() -> datetime:
        return later[0]

    async def scenario() -> list[tuple[str, int, str | None]]:
        seen = []
        async with sending_bot(settings) as sender:
            for _ in range(4):
                await deliver_due(sender, db_url, clock)
                row = outbox_row(db_url, outbox_id)
                seen.append((row.status, row.attempts, row.last_error))
                later[0] += timedelta(minutes=10)  # past any backoff
        return seen

    seen = asyncio.run(scenario())
    assert [(status, attempts) for status, attempts, _ in seen] == [
        ("pending", 1), ("pending", 2), ("pending", 3), ("sent", 4)]
    assert "502" in seen[0][2] and "429" in seen[1][2] and "500" in seen[2][2]
    assert zalo.texts_to(USER) == ["Dạ, đơn của Ông/Bà đã được tiếp nhận."]  # once


def test_permanent_errors_are_recorded_with_the_reason(zalo, settings, db_url):
    zalo.blocked.add(USER)
    blocked = queue(db_url, USER, "Dạ, đơn của Ông/Bà đã được tiếp nhận.", "blocked")
    empty = queue(db_url, "5841000000000000002", "", "empty")

    async def scenario() -> None:
        async with sending_bot(settings) as sender:
            assert await deliver_due(sender, db_url) == 0

    asyncio.run(scenario())
    for outbox_id, reason in ((blocked, "403: Forbidden"), (empty, "400: Bad Request")):
        row = outbox_row(db_url, outbox_id)
        assert (row.status, row.attempts) == ("failed", 1)
        assert row.last_error.startswith(reason)
    assert zalo.sent == []


def test_a_wrong_token_is_a_permanent_error(zalo, settings, db_url):
    outbox_id = queue(db_url, USER, "Dạ.", "token")

    async def scenario() -> None:
        async with sending_bot(settings.model_copy(update={"zalo_bot_token": "9:wrong"})) as s:
            await deliver_due(s, db_url)

    asyncio.run(scenario())
    row = outbox_row(db_url, outbox_id)
    assert (row.status, row.last_error) == ("failed", "401: Unauthorized")
    assert "9:wrong" not in row.last_error


# --- numbered choices -----------------------------------------------------------------------


def test_buttons_go_out_numbered_and_a_typed_number_or_title_comes_back_as_the_button(
        zalo, settings, db_url):
    hooked = webhook_settings(settings)
    users = {"1": "5841000000000000011", "gui": "5841000000000000012",
             "HỦY": "5841000000000000013", "gửi đơn": "5841000000000000014"}
    offers = {typed: queue(db_url, user, "Dạ, Ông/Bà gửi đơn này chứ?", f"offer-{user}",
                           CONFIRM) for typed, user in users.items()}

    async def scenario() -> dict[str, InboxMessage]:
        async with webhook_bot(hooked) as bot:
            await deliver_due(bot.sender, db_url)
            updates = {typed: zalo.user_says(user, typed) for typed, user in users.items()}
            for update in updates.values():
                assert await asyncio.to_thread(zalo.deliver_webhook, update) == 200
            return {typed: await handled(db_url, update) for typed, update in updates.items()}

    rows = asyncio.run(scenario())
    for user in users.values():
        assert zalo.texts_to(user)[0] == "Dạ, Ông/Bà gửi đơn này chứ?\n\n1. Gửi  2. Sửa  3. Hủy"
    expected = {"1": (0, "/affirm"), "gui": (0, "/affirm"), "HỦY": (2, "/cancel")}
    with session_scope(db_url) as session:
        for typed, (index, payload) in expected.items():
            row = session.get(InboxMessage, rows[typed].id)
            assert row.text == typed  # what the citizen typed is kept
            assert row.payload == {"button": f"{offers[typed]}:{index}"}
            assert read_turn(session, row).text == payload  # what the dialogue sees
        free = session.get(InboxMessage, rows["gửi đơn"].id)
        assert free.payload == {} and read_turn(session, free).text == "gửi đơn"



# --- nghedan serve --------------------------------------------------------------------------


def test_serve_mounts_the_webhook_retries_the_outbox_shows_on_health_only_when_on(zalo,
                                                                                 settings):
    hooked = webhook_settings(settings)
    url = f"http://127.0.0.1:{hooked.web_port}/zalo-bot/webhook"

    async def scenario() -> tuple[int, object]:
        pipeline = new_pipeline(hooked)
        off = hooked.model_copy(update={"zalo_bot_token": ""})
        assert run._build_zalo_bot(off, pipeline) is None
        bot = run._build_zalo_bot(hooked, pipeline)
        assert run._zalo_bot_routes(settings, bot) is None  # polling: nothing to mount
        assert run._mount_all(None, None) is None
        routes = run._mount_all(None, run._zalo_bot_routes(hooked, bot))
        runner = await start_web(hooked, pipeline, routes)
        scheduler = AsyncIOScheduler()
        await run._start_zalo_bot(bot, scheduler)
        try:
            async with httpx.AsyncClient() as client:
                response = await client.post(url, json=zalo.user_says(USER, "xin chào"),
                                             headers={channel.SECRET_HEADER: SECRET})
                health = (await client.get(url.replace("/zalo-bot/webhook", "/health"))).json()
            assert health["channels"]["zalo_bot"] == "webhook"
            return response.status_code, scheduler.get_job("outbox_zalo_bot")
        finally:
            await channel.stop(bot)
            await runner.cleanup()
            await pipeline.rasa.aclose()

    status, job = asyncio.run(scenario())
    assert status == 200 and job is not None
    assert zalo.webhook is not None
