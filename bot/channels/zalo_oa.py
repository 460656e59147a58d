"""Zalo Official Account channel (Open API v3): POST /zalo/webhook on the bot's own web server.

Each event is checked (X-ZEvent-Signature = "mac=" + sha256(app_id + raw body + timestamp +
OA secret key), the timestamp within ZALO_RETRY_HORIZON_SECONDS) and stored in the inbox
before Zalo gets its 200; files are downloaded, the pipeline answers and the outbox is
delivered afterwards, in the background. A redelivered event (same msg_id) is answered 200 and
stored once. `oa_send_*` events (staff writing in the OA's own inbox) are stored for the
record and keep the bot quiet for that citizen for ZALO_STAFF_PAUSE_MINUTES; the echoes of our
own messages are recognised and do not pause. Nothing here logs a message's text or body."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from aiohttp import web
from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.channels import zalo_oa_media as media
from bot.channels.base import deliver_due
from bot.channels.sending import PerChat
from bot.channels.zalo_oa_events import inbound_from_event
from bot.channels.zalo_oa_send import CHANNEL, ZaloOASender, split_text
from bot.channels.zalo_oa_tokens import ZaloTokens, seed_account
from bot.core.citizens import identity_for
from bot.core.messaging import Inbound, release_held, store_inbound
from bot.core.taxonomy import FINAL_STATUSES
from bot.dialogue.pipeline import Pipeline
from bot.settings import Settings
from bot.store.channel_models import ChannelPause
from bot.store.db import session_scope
from bot.store.files import FileStorage, LocalFileStorage
from bot.store.models import InboxMessage, OutboxMessage, Ticket, TicketNote

WEBHOOK_PATH = "/zalo/webhook"
SIGNATURE_HEADER = "X-ZEvent-Signature"
FUTURE_SKEW = timedelta(minutes=5)  # a timestamp further ahead is refused too
ECHO_WINDOW = timedelta(minutes=10)
STAFF_NOTE = "(Nhắn qua Zalo OA) {text}"
log = structlog.get_logger(__name__)


def signature(app_id: str, body: bytes, timestamp: str, secret: str) -> str:
    digest = hashlib.sha256(app_id.encode() + body + timestamp.encode() + secret.encode())
    return "mac=" + digest.hexdigest()


@dataclass
class ZaloOAChannel:
    settings: Settings
    pipeline: Pipeline
    storage: FileStorage
    sender: ZaloOASender
    tokens: ZaloTokens
    chats: PerChat[asyncio.Lock] = field(
        default_factory=lambda: PerChat(asyncio.Lock, lambda lock: not lock.locked()))
    tasks: set[asyncio.Task] = field(default_factory=set)  # work still running
    accepting: bool = True

    @property
    def db_url(self) -> str:
        return self.pipeline.db_url


def build_channel(settings: Settings, pipeline: Pipeline) -> ZaloOAChannel:
    """The channel of the settings' OA; its account row is seeded (or re-seeded) here."""
    with session_scope(pipeline.db_url) as session:
        seed_account(session, settings, pipeline.clock())
    tokens = ZaloTokens(settings, pipeline.db_url, pipeline.clock)
    sender = ZaloOASender(settings, pipeline.db_url, pipeline.clock, tokens)
    return ZaloOAChannel(settings, pipeline, LocalFileStorage(settings.storage_dir), sender,
                         tokens)


def webhook_routes(channel: ZaloOAChannel) -> Callable[[web.Application], None]:
    """Mounts POST /zalo/webhook (pass to bot.web.app.start_web as extra_routes)."""

    async def on_webhook(request: web.Request) -> web.Response:
        return await handle_webhook(channel, request)

    def mount(app: web.Application) -> None:
        app.router.add_post(WEBHOOK_PATH, on_webhook)

    return mount


