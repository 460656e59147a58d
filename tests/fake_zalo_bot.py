"""A fake Zalo Bot Platform Bot API on 127.0.0.1 (real HTTP), enough for webhooks, polling and
sends. Like the platform: POST <base>/bot<TOKEN>/<method> with JSON, answers
{"ok": true, "result": ...}; errors as {"ok": false, "error_code", "description"} in a 200 body;
getUpdates hands out one update per call, without an offset (gone once returned), or error 408
when none came in time. `failures` (`poll_failures`) makes the next sendMessage (getUpdates)
calls fail: an int is an error code in a 200 body, ("http", status) a bare HTTP error from a
gateway."""

from __future__ import annotations

import asyncio
import itertools
import time
from pathlib import Path
from typing import Any

import httpx
from aiohttp import web

from bot.settings import Settings
from tests.local_server import LocalServer

TOKEN = "1234567890:fake-zalo-bot-token"
MAX_TEXT = 2000
BOT = {"id": "bot-1", "account_name": "bot.NgheDan", "account_type": "BASIC",
       "can_join_groups": False}
DESCRIPTIONS = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden: user blocked the bot",
                404: "Not Found", 408: "Request timeout", 429: "Too Many Requests",
                500: "Internal Server Error"}


class FakeZaloBot(LocalServer):
    def __init__(self) -> None:
        super().__init__()
        self.updates: list[dict[str, Any]] = []  # waiting for getUpdates
        self.sent: list[dict[str, Any]] = []  # each with "chat_id", "text", "received_at"
        self.calls: list[str] = []  # every method called, in order
        self.blocked: set[str] = set()
        self.failures: list[int | tuple[str, int]] = []  # the next sendMessage calls' fate
        self.poll_failures: list[int | tuple[str, int]] = []  # the next getUpdates calls'
        self.webhook: dict[str, Any] | None = None  # what setWebhook registered
        self.files: dict[str, tuple[bytes, str] | None] = {}  # name -> data, type (None: 404)
        self.downloads: list[str] = []  # file names fetched
        self._ids = itertools.count(1)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def bot_settings(self, database_url: str, data_dir: Path) -> Settings:
        """Settings of a bot that talks to this fake instead of the platform (polling mode)."""
        return Settings(_env_file=None, data_dir=data_dir, database_url=database_url,
                        zalo_bot_token=TOKEN, zalo_bot_base_url=self.base_url)

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/bot{token}/{method}", self._dispatch)
        app.router.add_get("/files/{name}", self._download)

    async def _shutdown(self) -> None:
        await super()._shutdown()
        pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in pending:  # a long poll still waiting when the bot went away
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    # --- what a user does -------------------------------------------------------------
    def user_sends(self, user_id: str, event: str, chat_type: str = "PRIVATE",
                   **content: Any) -> dict[str, Any]:
        message = {"message_id": f"m{next(self._ids):08d}", "date": int(time.time() * 1000),
                   "chat": {"id": user_id, "chat_type": chat_type},
                   "from": {"id": user_id, "display_name": "Dân", "is_bot": False}, **content}
        update = {"event_name": event, "message": message}
        self.updates.append(update)
        return update

    def user_says(self, user_id: str, text: str, chat_type: str = "PRIVATE") -> dict[str, Any]:
        return self.user_sends(user_id, "message.text.received", chat_type, text=text)

    def user_sends_photo(self, user_id: str, data: bytes | None, caption: str | None = None,
                         content_type: str = "image/jpeg") -> dict[str, Any]:
        """A photo as the platform sends it: a link to the file (data None: the link is dead)."""
        name = f"photo{next(self._ids)}.jpg"
        self.files[name] = None if data is None else (data, content_type)
        extra = {} if caption is None else {"caption": caption}
        return self.user_sends(user_id, "message.image.received",
                               photo_url=f"{self.base_url}/files/{name}", **extra)

    def user_sends_sticker(self, user_id: str) -> dict[str, Any]:
        return self.user_sends(user_id, "message.sticker.received", sticker="sticker-1")

    def deliver_webhook(self, update: dict[str, Any], secret: str | None = None) -> int:
        """POST an update to the registered webhook as the platform does; the HTTP status.
        Blocking: call it from another thread than the bot's event loop."""
        assert self.webhook is not None, "setWebhook was not called"
        self.updates = [u for u in self.updates if u is not update]  # webhook: never polled
        secret = self.webhook["secret_token"] if secret is None else secret
        headers = {"X-Bot-Api-Secret-Token": secret} if secret else {}
        return httpx.post(self.webhook["url"], json=update, headers=headers,
                          timeout=30).status_code

    def texts_to(self, user_id: str) -> list[str]:
        return [m["text"] for m in self.sent if m["chat_id"] == user_id]

    def wait_for(self, predicate, timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in list(self.sent):
                if predicate(message):
                    return message
            time.sleep(0.1)
        raise AssertionError(f"no such message; sent so far: {self.sent}")

    # --- the Bot API --------------------------------------------------------------------
    async def _dispatch(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        self.calls.append(method)
        if request.match_info["token"] != TOKEN:
            return _error(401)
        try:
            params = await request.json() if request.can_read_body else {}
        except ValueError:
            return _error(400)
        handlers = {"getUpdates": self._get_updates, "sendMessage": self._send_message,
                    "setWebhook": self._set_webhook, "deleteWebhook": self._delete_webhook}
        if method in handlers:
            return await handlers[method](params)
        if method == "getMe":
            return _ok(BOT)
        return _error(404)

    async def _get_updates(self, params: dict[str, Any]) -> web.Response:
        if self.webhook is not None:
            return _error(400, "Bad Request: webhook is set")
        if self.poll_failures:
            return _failure(self.poll_failures.pop(0))
        deadline = time.monotonic() + min(float(params.get("timeout") or 0), 1.0)
        while True:
            if self.updates:
                return _ok(self.updates.pop(0))  # no offset: handed out once, then forgotten
            if time.monotonic() >= deadline:
                return _error(408)
            await asyncio.sleep(0.05)

    async def _send_message(self, params: dict[str, Any]) -> web.Response:
        received_at = time.monotonic()
        if self.failures:
            return _failure(self.failures.pop(0))
        chat_id, text = str(params.get("chat_id") or ""), params.get("text")
        if chat_id in self.blocked:
            return _error(403)
        if not isinstance(text, str) or not text.strip():
            return _error(400, "Bad Request: text is empty")
        if len(text) > MAX_TEXT:
            return _error(400, "Bad Request: text is too long")
        message_id = f"s{next(self._ids):08d}"
        self.sent.append({"message_id": message_id, "chat_id": chat_id, "text": text,
                          "received_at": received_at})
        return _ok({"message_id": message_id, "date": int(time.time() * 1000)})

    async def _download(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        self.downloads.append(name)
        stored = self.files.get(name)
        if stored is None:
            return web.Response(status=404)
        return web.Response(body=stored[0], content_type=stored[1])

    async def _set_webhook(self, params: dict[str, Any]) -> web.Response:
        secret = str(params.get("secret_token") or "")
        if not str(params.get("url") or "").startswith(("http://", "https://")) or not (
                8 <= len(secret) <= 256):
            return _error(400)
        self.webhook = {"url": params["url"], "secret_token": secret}
        return _ok({"url": params["url"], "updated_at": int(time.time() * 1000)})

    async def _delete_webhook(self, params: dict[str, Any]) -> web.Response:
        self.webhook = None
        return _ok({"url": "", "updated_at": int(time.time() * 1000)})


def _failure(failure: int | tuple[str, int]) -> web.Response:
    if isinstance(failure, tuple):  # a gateway in front of the platform
        return web.Response(status=failure[1], text="<html>Bad Gateway</html>",
                            content_type="text/html")
    return _error(failure)


def _ok(result: Any) -> web.Response:
    return web.json_response({"ok": True, "result": result})


def _error(code: int, description: str | None = None) -> web.Response:
    """Errors come in a 200 body, as the platform sends them."""
    return web.json_response({"ok": False, "error_code": code,
                              "description": description or DESCRIPTIONS.get(code, "Error")})
