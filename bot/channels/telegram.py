"""Telegram channel (python-telegram-bot 22): every private message and button press in, the
outbox out.

Long polling by default; webhook mode (POST /telegram/webhook on the bot's own web server) when
TELEGRAM_WEBHOOK_SECRET and PUBLIC_URL are both set. TELEGRAM_BASE_URL / TELEGRAM_BASE_FILE_URL
point PTB at a self-hosted Bot API server (or the tests' fake one). Each update is stored in the
inbox before anything else is done with it; its files are downloaded and staged afterwards.
Known gap of polling: PTB's updater confirms a batch (next getUpdates offset) on its own
schedule, so an update fetched just before a crash may be lost; webhook mode answers Telegram
only after the row is stored."""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import structlog
from aiohttp import web
from telegram import (
    Bot,
    CallbackQuery,
    Message,
    Update,
)
from telegram.constants import ChatType, MessageAttachmentType
from telegram.error import TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.channels.base import deliver_due
from bot.channels.sending import PerChat
from bot.channels.staging import stage_off_loop
from bot.channels.telegram_send import CHANNEL, TelegramSender
from bot.core.attachments import (
    MAX_ATTACHMENT_BYTES,
    media_type_for,
    stage_attachment,
)
from bot.core.messaging import Inbound, store_inbound
from bot.dialogue.pipeline import Pipeline
from bot.settings import Settings
from bot.store.db import session_scope
from bot.store.files import FileStorage, LocalFileStorage
from bot.store.models import InboxMessage

WEBHOOK_PATH = "/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
ALLOWED_UPDATES = ["message", "callback_query"]
OVERALL_PER_SECOND = 30  # the Bot API's global limit
# file-carrying kinds: (our media type, content type when Telegram gives none)
FILE_KINDS = {"photo": ("photo", "image/jpeg"), "video": ("video", "video/mp4"),
              "video_note": ("video", "video/mp4"), "voice": ("voice", "audio/ogg"),
              "audio": ("voice", "audio/mpeg")}
DOCUMENT_KINDS = {"image": "photo", "video": "video"}
log = structlog.get_logger(__name__)


def inbound_from_update(update: Update) -> Inbound | None:
    """The inbox row for a private message or button press; None for anything we ignore
    (groups, channels, edited messages)."""
    chat = update.effective_chat
    if chat is None or chat.type != ChatType.PRIVATE:
        return None
    if (query := update.callback_query) is not None:
        return Inbound(CHANNEL, f"cb:{query.id}", str(chat.id), None,
                       {"button": str(query.data or "")})
    message = update.message  # never an edited message or a channel post
    if message is None:
        return None
    payload = _content(message)
    reply = message.reply_to_message
    if reply is not None and reply.from_user is not None and reply.from_user.is_bot:
        payload["reply_to"] = str(reply.message_id)
    return Inbound(CHANNEL, f"{chat.id}:{message.message_id}", str(chat.id),
                   message.text or message.caption, payload)


def _content(message: Message) -> dict[str, Any]:
    kind = next((k.value for k in MessageAttachmentType if message[k.value]), None)
    if kind is None:
        return {} if message.text or message.caption else {"unsupported": "other"}
    if kind in ("location", "venue"):
        where = message.location or message.venue.location
        return {"location_pin": {"latitude": where.latitude, "longitude": where.longitude}}
    if kind == "contact":
        contact, sender = message.contact, message.from_user
        if sender is not None and contact.user_id == sender.id:
            return {"contact_phone": contact.phone_number}
        return {"unsupported": "contact"}
    media = _media(message, kind)
    return {"media": [media]} if media else {"unsupported": kind}


def _media(message: Message, kind: str) -> dict[str, Any] | None:
    if kind == "photo":
        item = max(message.photo, key=lambda p: (p.width * p.height, p.file_size or 0))
        media_type, content_type = "photo", "image/jpeg"
    elif kind == "document":
        item = message.document
        content_type = (item.mime_type or "").lower()
        media_type = DOCUMENT_KINDS.get(content_type.split("/")[0])
        if media_type is None:
            return None
    elif kind in FILE_KINDS:
        item = message[kind]
        media_type, default = FILE_KINDS[kind]
        content_type = (getattr(item, "mime_type", None) or default).lower()
    else:
        return None
    return {"type": media_type, "platform_file_id": item.file_id,
            "content_type": content_type, "file_size": item.file_size}


