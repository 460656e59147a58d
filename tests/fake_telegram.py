"""A fake Telegram Bot API server on 127.0.0.1 (real HTTP), enough for PTB polling and sends.
Runs its own event loop in a thread so tests can drive it synchronously."""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from typing import Any

from aiohttp import web

BOT = {"id": 1000, "is_bot": True, "first_name": "Nghe Dân", "username": "nghedan_bot"}


class FakeTelegram:
    def __init__(self) -> None:
        self.updates: list[dict[str, Any]] = []
        self.sent: list[dict[str, Any]] = []
        self.blocked: set[int] = set()
        self._ids = itertools.count(1)
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    def start(self) -> None:
        ready = threading.Event()
        threading.Thread(target=self._serve, args=(ready,), daemon=True).start()
        assert ready.wait(10)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)

    def _serve(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self._dispatch)
        self._runner = web.AppRunner(app)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]
        ready.set()
        self._loop.run_forever()

    # --- what a user does -------------------------------------------------------------
    def user_says(self, chat_id: int, text: str) -> None:
        message = {"message_id": next(self._ids), "date": int(time.time()), "text": text,
                   "chat": {"id": chat_id, "type": "private", "first_name": "Dân"},
                   "from": {"id": chat_id, "is_bot": False, "first_name": "Dân"}}
        self.updates.append({"update_id": next(self._ids), "message": message})

    def user_presses(self, chat_id: int, sent: dict[str, Any], title: str) -> None:
        rows = sent["reply_markup"]["inline_keyboard"]
        data = next(b["callback_data"] for row in rows for b in row if b["text"] == title)
        query = {"id": str(next(self._ids)), "chat_instance": "ci", "data": data,
                 "from": {"id": chat_id, "is_bot": False, "first_name": "Dân"},
                 "message": {"message_id": sent["message_id"], "date": int(time.time()),
                             "chat": {"id": chat_id, "type": "private"}, "text": sent["text"]}}
        self.updates.append({"update_id": next(self._ids), "callback_query": query})

    @staticmethod
    def button_titles(sent: dict[str, Any]) -> list[str]:
        rows = (sent["reply_markup"] or {}).get("inline_keyboard", [])
        return [b["text"] for row in rows for b in row]

    def wait_for(self, predicate, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in list(self.sent):
                if predicate(message):
                    return message
            time.sleep(0.2)
        raise AssertionError(f"no such message; sent so far: {self.sent}")

    # --- the Bot API --------------------------------------------------------------------
    async def _dispatch(self, request: web.Request) -> web.Response:
        params = await _params(request)
        method = request.match_info["method"]
        if method == "getUpdates":
            return await self._get_updates(params)
        if method == "sendMessage":
            return self._send_message(params)
        results = {"getMe": BOT, "deleteWebhook": True, "answerCallbackQuery": True,
                   "setMyCommands": True, "close": True}
        if method in results:
            return web.json_response({"ok": True, "result": results[method]})
        return web.json_response({"ok": False, "error_code": 404,
                                  "description": "Not Found"}, status=404)

    async def _get_updates(self, params: dict[str, Any]) -> web.Response:
        offset = int(params.get("offset") or 0)
        deadline = time.monotonic() + min(float(params.get("timeout") or 0), 1.0)
        while True:
            pending = [u for u in self.updates if u["update_id"] >= offset]
            if pending or time.monotonic() >= deadline:
                return web.json_response({"ok": True, "result": pending})
            await asyncio.sleep(0.05)

    def _send_message(self, params: dict[str, Any]) -> web.Response:
        chat_id = int(params["chat_id"])
        if chat_id in self.blocked:
            return web.json_response({"ok": False, "error_code": 403,
                                      "description": "Forbidden: bot was blocked by the user"},
                                     status=403)
        message = {"message_id": next(self._ids), "date": int(time.time()),
                   "chat": {"id": chat_id, "type": "private"}, "text": params.get("text", "")}
        markup = params.get("reply_markup")
        if isinstance(markup, str):
            markup = json.loads(markup)
        self.sent.append({**message, "chat_id": chat_id, "reply_markup": markup})
        return web.json_response({"ok": True, "result": message})


async def _params(request: web.Request) -> dict[str, Any]:
    if request.content_type == "application/json":
        return await request.json()
    return dict(await request.post())
