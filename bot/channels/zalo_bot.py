"""Zalo Bot Platform channel (a Telegram-like Bot API, bot/channels/zalo_bot_send.py): private
messages in, the outbox out. On when ZALO_BOT_TOKEN is set.

Webhook mode (POST /zalo-bot/webhook on the bot's own web server) when ZALO_BOT_WEBHOOK_SECRET
and PUBLIC_URL are both set: the platform sends the secret in X-Bot-Api-Secret-Token, and is
answered 200 only once the update is in the inbox. Polling otherwise, for where no public
address is possible: getUpdates hands out one update at a time and has no offset, so an update
is the platform's to forget as soon as it is returned, and one fetched just before a crash (or
lost on the way back) is gone. Prefer the webhook.

Photos are downloaded from the link the platform gives (bot/channels/zalo_bot_media.py).
No buttons and no location pins on this platform: buttons go out as numbered choices and a
typed number or title comes back as that button (bot/channels/choices.py); places are typed."""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import structlog
from aiohttp import web

from bot.channels import choices
from bot.channels.base import deliver_due
from bot.channels.sending import PerChat
from bot.channels.zalo_bot_media import keep_photo, photo_url
from bot.channels.zalo_bot_send import CHANNEL, BotApi, BotApiError, ZaloBotSender
from bot.core.messaging import Inbound, store_inbound
from bot.dialogue.pipeline import Pipeline
from bot.settings import Settings
from bot.store.db import session_scope
from bot.store.files import FileStorage, LocalFileStorage

WEBHOOK_PATH = "/zalo-bot/webhook"
SECRET_HEADER = "X-Bot-Api-Secret-Token"
POLL_SECONDS = 30  # one getUpdates waits this long for an update
POLL_PAUSE_SECONDS = 5.0  # after a failed getUpdates
IMAGE_EVENT = "message.image.received"
UNSUPPORTED = {IMAGE_EVENT: "photo", "message.sticker.received": "sticker"}
log = structlog.get_logger(__name__)


def unwrap(body: Any) -> dict[str, Any] | None:
    """The update in a webhook body or a getUpdates result (`{"ok", "result"}` or bare), or
    None when it is not one."""
    if isinstance(body, dict) and body.get("ok") is True and "result" in body:
        body = body["result"]
    if isinstance(body, dict) and isinstance(body.get("event_name"), str):
        return body
    return None


def inbound_from_update(update: dict[str, Any]) -> Inbound | None:
    """The inbox row for a private message; None for anything we ignore (groups, the bot's
    own messages, events that are not messages)."""
    message, event = update.get("message"), update["event_name"]
    if not isinstance(message, dict) or not event.startswith("message."):
        return None
    chat = message.get("chat") if isinstance(message.get("chat"), dict) else {}
    sender = message.get("from") if isinstance(message.get("from"), dict) else {}
    if str(chat.get("chat_type") or "PRIVATE").upper() != "PRIVATE" or sender.get("is_bot"):
        return None
    chat_id, message_id = _id(chat.get("id") or sender.get("id")), _id(message.get("message_id"))
    if not chat_id or not message_id:
        return None
    platform_id = f"{chat_id}:{message_id}"  # ids are strings: never parsed as numbers
    if event == "message.text.received":
        return Inbound(CHANNEL, platform_id, chat_id, _text(message.get("text")), {})
    if event == IMAGE_EVENT and photo_url(message):  # the file itself comes after storing
        return Inbound(CHANNEL, platform_id, chat_id, _text(message.get("caption")),
                       {"media": [{"type": "photo"}]})
    kind = UNSUPPORTED.get(event, "other")
    return Inbound(CHANNEL, platform_id, chat_id, _text(message.get("caption")),
                   {"unsupported": kind})


def _id(value: Any) -> str:
    return str(value).strip() if isinstance(value, str | int) else ""


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


@dataclass
class ZaloBotChannel:
    settings: Settings
    pipeline: Pipeline
    api: BotApi
    sender: ZaloBotSender
    storage: FileStorage
    # a chat's messages are handled in order; different chats at the same time
    chats: PerChat[asyncio.Lock] = field(
        default_factory=lambda: PerChat(asyncio.Lock, lambda lock: not lock.locked()))
    tasks: set[asyncio.Task] = field(default_factory=set)  # work still running
    accepting: bool = False  # webhook requests before start / after stop get 503 (retried)
    poller: asyncio.Task | None = None


def build(settings: Settings, pipeline: Pipeline) -> ZaloBotChannel:
    api = BotApi(settings.zalo_bot_base_url, settings.zalo_bot_token)
    return ZaloBotChannel(settings, pipeline, api, ZaloBotSender(api, pipeline.db_url),
                          LocalFileStorage(settings.storage_dir))


def webhook_mode(settings: Settings) -> bool:
    return bool(settings.zalo_bot_webhook_secret and settings.public_url)


def store(channel: ZaloBotChannel, inbound: Inbound) -> int | None:
    """The new inbox row's id (a typed choice already turned into its button); None when the
    platform delivered this message before."""
    pipeline = channel.pipeline
    with session_scope(pipeline.db_url) as session:
        row = store_inbound(session, choices.as_choice(session, inbound), pipeline.clock())
        return row.id if row else None