@dataclass
class ChannelState:
    settings: Settings
    pipeline: Pipeline
    storage: FileStorage
    sender: TelegramSender
    # a chat's messages are handled in order; different chats at the same time
    chats: PerChat[asyncio.Lock] = field(
        default_factory=lambda: PerChat(asyncio.Lock, lambda lock: not lock.locked()))
    tasks: set[asyncio.Task] = field(default_factory=set)  # webhook work still running
    accepting: bool = False  # webhook requests before start / after stop get 503 (retried)


def _state(application: Application) -> ChannelState:
    return application.bot_data["state"]


def _store(state: ChannelState, inbound: Inbound) -> int | None:
    """The new inbox row's id; None when Telegram delivered this update before."""
    pipeline = state.pipeline
    with session_scope(pipeline.db_url) as session:
        row = store_inbound(session, inbound, pipeline.clock())
        return row.id if row else None


async def _complete(application: Application, update: Update, inbound: Inbound,
                    inbox_id: int) -> None:
    """Everything after the row is stored: the files, the pipeline, the replies."""
    state = _state(application)
    try:
        if update.callback_query is not None:
            await _answer(update.callback_query)
        async with state.chats[inbound.sender_external_id]:
            if media := inbound.payload.get("media"):
                try:
                    await _fetch_media(state, application.bot, inbox_id, media)
                except Exception:  # the message itself is still answered
                    log.exception("telegram_media_failed", inbox_id=inbox_id)
            await state.pipeline.process_inbound(inbox_id)
        await deliver_due(state.sender, state.pipeline.db_url, state.pipeline.clock,
                          recipient=inbound.sender_external_id)
    except Exception:  # the row stays in the inbox; the sweep and the outbox retry it
        log.exception("telegram_update_failed", inbox_id=inbox_id)


async def _answer(query: CallbackQuery) -> None:
    try:
        await query.answer()
    except TelegramError as error:  # too old to answer: the press still counts
        log.info("telegram_answer_failed", reason=str(error))


async def _fetch_media(state: ChannelState, bot: Bot, inbox_id: int,
                       media: list[dict[str, Any]]) -> None:
    failed = []
    for item in media:
        reason = await _fetch_one(state, bot, inbox_id, item)
        if reason is not None:
            failed.append({"type": item["type"], "reason": reason})
            log.warning("telegram_media_not_kept", inbox_id=inbox_id, reason=reason)
    if failed:
        with session_scope(state.pipeline.db_url) as session:
            row = session.get(InboxMessage, inbox_id)
            row.payload = {**row.payload, "media_failed": failed}  # a new dict: SQLAlchemy sees it


async def _fetch_one(state: ChannelState, bot: Bot, inbox_id: int,
                     item: dict[str, Any]) -> str | None:
    """None when the file is staged, else why not (too_large | download_failed | refused)."""
    if media_type_for(item["content_type"]) is None:
        return "refused"
    if (item["file_size"] or 0) > MAX_ATTACHMENT_BYTES:
        return "too_large"
    try:
        file = await bot.get_file(item["platform_file_id"])
        if (file.file_size or 0) > MAX_ATTACHMENT_BYTES:
            return "too_large"
        data = bytes(await file.download_as_bytearray())
    except (TelegramError, RuntimeError) as error:  # RuntimeError: no file_path given
        log.warning("telegram_download_failed", inbox_id=inbox_id, reason=str(error))
        return "download_failed"
    if len(data) > MAX_ATTACHMENT_BYTES:
        return "too_large"
    stage = partial(_stage, state, inbox_id, item["content_type"], data)
    return await stage_off_loop(stage, inbox_id)


def _stage(state: ChannelState, inbox_id: int, content_type: str, data: bytes) -> None:
    with session_scope(state.pipeline.db_url) as session:
        stage_attachment(session, state.storage, inbox_id, content_type, data)


