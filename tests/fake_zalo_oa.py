"""A fake Zalo OA Open API + OAuth server on 127.0.0.1 (real HTTP), answering like Zalo: most
failures as an `error` code in a 200 JSON body, some as 5xx. A LocalServer (its own loop in a
thread). The event helpers build signed webhook events as Zalo sends them."""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from aiohttp import web
from sqlalchemy import select

from bot.channels import zalo_oa
from bot.channels.zalo_oa import SIGNATURE_HEADER, signature
from bot.dialogue.pipeline import Pipeline
from bot.dialogue.rasa_client import RasaClient
from bot.settings import Settings
from bot.store.db import session_scope
from bot.store.models import InboxMessage
from bot.web.app import start_web
from tests.local_server import LocalServer

APP_ID = "4306147483648291001"
APP_SECRET = "app-secret-ZZ"
OA_SECRET = "oa-secret-key-42"
OA_ID = "579745863508352884"
MAX_TEXT = 2000


class FakeZaloOA(LocalServer):
    def __init__(self) -> None:
        super().__init__()
        self._ids = itertools.count(1)
        self.access_tokens: set[str] = {"access-0"}
        self.refresh_tokens: set[str] = {"refresh-0"}  # each works once
        self.refresh_calls: list[dict[str, str]] = []
        self.refresh_delay = 0.0
        self.refresh_status = 200  # 5xx: the OAuth server is down
        self.sent: list[dict[str, Any]] = []  # accepted messages, with the token used
        self.send_calls = 0
        self.script: list[tuple[str, int]] = []  # next answers: ("http", 502) | ("error", -32)
        self.files: dict[str, tuple[bytes, str]] = {}  # name -> (data, content type)
        self.templates: list[dict[str, Any]] = []  # accepted ZNS template messages

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def bot_settings(self, database_url: str, data_dir: Path, web_port: int) -> Settings:
        return Settings(_env_file=None, data_dir=data_dir, database_url=database_url,
                        web_host="127.0.0.1", web_port=web_port,
                        zalo_app_id=APP_ID, zalo_app_secret=APP_SECRET,
                        zalo_oa_secret_key=OA_SECRET, zalo_access_token="access-0",
                        zalo_refresh_token="refresh-0", zalo_api_base_url=self.base_url,
                        zalo_oauth_base_url=self.base_url, zalo_zns_base_url=self.base_url)

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v3.0/oa/message/cs", self._send)
        app.router.add_post("/v4/oa/access_token", self._refresh)
        app.router.add_post("/message/template", self._template)
        app.router.add_get("/files/{name}", self._file)

    # --- the OA message API -------------------------------------------------------------
    async def _send(self, request: web.Request) -> web.Response:
        self.send_calls += 1
        if self.script:
            how, code = self.script.pop(0)
            if how == "http":
                return web.Response(status=code, text="Bad Gateway")
            return _error(code, "scripted")
        token = request.headers.get("access_token", "")
        if token not in self.access_tokens:
            return _error(-216, "Access token is invalid")
        body = await request.json()
        text = body["message"].get("text", "")
        if not text or len(text) > MAX_TEXT:
            return _error(-201, "text is invalid!")
        message_id = f"m{next(self._ids):016x}"
        buttons = (body["message"].get("attachment") or {}).get("payload", {}).get("buttons", [])
        self.sent.append({"user_id": body["recipient"]["user_id"], "text": text,
                          "buttons": buttons, "token": token, "message_id": message_id})
        return web.json_response({"error": 0, "message": "Success",
                                  "data": {"message_id": message_id,
                                           "user_id": body["recipient"]["user_id"]}})

    # --- ZNS (business.openapi.zalo.me) ----------------------------------------------------
    async def _template(self, request: web.Request) -> web.Response:
        token = request.headers.get("access_token", "")
        if token not in self.access_tokens:
            return _error(-124, "Access token is invalid")
        body = await request.json()
        if not body.get("phone") or not body.get("template_id"):
            return _error(-108, "phone or template_id is invalid")
        message_id = f"z{next(self._ids):016x}"
        self.templates.append({**body, "token": token, "msg_id": message_id})
        return web.json_response({"error": 0, "message": "Success",
                                  "data": {"msg_id": message_id, "sent_time": str(_now_ms())}})

    # --- OAuth v4 -------------------------------------------------------------------------
    async def _refresh(self, request: web.Request) -> web.Response:
        form = dict(await request.post())
        self.refresh_calls.append({k: str(v) for k, v in form.items()})
        if self.refresh_delay:
            await asyncio.sleep(self.refresh_delay)
        if self.refresh_status >= 500:
            return web.Response(status=self.refresh_status)
        if (request.headers.get("secret_key") != APP_SECRET or form.get("app_id") != APP_ID
                or form.get("grant_type") != "refresh_token"):
            return _error(-14002, "Invalid app id or secret key")
        token = str(form.get("refresh_token"))
        if token not in self.refresh_tokens:
            return web.json_response({"error": -14014, "error_name": "Invalid parameter",
                                      "error_description": "Invalid refresh_token"})
        self.refresh_tokens.discard(token)  # works once
        number = len(self.refresh_calls)
        access, refresh = f"access-{number}", f"refresh-{number}"
        self.access_tokens = {access}  # the old access token stops working
        self.refresh_tokens.add(refresh)
        return web.json_response({"access_token": access, "refresh_token": refresh,
                                  "expires_in": "90000"})

    async def _file(self, request: web.Request) -> web.Response:
        stored = self.files.get(request.match_info["name"])
        if stored is None:
            return web.Response(status=404)
        return web.Response(body=stored[0], content_type=stored[1])

    def add_file(self, name: str, data: bytes, content_type: str) -> str:
        self.files[name] = (data, content_type)
        return f"{self.base_url}/files/{name}"

    # --- webhook events -------------------------------------------------------------------
    def user_event(self, name: str, user: str, timestamp: int | None = None,
                   **message: Any) -> dict[str, Any]:
        """A user_send_* event; `message` holds text, attachments..."""
        return {"app_id": APP_ID, "user_id_by_app": "8990001", "event_name": name,
                "timestamp": str(timestamp or _now_ms()),
                "sender": {"id": user}, "recipient": {"id": OA_ID},
                "message": {"msg_id": f"u{next(self._ids):020x}", **message}}

    def staff_event(self, user: str, text: str, msg_id: str | None = None) -> dict[str, Any]:
        return {"app_id": APP_ID, "event_name": "oa_send_text", "timestamp": str(_now_ms()),
                "sender": {"id": OA_ID}, "recipient": {"id": user},
                "message": {"msg_id": msg_id or f"o{next(self._ids):020x}", "text": text}}

    def follow_event(self, name: str, user: str) -> dict[str, Any]:
        return {"app_id": APP_ID, "event_name": name, "timestamp": str(_now_ms()),
                "oa_id": OA_ID, "follower": {"id": user}, "source": "testing"}

    @staticmethod
    def post(url: str, event: dict[str, Any] | bytes, mac: str | None = None,
             app_id: str = APP_ID, secret: str = OA_SECRET) -> int:
        """POST an event as Zalo does (signed unless `mac` is given); the HTTP status."""
        body = event if isinstance(event, bytes) else json.dumps(event).encode()
        if mac is None:
            timestamp = str(event["timestamp"]) if isinstance(event, dict) else ""
            mac = signature(app_id, body, timestamp, secret)
        headers = {"Content-Type": "application/json"}
        if mac:
            headers[SIGNATURE_HEADER] = mac
        return httpx.post(url, content=body, headers=headers, timeout=30).status_code

    def wait_for(self, predicate, timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in list(self.sent):
                if predicate(message):
                    return message
            time.sleep(0.1)
        raise AssertionError(f"no such message; sent so far: {self.sent}")


def _now_ms() -> int:
    return int(time.time() * 1000)


def _error(code: int, message: str) -> web.Response:
    return web.json_response({"error": code, "message": message})


# --- the channel under test ---------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def webhook_url(settings: Settings) -> str:
    return f"http://127.0.0.1:{settings.web_port}{zalo_oa.WEBHOOK_PATH}"


def new_pipeline(settings: Settings) -> Pipeline:
    rasa = RasaClient(f"http://127.0.0.1:{free_port()}", "token", timeout=2)
    return Pipeline(settings.effective_database_url, rasa)


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[zalo_oa.ZaloOAChannel]:
    pipeline = new_pipeline(settings)
    channel = zalo_oa.build_channel(settings, pipeline)
    runner = await start_web(settings, pipeline, zalo_oa.webhook_routes(channel))
    try:
        yield channel
    finally:
        await zalo_oa.stop(channel)
        await runner.cleanup()
        await pipeline.rasa.aclose()


async def post(settings: Settings, event, **kwargs) -> int:
    """Zalo POSTs the event to the bot's webhook (from a thread: the bot runs in this loop)."""
    return await asyncio.to_thread(FakeZaloOA.post, webhook_url(settings), event, **kwargs)


def row_of(db_url: str, event: dict) -> InboxMessage | None:
    msg_id = event["message"]["msg_id"]
    platform_id = f"oa:{msg_id}" if event["event_name"].startswith("oa_send_") else msg_id
    with session_scope(db_url) as session:
        row = session.scalar(select(InboxMessage).where(
            InboxMessage.platform_message_id == platform_id))
        if row is not None:
            session.expunge(row)
        return row


async def handled(db_url: str, event: dict, timeout: float = 20) -> InboxMessage:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = row_of(db_url, event)
        if row is not None and (row.status != "pending" or row.attempts > 0):
            return row
        await asyncio.sleep(0.1)
    raise AssertionError("event not handled in time")


def citizen_wrote(db_url: str, user: str, at: datetime | None = None) -> None:
    """An (already handled) message of the citizen in the inbox: Zalo's messaging window is
    counted from it (bot/channels/zalo_oa_windows.py)."""
    at = at or datetime.now(UTC)
    with session_scope(db_url) as session:
        session.add(InboxMessage(channel="zalo", platform_message_id=f"t{time.time_ns()}",
                                 sender_external_id=user, text="Dạ", payload={},
                                 received_at=at, status="done", processed_at=at))