async def complete(channel: ZaloBotChannel, inbound: Inbound, inbox_id: int,
                   photo: str | None = None) -> None:
    """Everything after the row is stored: the photo, the pipeline, then the replies."""
    try:
        async with channel.chats[inbound.sender_external_id]:
            if photo is not None:
                await keep_photo(channel.pipeline.db_url, channel.storage, inbox_id, photo)
            await channel.pipeline.process_inbound(inbox_id)
        await deliver_due(channel.sender, channel.pipeline.db_url, channel.pipeline.clock,
                          recipient=inbound.sender_external_id)
    except Exception as error:  # the row stays in the inbox; the sweep and the outbox retry
        # the kind only: a database error's text would carry the message's own words
        log.error("zalo_bot_update_failed", inbox_id=inbox_id, reason=type(error).__name__)


def _in_background(channel: ZaloBotChannel, work: Awaitable[None]) -> None:
    task = asyncio.ensure_future(work)
    channel.tasks.add(task)  # referenced until done, awaited by stop()
    task.add_done_callback(channel.tasks.discard)


def _accept(channel: ZaloBotChannel, update: dict[str, Any]) -> None:
    inbound = inbound_from_update(update)
    if inbound is not None and (inbox_id := store(channel, inbound)) is not None:
        photo = photo_url(update["message"]) if inbound.payload.get("media") else None
        _in_background(channel, complete(channel, inbound, inbox_id, photo))


# --- webhook ----------------------------------------------------------------------------


def webhook_routes(channel: ZaloBotChannel) -> Callable[[web.Application], None]:
    """Mounts POST /zalo-bot/webhook (pass to bot.web.app.start_web as extra_routes)."""

    async def on_webhook(request: web.Request) -> web.Response:
        return await _on_webhook(channel, request)

    def mount(app: web.Application) -> None:
        app.router.add_post(WEBHOOK_PATH, on_webhook)

    return mount


async def _on_webhook(channel: ZaloBotChannel, request: web.Request) -> web.Response:
    if not channel.accepting:
        return web.Response(status=503)  # starting or stopping: the platform delivers it again
    expected = channel.settings.zalo_bot_webhook_secret.encode()
    given = request.headers.get(SECRET_HEADER, "").encode()
    if not expected or not hmac.compare_digest(given, expected):
        return _refused(403, "secret")
    try:
        update = unwrap(await request.json())
    except ValueError:
        return _refused(400, "not_json")
    if update is None:
        return _refused(400, "not_an_update")
    _accept(channel, update)  # stored before the answer; handled in the background
    return web.Response(status=200)


def _refused(status: int, reason: str) -> web.Response:
    log.warning("zalo_bot_webhook_refused", status=status, reason=reason)  # never the body
    return web.Response(status=status)


# --- polling ----------------------------------------------------------------------------


async def _poll(channel: ZaloBotChannel) -> None:
    """One update per getUpdates, stored before the next is asked for."""
    while True:
        try:
            result = await channel.api.call("getUpdates", {"timeout": str(POLL_SECONDS)},
                                            timeout=POLL_SECONDS + 10)
        except BotApiError as error:
            if error.code != 408:  # 408: nothing came within the timeout
                log.warning("zalo_bot_poll_failed", reason=str(error))
                await asyncio.sleep(POLL_PAUSE_SECONDS)
            continue
        for item in result if isinstance(result, list) else [result]:  # one, or a batch
            if (update := unwrap(item)) is not None:
                await _accept_polled(channel, update)


async def _accept_polled(channel: ZaloBotChannel, update: dict[str, Any]) -> None:
    try:
        _accept(channel, update)
    except Exception as error:  # the database: this update is lost (no offset to ask again)
        log.error("zalo_bot_update_not_stored", reason=type(error).__name__)
        await asyncio.sleep(POLL_PAUSE_SECONDS)


# --- running ----------------------------------------------------------------------------


async def start(channel: ZaloBotChannel) -> None:
    """The webhook registered (the web server must already be listening), or polling."""
    settings = channel.settings
    if webhook_mode(settings):
        channel.accepting = True
        url = settings.public_url.rstrip("/") + WEBHOOK_PATH
        await channel.api.call("setWebhook", {"url": url,
                                              "secret_token": settings.zalo_bot_webhook_secret})
        log.info("zalo_bot_webhook", url=url)
        return
    try:  # getUpdates answers nothing while a webhook is registered
        await channel.api.call("deleteWebhook")
    except BotApiError as error:
        log.warning("zalo_bot_delete_webhook_failed", reason=str(error))
    channel.poller = asyncio.ensure_future(_poll(channel))
    log.info("zalo_bot_polling")


async def stop(channel: ZaloBotChannel) -> None:
    """Finish what was accepted; the webhook stays registered (the platform retries)."""
    channel.accepting = False
    if channel.poller is not None:
        channel.poller.cancel()
        await asyncio.gather(channel.poller, return_exceptions=True)
    await asyncio.gather(*channel.tasks, return_exceptions=True)
    await channel.api.aclose()