async def on_update(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Polling: store, then handle (as a task of its own, so chats do not wait for each
    other)."""
    inbound = inbound_from_update(update)
    if inbound is None:
        return
    inbox_id = _store(_state(context.application), inbound)
    if inbox_id is not None:
        await _complete(context.application, update, inbound, inbox_id)


def webhook_routes(application: Application) -> Callable[[web.Application], None]:
    """Mounts POST /telegram/webhook (pass to bot.web.app.start_web as extra_routes)."""

    async def on_webhook(request: web.Request) -> web.Response:
        return await _on_webhook(application, request)

    def mount(app: web.Application) -> None:
        app.router.add_post(WEBHOOK_PATH, on_webhook)

    return mount


async def _on_webhook(application: Application, request: web.Request) -> web.Response:
    state = _state(application)
    if not state.accepting:
        return web.Response(status=503)  # starting or stopping: Telegram delivers it again
    given = request.headers.get(SECRET_HEADER, "").encode()
    if not hmac.compare_digest(given, state.settings.telegram_webhook_secret.encode()):
        return web.Response(status=403)
    try:
        update = Update.de_json(await request.json(), application.bot)
    except (ValueError, TypeError, KeyError, AttributeError):
        return web.Response(status=400)
    inbound = inbound_from_update(update) if update is not None else None
    if inbound is not None and (inbox_id := _store(state, inbound)) is not None:
        _in_background(state, _complete(application, update, inbound, inbox_id))
    return web.Response(status=200)  # the row is stored: Telegram may forget the update


def _in_background(state: ChannelState, work: Awaitable[None]) -> None:
    task = asyncio.ensure_future(work)
    state.tasks.add(task)  # referenced until done, awaited by stop()
    task.add_done_callback(state.tasks.discard)


# --- running ----------------------------------------------------------------------------


def build_application(settings: Settings, pipeline: Pipeline) -> Application:
    application = (
        ApplicationBuilder()
        .token(settings.telegram_token)
        .base_url(settings.telegram_base_url)
        .base_file_url(settings.telegram_base_file_url)
        # overall 30/s; no retries here because the outbox does the retrying
        .rate_limiter(AIORateLimiter(overall_max_rate=OVERALL_PER_SECOND,
                                     overall_time_period=1, max_retries=0))
        .build()
    )
    sender = TelegramSender(application, pipeline.db_url)
    application.bot_data.update(
        pipeline=pipeline, sender=sender,
        state=ChannelState(settings, pipeline, LocalFileStorage(settings.storage_dir), sender))
    private_messages = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE
    application.add_handler(MessageHandler(private_messages, on_update, block=False))
    application.add_handler(CallbackQueryHandler(on_update, block=False))
    return application


def webhook_mode(settings: Settings) -> bool:
    return bool(settings.telegram_webhook_secret and settings.public_url)


async def start(application: Application) -> None:
    if webhook_mode(_state(application).settings):
        await start_webhook(application)
    else:
        await start_polling(application)


async def start_polling(application: Application) -> None:
    await application.initialize()
    await application.start()
    await application.updater.start_polling(allowed_updates=ALLOWED_UPDATES)
    log.info("telegram_polling")


async def start_webhook(application: Application) -> None:
    """Telegram pushes updates to PUBLIC_URL; the web server must already be listening."""
    state = _state(application)
    await application.initialize()
    await application.start()
    state.accepting = True
    url = state.settings.public_url.rstrip("/") + WEBHOOK_PATH
    await application.bot.set_webhook(url=url, secret_token=state.settings.telegram_webhook_secret,
                                      allowed_updates=ALLOWED_UPDATES)
    log.info("telegram_webhook", url=url)


async def stop(application: Application) -> None:
    """Finish what was accepted; the webhook stays registered (Telegram queues meanwhile)."""
    state = _state(application)
    state.accepting = False
    if application.updater is not None and application.updater.running:
        await application.updater.stop()
    await asyncio.gather(*state.tasks, return_exceptions=True)
    if application.running:
        await application.stop()  # also waits for the polling handlers' tasks
    await application.shutdown()
