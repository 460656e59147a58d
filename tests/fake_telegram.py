"""A fake Telegram Bot API server on 127.0.0.1 (real HTTP), enough for PTB polling, webhooks,
sends and file downloads. A LocalServer (its own event loop in a thread), so tests can drive
it synchronously. The user_* helpers queue an update for getUpdates and return it (pass it to
deliver_webhook in webhook mode)."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from pathlib import Path
from typing import Any

import httpx
from aiohttp import web

from bot.settings import Settings
from tests.local_server import LocalServer

BOT = {"id": 1000, "is_bot": True, "first_name": "Nghe Dân", "username": "nghedan_bot"}
MAX_TEXT = 4096
JSON_PARAMS = ("reply_markup", "allowed_updates", "link_preview_options")


class FakeTelegram(LocalServer):
    def __init__(self) -> None:
        super().__init__()
        self.updates: list[dict[str, Any]] = []
        self.sent: list[dict[str, Any]] = []  # each with "received_at" (time.monotonic())
        self.blocked: set[int] = set()
        self.files: dict[str, dict[str, Any]] = {}  # file_id -> path, data (None: 404), size
        self.file_requests: list[str] = []  # file ids asked for with getFile
        self.downloads: list[str] = []  # file paths fetched
        self.calls: list[str] = []  # every Bot API method called, in order
        self.webhook: dict[str, Any] | None = None  # what setWebhook registered
        self._ids = itertools.count(1)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    def bot_settings(self, database_url: str, data_dir: Path) -> Settings:
        """Settings of a bot that talks to this fake instead of Telegram."""
        return Settings(_env_file=None, data_dir=data_dir, database_url=database_url,
                        telegram_token="123456:TEST", telegram_base_url=self.base_url,
                        telegram_base_file_url=self.base_file_url)

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/bot{token}/{method}", self._dispatch)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)

    async def _shutdown(self) -> None:
        await super()._shutdown()
        # a long poll still waiting when the bot went away: end it instead of leaving it
        pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    # --- what a user does -------------------------------------------------------------
    def user_sends(self, chat_id: int, chat_type: str = "private",
                   **content: Any) -> dict[str, Any]:
        """Any message: `content` is the Bot API's Message fields (text, photo, voice...)."""
        message = {"message_id": next(self._ids), "date": int(time.time()),
                   "chat": {"id": chat_id, "type": chat_type, "first_name": "Dân"},
                   "from": {"id": chat_id, "is_bot": False, "first_name": "Dân"}, **content}
        return self._queue({"update_id": next(self._ids), "message": message})

    def user_says(self, chat_id: int, text: str, chat_type: str = "private") -> dict[str, Any]:
        return self.user_sends(chat_id, chat_type, text=text)

    def user_edits(self, chat_id: int, update: dict[str, Any], text: str) -> dict[str, Any]:
        edited = {**update["message"], "text": text, "edit_date": int(time.time())}
        return self._queue({"update_id": next(self._ids), "edited_message": edited})

    def user_replies(self, chat_id: int, to_sent_message: dict[str, Any],
                     text: str) -> dict[str, Any]:
        original = {"message_id": to_sent_message["message_id"],
                    "date": to_sent_message["date"], "from": BOT,
                    "chat": {"id": chat_id, "type": "private"},
                    "text": to_sent_message["text"]}
        return self.user_sends(chat_id, text=text, reply_to_message=original)

    def user_sends_photo(self, chat_id: int, data: bytes, caption: str | None = None,
                         declared_size: int | None = None) -> dict[str, Any]:
        """A photo as Telegram sends it: a small preview and the full size."""
        thumb = {**self.add_file(b"thumbnail of " + data[:16], "photos/thumb.jpg"),
                 "width": 90, "height": 67}
        full = {**self.add_file(data, "photos/full.jpg", declared_size),
                "width": 1280, "height": 960}
        return self.user_sends(chat_id, photo=[thumb, full], **_caption(caption))

    def user_sends_voice(self, chat_id: int, data: bytes,
                         mime: str | None = "audio/ogg") -> dict[str, Any]:
        voice = {**self.add_file(data, "voice/note.oga"), "duration": 3}
        return self.user_sends(chat_id, voice=_with_mime(voice, mime))

    def user_sends_video(self, chat_id: int, data: bytes, caption: str | None = None,
                         mime: str | None = "video/mp4",
                         declared_size: int | None = None) -> dict[str, Any]:
        video = {**self.add_file(data, "videos/clip.mp4", declared_size),
                 "width": 640, "height": 480, "duration": 5}
        return self.user_sends(chat_id, video=_with_mime(video, mime), **_caption(caption))

    def user_sends_video_note(self, chat_id: int, data: bytes) -> dict[str, Any]:
        note = {**self.add_file(data, "video_notes/round.mp4"), "length": 240, "duration": 4}
        return self.user_sends(chat_id, video_note=note)

    def user_sends_audio(self, chat_id: int, data: bytes, mime: str) -> dict[str, Any]:
        audio = {**self.add_file(data, "music/song.mp3"), "duration": 30}
        return self.user_sends(chat_id, audio=_with_mime(audio, mime))

    def user_sends_document(self, chat_id: int, data: bytes, mime: str, name: str,
                            caption: str | None = None,
                            declared_size: int | None = None) -> dict[str, Any]:
        document = {**self.add_file(data, f"documents/{name}", declared_size),
                    "file_name": name, "mime_type": mime}
        return self.user_sends(chat_id, document=document, **_caption(caption))

    def user_sends_location(self, chat_id: int, latitude: float, longitude: float,
                            venue: str | None = None) -> dict[str, Any]:
        location = {"latitude": latitude, "longitude": longitude}
        if venue is None:
            return self.user_sends(chat_id, location=location)
        return self.user_sends(chat_id, location=location, venue={
            "location": location, "title": venue, "address": "Thôn 3"})

    def user_sends_contact(self, chat_id: int, phone: str,
                           user_id: int | None) -> dict[str, Any]:
        contact = {"phone_number": phone, "first_name": "Dân"}
        if user_id is not None:
            contact["user_id"] = user_id
        return self.user_sends(chat_id, contact=contact)

    def user_sends_sticker(self, chat_id: int) -> dict[str, Any]:
        sticker = {**self.add_file(b"webp sticker", "stickers/s.webp"), "width": 512,
                   "height": 512, "is_animated": False, "is_video": False, "type": "regular"}
        return self.user_sends(chat_id, sticker=sticker)

    def user_presses(self, chat_id: int, sent: dict[str, Any], title: str) -> dict[str, Any]:
        rows = sent["reply_markup"]["inline_keyboard"]
        data = next(b["callback_data"] for row in rows for b in row if b["text"] == title)
        query = {"id": str(next(self._ids)), "chat_instance": "ci", "data": data,
                 "from": {"id": chat_id, "is_bot": False, "first_name": "Dân"},
                 "message": {"message_id": sent["message_id"], "date": int(time.time()),
                             "chat": {"id": chat_id, "type": "private"}, "text": sent["text"]}}
        return self._queue({"update_id": next(self._ids), "callback_query": query})

    def add_file(self, data: bytes, path: str, declared_size: int | None = None) -> dict[str, Any]:
        """A file on the fake's server; `declared_size` is what Telegram claims it weighs."""
        file_id = f"file{next(self._ids)}"
        size = len(data) if declared_size is None else declared_size
        self.files[file_id] = {"path": f"{file_id}/{path}", "data": data, "size": size}
        return {"file_id": file_id, "file_unique_id": f"u{file_id}", "file_size": size}

    def _queue(self, update: dict[str, Any]) -> dict[str, Any]:
        self.updates.append(update)
        return update

    def deliver_webhook(self, update: dict[str, Any], secret: str | None = None) -> int:
        """POST an update to the registered webhook as Telegram does; returns the HTTP status.
        Blocking: call it from another thread than the bot's event loop."""
        assert self.webhook is not None, "setWebhook was not called"
        secret = self.webhook["secret_token"] if secret is None else secret
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret else {}
        response = httpx.post(self.webhook["url"], json=update, headers=headers, timeout=30)
        return response.status_code

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
        self.calls.append(method)
        if method == "getUpdates":
            return await self._get_updates(params)
        if method == "sendMessage":
            return self._send_message(params)
        if method == "getFile":
            return self._get_file(params)
        if method == "setWebhook":
            self.webhook = {key: params.get(key) for key in
                            ("url", "secret_token", "allowed_updates")}
            return _ok(True)
        if method == "deleteWebhook":
            self.webhook = None
            return _ok(True)
        results = {"getMe": BOT, "answerCallbackQuery": True, "setMyCommands": True,
                   "close": True}
        if method in results:
            return _ok(results[method])
        return _error(404, "Not Found")

    async def _get_updates(self, params: dict[str, Any]) -> web.Response:
        offset = int(params.get("offset") or 0)
        deadline = time.monotonic() + min(float(params.get("timeout") or 0), 1.0)
        while True:
            pending = [u for u in self.updates if u["update_id"] >= offset]
            if pending or time.monotonic() >= deadline:
                return _ok(pending)
            await asyncio.sleep(0.05)

    def _send_message(self, params: dict[str, Any]) -> web.Response:
        received_at = time.monotonic()
        chat_id = int(params["chat_id"])
        text = params.get("text", "")
        if chat_id in self.blocked:
            return _error(403, "Forbidden: bot was blocked by the user")
        if not text.strip():
            return _error(400, "Bad Request: message text is empty")
        if len(text.encode("utf-16-le")) // 2 > MAX_TEXT:
            return _error(400, "Bad Request: message is too long")
        message = {"message_id": next(self._ids), "date": int(time.time()),
                   "chat": {"id": chat_id, "type": "private"}, "text": text}
        self.sent.append({**message, "chat_id": chat_id, "received_at": received_at,
                          "reply_markup": params.get("reply_markup"),
                          "parse_mode": params.get("parse_mode"),
                          "link_preview_options": params.get("link_preview_options")})
        return _ok(message)

    def _get_file(self, params: dict[str, Any]) -> web.Response:
        file_id = str(params.get("file_id"))
        self.file_requests.append(file_id)
        stored = self.files.get(file_id)
        if stored is None:
            return _error(400, "Bad Request: invalid file_id")
        return _ok({"file_id": file_id, "file_unique_id": f"u{file_id}",
                    "file_size": stored["size"], "file_path": stored["path"]})

    async def _download(self, request: web.Request) -> web.Response:
        path = request.match_info["path"]
        self.downloads.append(path)
        stored = next((f for f in self.files.values() if f["path"] == path), None)
        if stored is None or stored["data"] is None:  # None: getFile works, the download not
            return web.Response(status=404)
        return web.Response(body=stored["data"])


def _caption(caption: str | None) -> dict[str, Any]:
    return {} if caption is None else {"caption": caption}


def _with_mime(item: dict[str, Any], mime: str | None) -> dict[str, Any]:
    return item if mime is None else {**item, "mime_type": mime}


def _ok(result: Any) -> web.Response:
    return web.json_response({"ok": True, "result": result})


def _error(code: int, description: str) -> web.Response:
    return web.json_response({"ok": False, "error_code": code, "description": description},
                             status=code)


async def _params(request: web.Request) -> dict[str, Any]:
    if request.content_type == "application/json":
        return await request.json()
    params = dict(await request.post())
    for key in JSON_PARAMS:  # PTB sends nested values as JSON text in form fields
        if isinstance(params.get(key), str):
            params[key] = json.loads(params[key])
    return params