async def handle_webhook(channel: ZaloOAChannel, request: web.Request) -> web.Response:
    if not channel.accepting:
        return web.Response(status=503)  # stopping: Zalo delivers it again
    body = await request.read()
    event = _parse(body)
    if event is None:
        log.warning("zalo_webhook_refused", reason="malformed", bytes=len(body))
        return web.Response(status=400)
    settings = channel.settings
    expected = signature(event["app_id"], body, event["timestamp"], settings.zalo_oa_secret_key)
    if not hmac.compare_digest(request.headers.get(SIGNATURE_HEADER, "").encode(),
                               expected.encode()):
        log.warning("zalo_webhook_refused", reason="signature", kind=event["event_name"])
        return web.Response(status=401)
    if not hmac.compare_digest(event["app_id"].encode(), settings.zalo_app_id.encode()):
        log.warning("zalo_webhook_refused", reason="app_id", kind=event["event_name"])
        return web.Response(status=403)
    if (reason := _too_old(event["timestamp"], channel.pipeline.clock(), settings)) is not None:
        log.warning("zalo_webhook_refused", reason=reason, kind=event["event_name"])
        return web.Response(status=403)
    return _accept(channel, event)


def _parse(body: bytes) -> dict[str, Any] | None:
    """The event with app_id, timestamp and event_name as strings; None when malformed."""
    try:
        event = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(event, dict):
        return None
    values = [event.get(key) for key in ("app_id", "timestamp", "event_name")]
    if not all(isinstance(v, str | int) and not isinstance(v, bool) and str(v) for v in values):
        return None
    if not str(event["timestamp"]).isdigit():
        return None
    event["app_id"], event["timestamp"], event["event_name"] = (str(v) for v in values)
    return event


def _too_old(timestamp: str, now: datetime, settings: Settings) -> str | None:
    """Why the event is refused by its time (Zalo's timestamp is in milliseconds), or None."""
    when = datetime.fromtimestamp(int(timestamp) / 1000, UTC)
    if now - when > timedelta(seconds=settings.zalo_retry_horizon_seconds):
        return "past_horizon"
    if when - now > FUTURE_SKEW:
        return "future"
    return None


def _accept(channel: ZaloOAChannel, event: dict[str, Any]) -> web.Response:
    try:
        parsed = inbound_from_event(event)
    except (KeyError, TypeError, ValueError, AttributeError):
        log.warning("zalo_webhook_refused", reason="malformed_event", kind=event["event_name"])
        return web.Response(status=400)
    if parsed is None:  # seen, received, clicks...: nothing to keep
        return web.Response(status=200)
    inbound, kind = parsed
    inbox_id = _store(channel, inbound, kind)
    if inbox_id is not None:
        _in_background(channel, _complete(channel, inbound, inbox_id))
    return web.Response(status=200)  # the row is stored: Zalo may forget the event


def _store(channel: ZaloOAChannel, inbound: Inbound, kind: str) -> int | None:
    """The new row's id when the pipeline should handle it; None for a redelivery, and for
    what is only recorded (staff messages, unfollows, messages during a pause)."""
    now = channel.pipeline.clock()
    with session_scope(channel.db_url) as session:
        row = store_inbound(session, inbound, now)
        if row is None:
            return None
        if kind == "user" and release_held(session, CHANNEL, inbound.sender_external_id, now):
            log.info("zalo_held_released", inbox_id=row.id)  # the window is open again
        status = _recorded_status(channel, session, inbound, kind, now)
        if status is None:
            return row.id
        row.status, row.processed_at = status, now
        log.info("zalo_event_recorded", inbox_id=row.id, status=status)
        return None


def _recorded_status(channel: ZaloOAChannel, session: Session, inbound: Inbound, kind: str,
                     now: datetime) -> str | None:
    user = inbound.sender_external_id
    if kind == "staff":
        if _is_echo(channel, session, inbound, now):
            return "echo"
        minutes = channel.settings.zalo_staff_pause_minutes
        _pause(session, user, now + timedelta(minutes=minutes), now)
        _note_on_ticket(session, inbound, now)
        return "staff"
    if kind == "unfollow":
        return "done"
    pause = session.scalar(_pause_query(user))
    if pause is not None and pause.paused_until > now:
        return "paused"
    return None


def _pause_query(user: str) -> Select:
    return select(ChannelPause).where(ChannelPause.channel == CHANNEL,
                                      ChannelPause.external_id == user)


