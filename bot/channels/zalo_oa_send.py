"""Sending on the Zalo OA: the outbox's Sender, with the OA message API v3
(`POST /v3.0/oa/message/cs`, the access token in the `access_token` header). Zalo reports most
failures as an `error` code in a 200 JSON body: ERRORS says what each one we know means (the
table and its sources are in docs/channels.md). Plain text, cut at 2000 characters; buttons
ride on the last piece as Zalo "oa.query.hide" buttons whose tap comes back as a text
`BUTTON_PREFIX<outbox id>:<index>` (bot/channels/zalo_oa.py). Zalo's messaging windows decide
first whether the message goes as a free or paid consultation message, a ZNS template, or is
held (bot/channels/zalo_oa_windows.py)."""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

import httpx
import structlog
from sqlalchemy import select

from bot.channels import sending
from bot.channels import zalo_oa_windows as windows
from bot.channels.base import PermanentError, TemporaryError, already_delivered
from bot.channels.sending import PerChat
from bot.channels.zalo_oa_tokens import TokenError, ZaloTokens, account_for_oa
from bot.core.clock import Clock, system_clock
from bot.settings import Settings
from bot.store.db import session_scope
from bot.store.models import InboxMessage, OutboxMessage

CHANNEL = "zalo"
SEND_PATH = "/v3.0/oa/message/cs"
ZNS_PATH = "/message/template"  # on zalo_zns_base_url (business.openapi.zalo.me)
MAX_TEXT = 2000  # characters of one consultation message
MAX_BUTTONS = 5
MAX_BUTTON_TITLE = 100
BUTTON_PREFIX = "#nd:"
HTTP_TIMEOUT = 20.0
KEEP_SENT_IDS = 2000  # ids of our own recent messages, to know their oa_send_* echoes
RETRY, REFRESH, HOLD, FAIL = "retry", "refresh", "hold", "fail"
HOLD_SECONDS = 3600.0  # quota exhausted: try again in an hour
# Zalo's error codes in a 200 body -> what we do (docs/channels.md has the sources).
ERRORS: dict[int, tuple[str, str]] = {
    -32: (RETRY, "rate limit reached"),
    -200: (RETRY, "send message failed"),
    -201: (FAIL, "invalid parameter"),
    -204: (FAIL, "Official Account disabled"),
    -205: (FAIL, "Official Account does not exist"),
    -209: (FAIL, "API not supported (app not activated)"),
    -210: (FAIL, "parameter exceeds limit"),
    -211: (HOLD, "out of quota"),
    -212: (FAIL, "app has not registered this API"),
    -213: (FAIL, "user has not followed the OA"),
    -216: (REFRESH, "access token invalid"),
    -217: (FAIL, "user blocked the OA's invitations"),
    -218: (HOLD, "out of quota for this user"),
    -219: (FAIL, "app removed or disabled"),
    -220: (REFRESH, "access token expired or removed"),
    -221: (FAIL, "OA must be verified"),
    -223: (FAIL, "OA has not authorised this API"),
    -224: (FAIL, "OA tier package needed"),
    -227: (FAIL, "user banned or inactive over 45 days"),
    -230: (FAIL, "user has not interacted with the OA in the last 7 days"),
    -232: (FAIL, "user has not interacted or the interaction expired"),
    -233: (FAIL, "message type invalid or not supported"),
    -244: (FAIL, "user restricted this message type"),
    -248: (FAIL, "violates platform standards"),
    -320: (FAIL, "app needs a Zalo Cloud Account"),
    -321: (HOLD, "Zalo Cloud Account out of money"),
}
log = structlog.get_logger(__name__)


def classify(code: int) -> tuple[str, str]:
    """(what to do, why) for a Zalo error code; unknown codes are retried (the outbox gives
    up after its attempts, with the code as the reason)."""
    return ERRORS.get(code, (RETRY, "unknown error"))


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """The pieces one consultation message becomes (bot.channels.sending.split_text)."""
    return sending.split_text(text, limit)


def message_body(user_id: str, text: str, buttons: list[dict[str, Any]]) -> dict[str, Any]:
    message: dict[str, Any] = {"text": text}
    if buttons:
        message["attachment"] = {"type": "template", "payload": {"buttons": buttons}}
    return {"recipient": {"user_id": user_id}, "message": message}


def _buttons(message: OutboxMessage) -> list[dict[str, Any]]:
    return [{"title": b["title"][:MAX_BUTTON_TITLE], "type": "oa.query.hide",
             "payload": f"{BUTTON_PREFIX}{message.id}:{i}"}
            for i, b in enumerate((message.buttons or [])[:MAX_BUTTONS])]


