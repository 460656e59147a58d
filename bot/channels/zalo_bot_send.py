"""The Zalo Bot Platform's Bot API (`<base>/bot<TOKEN>/<method>`, JSON in, `{"ok", "result"}` or
`{"ok": false, "error_code", "description"}` out) and the outbox's Sender for it.

Plain text only, at most MAX_TEXT characters a message (longer texts are split like Telegram's);
no buttons on this platform, so a message's buttons go out as numbered choices
(bot/channels/choices.py). The token is part of every URL: it is never logged."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from bot.channels import choices
from bot.channels.base import PermanentError, TemporaryError, already_delivered
from bot.channels.sending import PerChat, split_text
from bot.store.models import OutboxMessage

CHANNEL = "zalo_bot"
MAX_TEXT = 2000  # the platform's cap on one text message
REQUEST_TIMEOUT = 15.0  # seconds, for everything but long polls
TEMPORARY_CODES = {408, 429}  # and every 5xx


class BotApiError(Exception):
    """A failed call: `code` is the platform's error_code (or the HTTP status; None for the
    network), `temporary` whether the same call may work later."""

    def __init__(self, reason: str, code: int | None, temporary: bool,
                 retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.code, self.temporary, self.retry_after = code, temporary, retry_after


class BotApi:
    """One bot's calls to the platform."""

    def __init__(self, base_url: str, token: str) -> None:
        self._prefix = f"{base_url.rstrip('/')}/bot{token}/"
        self._http = httpx.AsyncClient(timeout=REQUEST_TIMEOUT)

    async def call(self, method: str, params: dict[str, Any] | None = None,
                   timeout: float | None = None) -> Any:
        """The call's `result`; raises BotApiError."""
        try:
            response = await self._http.post(self._prefix + method, json=params or {},
                                             timeout=timeout or REQUEST_TIMEOUT)
        except httpx.HTTPError as error:  # the URL holds the token: only the error's kind
            raise BotApiError(f"network: {type(error).__name__}", None, True) from None
        return _result(response)

    async def aclose(self) -> None:
        await self._http.aclose()


def _result(response: httpx.Response) -> Any:
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise BotApiError(f"HTTP {status}: no JSON answer", status, _temporary(status),
                          _retry_after(response, {}))
    if body.get("ok") is True and status < 400:
        return body.get("result")
    code = _int(body.get("error_code")) or status
    description = str(body.get("description") or "no description")[:300]
    raise BotApiError(f"{code}: {description}", code,
                      _temporary(code) or _temporary(status), _retry_after(response, body))


def _temporary(code: int) -> bool:
    return code in TEMPORARY_CODES or code >= 500


def _retry_after(response: httpx.Response, body: dict[str, Any]) -> float | None:
    given = (body.get("parameters") or {}).get("retry_after") or response.headers.get(
        "Retry-After")
    try:
        return float(given) if given is not None else None
    except (TypeError, ValueError):
        return None


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def pieces(text: str | None, buttons: list[dict[str, str]]) -> list[str]:
    """The texts one outbox message becomes: the text cut to MAX_TEXT, the numbered choices at
    the end of the last piece (or after it when they do not fit)."""
    parts = split_text(text or "", MAX_TEXT) if text else []
    line = choices.choice_line(buttons)
    if not line:
        return parts or [""]
    if parts and len(choices.render(parts[-1], buttons).encode("utf-16-le")) // 2 <= MAX_TEXT:
        return [*parts[:-1], choices.render(parts[-1], buttons)]
    return [*parts, *split_text(line, MAX_TEXT)]


class ZaloBotSender:
    """The outbox's Sender: one message at a time per chat, pieces in order."""

    channel = CHANNEL

    def __init__(self, api: BotApi, db_url: str | None = None) -> None:
        self.api, self.db_url = api, db_url
        self._chats: PerChat[asyncio.Lock] = PerChat(asyncio.Lock, lambda lock: not lock.locked())

    async def send(self, message: OutboxMessage) -> str | None:
        async with self._chats[message.recipient_external_id]:
            if already_delivered(self.db_url, message.id):
                return None  # another delivery run sent it while this one waited its turn
            sent_id = None
            for piece in pieces(message.text, message.buttons or []):
                sent_id = await self._send_one(message.recipient_external_id, piece)
            return sent_id

    async def _send_one(self, chat_id: str, text: str) -> str | None:
        try:
            result = await self.api.call("sendMessage", {"chat_id": chat_id, "text": text})
        except BotApiError as error:
            if error.temporary:
                raise TemporaryError(str(error), error.retry_after) from None
            raise PermanentError(str(error)) from None
        message_id = result.get("message_id") if isinstance(result, dict) else None
        return str(message_id) if message_id is not None else None