def _pause(session: Session, user: str, until: datetime, now: datetime) -> None:
    pause = session.scalar(_pause_query(user))
    if pause is None:
        try:
            with session.begin_nested():  # another process may add it meanwhile
                session.add(ChannelPause(channel=CHANNEL, external_id=user, paused_until=until,
                                         updated_at=now))
            return
        except IntegrityError:
            pause = session.scalar(_pause_query(user))
    pause.paused_until, pause.updated_at = max(pause.paused_until, until), now


def paused_until(db_url: str, user: str) -> datetime | None:
    with session_scope(db_url) as session:
        pause = session.scalar(_pause_query(user))
        return pause.paused_until if pause is not None else None


def _note_on_ticket(session: Session, inbound: Inbound, now: datetime) -> None:
    """Staff's message in the OA inbox, kept as a reply on the citizen's newest open ticket
    (once: keyed by the event)."""
    identity = identity_for(session, CHANNEL, inbound.sender_external_id)
    if identity is None or identity.citizen_id is None or not inbound.text:
        return
    ticket_id = session.scalar(select(Ticket.id).where(
        Ticket.citizen_id == identity.citizen_id,
        Ticket.status.not_in([s.value for s in FINAL_STATUSES]))
        .order_by(Ticket.updated_at.desc(), Ticket.id.desc()).limit(1))
    if ticket_id is not None:
        session.add(TicketNote(ticket_id=ticket_id, author_type="officer", kind="reply",
                               idempotency_key=f"zalo:{inbound.platform_message_id}",
                               text=STAFF_NOTE.format(text=inbound.text[:3900]),
                               created_at=now))


def _is_echo(channel: ZaloOAChannel, session: Session, inbound: Inbound, now: datetime) -> bool:
    """An oa_send_* event for a message this bot sent itself (by its id, or its text among
    what was queued for the citizen lately, for a send not yet marked sent)."""
    msg_id = inbound.payload.get("msg_id")
    if msg_id and msg_id in channel.sender.sent_ids:
        return True
    recent = session.scalars(select(OutboxMessage).where(
        OutboxMessage.channel == CHANNEL,
        OutboxMessage.recipient_external_id == inbound.sender_external_id,
        OutboxMessage.created_at >= now - ECHO_WINDOW).order_by(OutboxMessage.id.desc())
        .limit(20))
    text = (inbound.text or "").strip()
    return any((msg_id and row.platform_message_id == msg_id)
               or (text and text in {p.strip() for p in split_text(row.text or "")})
               for row in recent)


async def _complete(channel: ZaloOAChannel, inbound: Inbound, inbox_id: int) -> None:
    """Everything after the row is stored: the files, the pipeline, the replies."""
    user = inbound.sender_external_id
    try:
        async with channel.chats[user]:
            if items := inbound.payload.get("media"):
                try:
                    await media.fetch_all(channel.storage, channel.db_url, inbox_id, items)
                except Exception:  # the message itself is still answered
                    log.exception("zalo_media_failed", inbox_id=inbox_id)
            await channel.pipeline.process_inbound(inbox_id)
        await deliver_due(channel.sender, channel.db_url, channel.pipeline.clock,
                          recipient=user)
    except Exception:  # the row stays in the inbox; the sweep and the outbox retry it
        log.exception("zalo_event_failed", inbox_id=inbox_id)


def _in_background(channel: ZaloOAChannel, work: Awaitable[None]) -> None:
    task = asyncio.ensure_future(work)
    channel.tasks.add(task)  # referenced until done, awaited by stop()
    task.add_done_callback(channel.tasks.discard)


async def stop(channel: ZaloOAChannel) -> None:
    """Finish what was accepted; later webhooks get 503 and are delivered again."""
    channel.accepting = False
    await asyncio.gather(*channel.tasks, return_exceptions=True)
    await channel.sender.aclose()


def inbox_rows(db_url: str, user: str) -> list[InboxMessage]:
    """This citizen's stored Zalo events, oldest first (for the desk and the tests)."""
    with session_scope(db_url) as session:
        rows = list(session.scalars(select(InboxMessage).where(
            InboxMessage.channel == CHANNEL, InboxMessage.sender_external_id == user)
            .order_by(InboxMessage.id)))
        session.expunge_all()
        return rows