class ZaloOASender:
    channel = CHANNEL

    def __init__(self, settings: Settings, db_url: str, clock: Clock = system_clock,
                 tokens: ZaloTokens | None = None) -> None:
        self.settings, self.db_url, self.clock = settings, db_url, clock
        self.tokens = tokens or ZaloTokens(settings, db_url, clock)
        self.client = httpx.AsyncClient(base_url=settings.zalo_api_base_url,
                                        timeout=HTTP_TIMEOUT)
        self.zns_client = httpx.AsyncClient(base_url=settings.zalo_zns_base_url,
                                            timeout=HTTP_TIMEOUT)
        self.sent_ids: deque[str] = deque(maxlen=KEEP_SENT_IDS)
        self._chats: PerChat[asyncio.Lock] = PerChat(asyncio.Lock, lambda lock: not lock.locked())

    async def aclose(self) -> None:
        await self.client.aclose()
        await self.zns_client.aclose()

    async def send(self, message: OutboxMessage) -> str | None:
        recipient = message.recipient_external_id
        async with self._chats[recipient]:
            if already_delivered(self.db_url, message.id):
                return None  # another delivery run sent it while this one waited its turn
            way = self._route(message)  # HeldError: outside Zalo's windows
            account_id = self._account_of(recipient)
            if way.kind == windows.ZNS:
                sent_id = await self._send_zns(account_id, message, way)
            else:
                sent_id = await self._send_cs(account_id, message)
                if way.kind == windows.PAID:
                    sent_id = f"{windows.PAID_PREFIX}{sent_id}"
            return sent_id

    def _route(self, message: OutboxMessage) -> windows.Route:
        """Officers' alerts are not under the window rules here (bot/core/notices.py)."""
        if message.officer_id is not None:
            return windows.Route(windows.FREE)
        with session_scope(self.db_url) as session:
            return windows.route(session, self.settings, message, self.clock())

    async def _send_cs(self, account_id: int, message: OutboxMessage) -> str | None:
        recipient = message.recipient_external_id
        pieces = split_text(message.text or "")
        sent_id = None
        for number, piece in enumerate(pieces, start=1):
            buttons = _buttons(message) if number == len(pieces) else []
            sent_id = await self._send_one(account_id, message_body(recipient, piece, buttons))
        return sent_id

    async def _send_zns(self, account_id: int, message: OutboxMessage,
                        way: windows.Route) -> str:
        body = {"phone": way.phone, "template_id": way.template_id,
                "template_data": way.data, "tracking_id": str(message.id)}
        sent_id = await self._send_one(account_id, body, ZNS_PATH, self.zns_client)
        return f"{windows.ZNS_PREFIX}{sent_id}"

    def _account_of(self, recipient: str) -> int:
        """The OA the citizen last wrote to (user ids are per OA), else the first account."""
        with session_scope(self.db_url) as session:
            last = session.scalar(select(InboxMessage).where(
                InboxMessage.channel == CHANNEL, InboxMessage.sender_external_id == recipient)
                .order_by(InboxMessage.id.desc()).limit(1))
            oa_id = (last.payload or {}).get("oa_id") if last is not None else None
            account = account_for_oa(session, str(oa_id) if oa_id else None)
            if account is None:
                raise TemporaryError("no Zalo OA account")
            return account.id

    async def _send_one(self, account_id: int, body: dict[str, Any], path: str = SEND_PATH,
                        client: httpx.AsyncClient | None = None) -> str:
        client = client or self.client
        try:
            token = await self.tokens.current(account_id)
            action, reason, sent_id = await self._post(client, path, token, body)
            if action == REFRESH:
                token = await self.tokens.refresh(account_id, stale=token)
                action, reason, sent_id = await self._post(client, path, token, body)
        except TokenError as error:
            raise TemporaryError(f"token refresh failed: {error}") from error
        if action is None:
            self.sent_ids.append(sent_id)
            return sent_id
        if action == FAIL:
            raise PermanentError(reason)
        raise TemporaryError(reason, HOLD_SECONDS if action == HOLD else None)

    async def _post(self, client: httpx.AsyncClient, path: str, token: str,
                    body: dict[str, Any]) -> tuple[str | None, str, str]:
        """(None, "", message id) when sent, else (action, reason, "")."""
        try:
            response = await client.post(path, json=body, headers={"access_token": token})
        except httpx.HTTPError as error:
            return RETRY, f"network: {type(error).__name__}", ""
        if response.status_code == 429 or response.status_code >= 500:
            return RETRY, f"HTTP {response.status_code}", ""
        try:
            answer = response.json()
            code = int(answer.get("error", 0))
        except (ValueError, TypeError, AttributeError):
            return RETRY, f"HTTP {response.status_code}: not JSON", ""
        if response.status_code >= 400 and code == 0:
            return FAIL, f"HTTP {response.status_code}", ""
        if code != 0:
            action, about = classify(code)
            return action, f"Zalo error {code}: {about}", ""
        data = answer.get("data") or {}
        return None, "", str(data.get("message_id") or data.get("msg_id") or "")
