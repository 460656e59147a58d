"""Sending to Telegram: the outbox's Sender. Overall 30 messages/s (AIORateLimiter, set on the
Application), one at a time and 1 message/s per chat here; plain text only (parse_mode=None),
so nothing a citizen typed is interpreted when echoed; long texts are split."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta

from aiolimiter import AsyncLimiter
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.ext import Application

from bot.channels import sending
from bot.channels.base import PermanentError, TemporaryError, already_delivered
from bot.channels.sending import PerChat
from bot.store.models import OutboxMessage

CHANNEL = "telegram"
MAX_MESSAGE_UNITS = 4096  # Telegram counts UTF-16 code units
PER_CHAT_PERIOD = 1.0  # seconds between two messages to one chat


@dataclass
class SendLane:
    """One chat's sends: one at a time (the lock), at most one a second (the limiter)."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    limiter: AsyncLimiter = field(default_factory=lambda: AsyncLimiter(1, PER_CHAT_PERIOD))

    def idle(self) -> bool:
        return not self.lock.locked() and self.limiter.has_capacity()


class TelegramSender:
    channel = CHANNEL

    def __init__(self, application: Application, db_url: str | None = None) -> None:
        self.application = application
        self.db_url = db_url
        self._lanes: PerChat[SendLane] = PerChat(SendLane, SendLane.idle)

    async def send(self, message: OutboxMessage) -> str | None:
        lane = self._lanes[message.recipient_external_id]
        async with lane.lock:
            if already_delivered(self.db_url, message.id):
                return None  # another delivery run sent it while this one waited its turn
            pieces = split_text(message.text or "")
            sent_id = None
            for number, piece in enumerate(pieces, start=1):
                markup = _markup(message) if number == len(pieces) else None
                async with lane.limiter:
                    sent_id = await self._send_one(int(message.recipient_external_id), piece,
                                                   markup)
            return sent_id

    async def _send_one(self, chat_id: int, text: str,
                        markup: InlineKeyboardMarkup | None) -> str:
        try:
            # parse_mode=None: what a citizen typed and we echo is never read as HTML/Markdown
            sent = await self.application.bot.send_message(
                chat_id=chat_id, text=text, reply_markup=markup, parse_mode=None,
                link_preview_options=LinkPreviewOptions(is_disabled=True))
        except RetryAfter as error:
            raise TemporaryError("flood control", _seconds(error.retry_after)) from error
        except (Forbidden, BadRequest) as error:  # blocked, chat not found, bad request
            raise PermanentError(f"{type(error).__name__}: {error.message}") from error
        except (NetworkError, TelegramError) as error:
            raise TemporaryError(f"{type(error).__name__}: {error.message}") from error
        return str(sent.message_id)


def _markup(message: OutboxMessage) -> InlineKeyboardMarkup | None:
    if not message.buttons:
        return None
    return InlineKeyboardMarkup([
        [InlineKeyboardButton(b["title"], callback_data=f"{message.id}:{i}")]
        for i, b in enumerate(message.buttons)
    ])


def _seconds(value: int | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def split_text(text: str, limit: int = MAX_MESSAGE_UNITS) -> list[str]:
    """Pieces Telegram accepts (bot.channels.sending.split_text)."""
    return sending.split_text(text, limit)


# --- inbound ----------------------------------------------------------------------------


