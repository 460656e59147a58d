"""The bot's web server: the citizen web chat (on by default) and the health check."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from pathlib import Path

from aiohttp import web

from bot.core.messaging import Inbound, due_outbound, mark_sent, store_inbound
from bot.dialogue.pipeline import Pipeline, button_key
from bot.settings import Settings
from bot.store.db import session_scope
from bot.store.models import OutboxMessage

STATIC = Path(__file__).parent / "static"
SESSION_COOKIE = "nd_chat"
MAX_REQUEST_TEXT = 20000  # beyond any real message: refused whole, never cut
CHANNEL = "web"
PIPELINE = web.AppKey("pipeline", Pipeline)
SETTINGS = web.AppKey("settings", Settings)


def _visitor(request: web.Request) -> tuple[str, str | None]:
    """(external id, new cookie or None). The id is a hash of the random cookie, so a database
    reader cannot take over a chat."""
    token = request.cookies.get(SESSION_COOKIE)
    new = None
    if not token or len(token) < 20:
        token = new = secrets.token_urlsafe(24)
    return hashlib.sha256(token.encode()).hexdigest()[:40], new


def _deliver(session, external_id: str, clock) -> list[dict]:
    """Web delivery: the page fetches what is pending for it; fetched means sent."""
    rows = due_outbound(session, CHANNEL, clock(), recipient=external_id)
    out = []
    for row in rows:
        out.append(_message_json(row))
        mark_sent(row, clock())
    return out


def _message_json(row: OutboxMessage) -> dict:
    buttons = [{"title": b["title"], "key": button_key(row.id, i)}
               for i, b in enumerate(row.buttons)]
    return {"id": row.id, "text": row.text, "buttons": buttons}


async def index(_request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "chat.html")


async def post_message(request: web.Request) -> web.Response:
    pipeline = request.app[PIPELINE]
    external_id, new_cookie = _visitor(request)
    try:
        body = await request.json()
    except ValueError:
        return web.json_response({"error": "Dạ, nội dung gửi lên không hợp lệ."}, status=400)
    text = str(body.get("text") or "")
    if len(text) > MAX_REQUEST_TEXT:
        return web.json_response({"error": "Dạ, tin nhắn dài quá, Ông/Bà vui lòng chia nhỏ."},
                                 status=413)
    button = str(body.get("button") or "")[:40]
    client_id = str(body.get("client_message_id") or uuid.uuid4())[:64]
    inbound = Inbound(CHANNEL, f"{external_id}:{client_id}", external_id, text or None,
                      {"button": button} if button else {})
    with session_scope(pipeline.db_url) as session:
        row = store_inbound(session, inbound, pipeline.clock())
        inbox_id = row.id if row else None
    if inbox_id is not None:
        await pipeline.process_inbound(inbox_id)
    with session_scope(pipeline.db_url) as session:
        messages = _deliver(session, external_id, pipeline.clock)
    response = web.json_response({"messages": messages})
    if new_cookie:
        response.set_cookie(SESSION_COOKIE, new_cookie, httponly=True, samesite="Lax",
                            max_age=180 * 24 * 3600)
    return response


async def get_messages(request: web.Request) -> web.Response:
    pipeline = request.app[PIPELINE]
    external_id, _ = _visitor(request)
    with session_scope(pipeline.db_url) as session:
        messages = _deliver(session, external_id, pipeline.clock)
    return web.json_response({"messages": messages})


async def health(request: web.Request) -> web.Response:
    pipeline = request.app[PIPELINE]
    rasa = "ready" if await pipeline.rasa.is_ready() else "starting"
    return web.json_response({"ok": True, "rasa": rasa})


def create_app(settings: Settings, pipeline: Pipeline) -> web.Application:
    app = web.Application(client_max_size=64 * 1024)
    app[PIPELINE] = pipeline
    app[SETTINGS] = settings
    app.router.add_get("/", index)
    app.router.add_get("/health", health)
    app.router.add_post("/api/chat/messages", post_message)
    app.router.add_get("/api/chat/messages", get_messages)
    app.router.add_static("/static/", STATIC)
    return app


async def start_web(settings: Settings, pipeline: Pipeline) -> web.AppRunner:
    runner = web.AppRunner(create_app(settings, pipeline), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, settings.web_host, settings.web_port).start()
    return runner
