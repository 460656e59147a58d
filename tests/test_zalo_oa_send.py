"""Sending on the Zalo OA and its tokens, against the fake Zalo API and OAuth server on
127.0.0.1 (tests/fake_zalo_oa.py): Zalo's error codes (in 200 bodies) and 5xx retried or
recorded, buttons, the token refreshed, rotated, stored and used, once across processes, and
the admins alerted when it fails; `nghedan serve` wiring."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import select

from bot.channels import zalo_oa
from bot.channels.base import deliver_due
from bot.channels.zalo_oa_tokens import TokenError, ZaloTokens, seed_account
from bot.cli import run
from bot.core.messaging import Outbound, queue_outbound
from bot.settings import Settings
from bot.store.channel_models import ChannelAccount
from bot.store.db import session_scope
from bot.store.desk_models import OfficerNotice
from bot.store.models import InboxMessage, OutboxMessage
from bot.web.ops import _channels
from tests.conftest import BACKENDS
from tests.fake_zalo_oa import (
    APP_ID,
    OA_SECRET,
    FakeZaloOA,
    citizen_wrote,
    free_port,
    handled,
    new_pipeline,
    post,
    running,
)

pytestmark = pytest.mark.timeout(120)
USER = "8417318429310496281"


@pytest.fixture
def zalo() -> Iterator[FakeZaloOA]:
    with FakeZaloOA() as server:
        yield server


@pytest.fixture
def settings(zalo, db_url, tmp_path) -> Settings:
    return zalo.bot_settings(db_url, tmp_path / "var", free_port())


# --- sending ----------------------------------------------------------------------------


def queue(db_url: str, text: str, key: str, buttons=()) -> int:
    citizen_wrote(db_url, USER)  # inside Zalo's window (tests/test_zalo_windows.py)
    with session_scope(db_url) as session:
        return queue_outbound(session, Outbound("zalo", USER, text, list(buttons)), key,
                              datetime.now(UTC)).id


def outbox_row(db_url: str, outbox_id: int) -> OutboxMessage:
    with session_scope(db_url) as session:
        row = session.get(OutboxMessage, outbox_id)
        session.expunge(row)
        return row


async def deliver_until_done(channel: zalo_oa.ZaloOAChannel, db_url: str, rounds: int) -> None:
    """The retry job, with time moved past each backoff."""
    for _ in range(rounds):
        with session_scope(db_url) as session:
            for row in session.scalars(select(OutboxMessage).where(
                    OutboxMessage.status == "pending")):
                row.next_attempt_at = datetime.now(UTC) - timedelta(seconds=1)
        await deliver_due(channel.sender, db_url)


def test_temporary_errors_are_retried_without_loss_and_permanent_ones_recorded(zalo, settings,
                                                                               db_url):
    first = queue(db_url, "Dạ, đơn KN-2026-000001 đã được tiếp nhận.", "a")
    zalo.script = [("http", 502), ("error", -32), ("http", 503)]

    async def scenario() -> list[tuple[str, int]]:
        async with running(settings) as channel:
            seen = []
            for _ in range(3):
                await deliver_until_done(channel, db_url, 1)
                row = outbox_row(db_url, first)
                seen.append((row.status, row.attempts, row.last_error))
            await deliver_until_done(channel, db_url, 1)
            zalo.script = [("error", -230)]
            blocked = queue(db_url, "Dạ, mời Ông/Bà đánh giá.", "b")
            await deliver_until_done(channel, db_url, 1)
            return seen, outbox_row(db_url, first), outbox_row(db_url, blocked)

    seen, done, blocked = asyncio.run(scenario())
    assert seen == [("pending", 1, "HTTP 502"),
                    ("pending", 2, "Zalo error -32: rate limit reached"),
                    ("pending", 3, "HTTP 503")]
    assert (done.status, done.attempts) == ("sent", 4)
    assert [m["text"] for m in zalo.sent] == ["Dạ, đơn KN-2026-000001 đã được tiếp nhận."]
    assert (blocked.status, blocked.attempts) == ("failed", 1)
    assert "-230" in blocked.last_error and "7 days" in blocked.last_error


def test_long_text_is_split_and_buttons_ride_on_the_last_piece(zalo, settings, db_url):
    text = " ".join(f"đoạn{i}" for i in range(500))  # about 3300 characters
    outbox_id = queue(db_url, text, "long", [{"title": "Gửi", "payload": "/affirm"}])

    async def scenario() -> None:
        async with running(settings) as channel:
            assert await deliver_due(channel.sender, db_url) == 1

    asyncio.run(scenario())
    first, last = zalo.sent
    assert first["text"] + last["text"] == text and len(first["text"]) <= 2000
    assert first["buttons"] == []
    assert last["buttons"] == [{"title": "Gửi", "type": "oa.query.hide",
                                "payload": f"#nd:{outbox_id}:0"}]


def test_button_tap_comes_back_as_the_offered_button(zalo, settings, db_url):
    outbox_id = queue(db_url, "Gửi đơn?", "offer", [{"title": "Gửi", "payload": "/affirm"}])
    tap = zalo.user_event("user_send_text", USER, text=f"#nd:{outbox_id}:0")

    async def scenario() -> InboxMessage:
        async with running(settings) as channel:
            await deliver_due(channel.sender, db_url)
            assert await post(settings, tap) == 200
            return await handled(db_url, tap)

    row = asyncio.run(scenario())
    assert (row.text, row.payload["button"]) == (None, f"{outbox_id}:0")


# --- tokens -----------------------------------------------------------------------------


def account(db_url: str) -> ChannelAccount:
    with session_scope(db_url) as session:
        row = session.scalar(select(ChannelAccount))
        session.expunge(row)
        return row


def test_refused_token_is_refreshed_rotated_stored_and_used(zalo, settings, db_url):
    zalo.access_tokens = {"someone-else"}  # access-0 expired at Zalo
    first = queue(db_url, "Dạ, tin thứ nhất.", "one")

    async def scenario() -> None:
        async with running(settings) as channel:
            await deliver_due(channel.sender, db_url)
            stored = account(db_url)
            assert (stored.access_token, stored.refresh_token) == ("access-1", "refresh-1")
            assert stored.access_expires_at > datetime.now(UTC) + timedelta(hours=24)
            # the job refreshes before expiry, with the rotated refresh token
            with session_scope(db_url) as session:
                session.scalar(select(ChannelAccount)).access_expires_at = (
                    datetime.now(UTC) + timedelta(minutes=30))
            assert await channel.tokens.refresh_due() == 1
            queue(db_url, "Dạ, tin thứ hai.", "two")
            await deliver_due(channel.sender, db_url)

    asyncio.run(scenario())
    assert outbox_row(db_url, first).status == "sent"
    assert [c["refresh_token"] for c in zalo.refresh_calls] == ["refresh-0", "refresh-1"]
    assert all(c["app_id"] == APP_ID for c in zalo.refresh_calls)
    assert [(m["text"], m["token"]) for m in zalo.sent] == [("Dạ, tin thứ nhất.", "access-1"),
                                                             ("Dạ, tin thứ hai.", "access-2")]
    assert account(db_url).refresh_token == "refresh-2"

    # a restart with the old settings keeps the rotated tokens (the database wins)
    async def restarted() -> None:
        async with running(settings):
            pass

    asyncio.run(restarted())
    assert account(db_url).refresh_token == "refresh-2"


def test_failed_refresh_alerts_the_admins_and_holds_the_message(zalo, settings, db_url):
    zalo.access_tokens, zalo.refresh_tokens = {"someone-else"}, set()
    outbox_id = queue(db_url, "Dạ, đơn đã được tiếp nhận.", "held")

    async def scenario() -> None:
        async with running(settings) as channel:
            await deliver_due(channel.sender, db_url)
            await deliver_until_done(channel, db_url, 1)  # the same day: one notice

    asyncio.run(scenario())
    row = outbox_row(db_url, outbox_id)
    assert (row.status, row.attempts) == ("pending", 2)
    assert row.last_error.startswith("token refresh failed")
    assert "-14014" in account(db_url).last_error
    with session_scope(db_url) as session:
        notices = list(session.scalars(select(OfficerNotice).where(
            OfficerNotice.kind == "channel")))
        assert len(notices) == 1 and "Zalo OA" in notices[0].text
        assert all(OA_SECRET not in n.text for n in notices)


def test_new_refresh_token_in_the_settings_is_adopted_once(zalo, settings, db_url):
    async def start(with_settings: Settings) -> None:
        async with running(with_settings):
            pass

    asyncio.run(start(settings))
    with session_scope(db_url) as session:
        session.scalar(select(ChannelAccount)).refresh_token = "refresh-rotated"
    asyncio.run(start(settings))
    assert account(db_url).refresh_token == "refresh-rotated"
    reauthorised = settings.model_copy(update={"zalo_refresh_token": "refresh-new",
                                               "zalo_access_token": "access-new"})
    asyncio.run(start(reauthorised))
    assert (account(db_url).access_token, account(db_url).refresh_token) == (
        "access-new", "refresh-new")


@pytest.mark.parametrize("empty_db_url", BACKENDS, indirect=True)
def test_two_concurrent_refreshers_refresh_once(zalo, settings, db_url):
    zalo.refresh_delay = 0.5
    with session_scope(db_url) as session:
        account_id = seed_account(session, settings, datetime.now(UTC)).id

    async def scenario() -> list[str]:
        one, two = ZaloTokens(settings, db_url), ZaloTokens(settings, db_url)
        return list(await asyncio.gather(one.refresh(account_id, stale="access-0"),
                                         two.refresh(account_id, stale="access-0")))

    assert asyncio.run(scenario()) == ["access-1", "access-1"]
    assert len(zalo.refresh_calls) == 1
    assert account(db_url).refresh_token == "refresh-1"


def test_refresh_with_the_oauth_server_down_is_temporary_and_silent(zalo, settings, db_url):
    zalo.refresh_status = 502

    async def scenario() -> None:
        async with running(settings) as channel:
            with session_scope(db_url) as session:
                session.scalar(select(ChannelAccount)).access_expires_at = (
                    datetime.now(UTC) + timedelta(minutes=5))
            assert await channel.tokens.refresh_due() == 0
            with pytest.raises(TokenError):
                await channel.tokens.refresh(account(db_url).id, stale="access-0")

    asyncio.run(scenario())
    assert account(db_url).last_error == "HTTP 502"
    with session_scope(db_url) as session:  # the token still works: only the forced one alerted
        assert len(list(session.scalars(select(OfficerNotice).where(
            OfficerNotice.kind == "channel")))) == 1


def test_serve_wires_the_channel_only_when_configured(zalo, settings, db_url):
    off = settings.model_copy(update={"zalo_app_id": ""})

    async def scenario() -> set[str]:
        pipeline = new_pipeline(settings)
        assert run._build_zalo_oa(off, pipeline) is None and run._zalo_oa_routes(None) is None
        channel = run._build_zalo_oa(settings, pipeline)
        assert run._zalo_oa_routes(channel) is not None
        scheduler = AsyncIOScheduler()
        run._start_zalo_oa(channel, scheduler)
        await zalo_oa.stop(channel)
        await pipeline.rasa.aclose()
        return {job.id for job in scheduler.get_jobs()}

    assert asyncio.run(scenario()) == {"outbox_zalo", "zalo_oa_tokens"}
    assert (_channels(settings)["zalo"], _channels(off)["zalo"]) == ("webhook", "off")
