"""Telegram channel (python-telegram-bot 22): text and button presses in, outbox out.

Long polling by default. TELEGRAM_BASE_URL / TELEGRAM_BASE_FILE_URL point PTB at a self-hosted
Bot API server (or the tests' fake one). Each update is stored in the inbox before it is
handled. Known gap: PTB's updater confirms a batch (next getUpdates offset) on its own schedule,
so an update fetched just before a crash may be lost; webhook mode does not have this gap."""

from __future__ import annotations

from datetime import timedelta

import structlog
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.channels.base import PermanentError, TemporaryError, deliver_due
from bot.core.messaging import Inbound, store_inbound
from bot.dialogue.pipeline import Pipeline
from bot.settings import Settings
from bot.store.db import session_scope
from bot.store.models import OutboxMessage

CHANNEL = "telegram"
log = structlog.get_logger(__name__)


class TelegramSender:
    channel = CHANNEL

    def __init__(self, application: Application) -> None:
        self.application = application

    async def send(self, message: OutboxMessage) -> str | None:
        markup = None
        if message.buttons:
            markup = InlineKeyboardMarkup([
                [InlineKeyboardButton(b["title"], callback_data=f"{message.id}:{i}")]
                for i, b in enumerate(message.buttons)
            ])
        try:
            sent = await self.application.bot.send_message(
                chat_id=int(message.recipient_external_id), text=message.text or "",
                reply_markup=markup)
        except RetryAfter as error:
            raise TemporaryError("flood control", _seconds(error.retry_after)) from error
        except (Forbidden, BadRequest) as error:  # blocked, chat not found, bad request
            raise PermanentError(f"{type(error).__name__}: {error.message}") from error
        except (NetworkError, TelegramError) as error:
            raise TemporaryError(f"{type(error).__name__}: {error.message}") from error
        return str(sent.message_id)


def _seconds(value: int | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


async def _handle(update: Update, context: ContextTypes.DEFAULT_TYPE, inbound: Inbound) -> None:
    pipeline: Pipeline = context.application.bot_data["pipeline"]
    with session_scope(pipeline.db_url) as session:
        row = store_inbound(session, inbound, pipeline.clock())
        inbox_id = row.id if row else None
    if inbox_id is None:
        return  # a redelivered update
    await pipeline.process_inbound(inbox_id)
    await deliver_due(context.application.bot_data["sender"], pipeline.db_url, pipeline.clock,
                      recipient=inbound.sender_external_id)


async def on_message(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message, chat = update.effective_message, update.effective_chat
    if message is None or chat is None or chat.type != "private":
        return
    inbound = Inbound(CHANNEL, f"{chat.id}:{message.message_id}", str(chat.id), message.text)
    await _handle(update, context, inbound)


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query, chat = update.callback_query, update.effective_chat
    if query is None or chat is None:
        return
    await query.answer()
    inbound = Inbound(CHANNEL, f"cb:{query.id}", str(chat.id), None,
                      {"button": str(query.data or "")})
    await _handle(update, context, inbound)


def build_application(settings: Settings, pipeline: Pipeline) -> Application:
    application = (
        ApplicationBuilder()
        .token(settings.telegram_token)
        .base_url(settings.telegram_base_url)
        .base_file_url(settings.telegram_base_file_url)
        .rate_limiter(AIORateLimiter(max_retries=0))  # the outbox does the retrying
        .build()
    )
    application.bot_data["pipeline"] = pipeline
    application.bot_data["sender"] = TelegramSender(application)
    application.add_handler(MessageHandler(filters.TEXT, on_message))
    application.add_handler(CallbackQueryHandler(on_button))
    return application


async def start_polling(application: Application) -> None:
    await application.initialize()
    await application.start()
    await application.updater.start_polling(allowed_updates=["message", "callback_query"])
    log.info("telegram_polling")


async def stop(application: Application) -> None:
    await application.updater.stop()
    await application.stop()
    await application.shutdown()
