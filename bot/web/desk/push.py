"""Web Push on the desk: the server's public key, subscribing a browser (what
PushManager.subscribe returns), unsubscribing, and the service worker (/desk/sw.js, scope
/desk/) that shows the notice and opens its page when tapped.

Subscribing needs a logged-in officer and the session's CSRF token in the X-CSRF-Token
header (static/desk/push.js sends it). Endpoints must be https: the server later POSTs to
them, so an officer cannot point it at the office's internal network. Plain http to this
machine is allowed only for a local install (no PUBLIC_URL)."""

from __future__ import annotations

import base64
import binascii
import json
from pathlib import Path
from urllib.parse import urlsplit

from aiohttp import web
from sqlalchemy import select

from bot.core import webpush
from bot.store.db import session_scope
from bot.store.desk_models import PushSubscription
from bot.web.desk.security import (
    CSRF_FIELD,
    check_csrf,
    db_url,
    now,
    require_user,
    settings_of,
)

SERVICE_WORKER = Path(__file__).resolve().parent.parent / "static" / "desk" / "sw.js"
MAX_BODY_BYTES = 4096
MAX_ENDPOINT = 1000
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
BAD_SUBSCRIPTION_TEXT = "Dạ, đăng ký nhận thông báo không hợp lệ. Anh/chị vui lòng thử lại."


def _bad(text: str = BAD_SUBSCRIPTION_TEXT) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(text=json.dumps({"error": text}, ensure_ascii=False),
                              content_type="application/json")


def _b64url_bytes(value: object) -> bytes | None:
    if not isinstance(value, str) or not 1 <= len(value) <= 200:
        return None
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        return None


def _endpoint_ok(endpoint: object, local_install: bool) -> bool:
    if not isinstance(endpoint, str) or not 10 <= len(endpoint) <= MAX_ENDPOINT:
        return False
    try:
        parts = urlsplit(endpoint)
    except ValueError:
        return False
    if not parts.hostname or parts.username or parts.password:
        return False
    if parts.scheme == "https":
        return True
    return parts.scheme == "http" and local_install and parts.hostname in LOCAL_HOSTS


async def _json_body(request: web.Request) -> dict:
    user = require_user(request)
    check_csrf(request, {CSRF_FIELD: request.headers.get("X-CSRF-Token", "")})
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise _bad()
    raw = await request.content.read(MAX_BODY_BYTES + 1)
    if len(raw) > MAX_BODY_BYTES:
        raise _bad()
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise _bad() from None
    if not isinstance(body, dict):
        raise _bad()
    body["_officer_id"] = user.officer_id
    return body


async def push_key(request: web.Request) -> web.Response:
    require_user(request)
    return web.json_response({"publicKey": webpush.public_key(settings_of(request))},
                             headers={"Cache-Control": "no-store"})


async def subscribe(request: web.Request) -> web.Response:
    body = await _json_body(request)
    endpoint = body.get("endpoint")
    keys = body.get("keys") if isinstance(body.get("keys"), dict) else {}
    p256dh, auth = _b64url_bytes(keys.get("p256dh")), _b64url_bytes(keys.get("auth"))
    if not _endpoint_ok(endpoint, not settings_of(request).public_url):
        raise _bad()
    if p256dh is None or len(p256dh) != 65 or p256dh[0] != 4 or auth is None or len(auth) < 16:
        raise _bad()
    with session_scope(db_url(request)) as session:
        row = session.scalar(select(PushSubscription).where(
            PushSubscription.endpoint == endpoint))
        if row is None:
            row = PushSubscription(endpoint=endpoint, created_at=now(request))
            session.add(row)
        # a browser that another officer used before now belongs to this one
        row.officer_id = body["_officer_id"]
        row.p256dh, row.auth = keys["p256dh"], keys["auth"]
        row.active, row.last_error = True, None
    return web.json_response({"ok": True}, status=201)


async def unsubscribe(request: web.Request) -> web.Response:
    body = await _json_body(request)
    endpoint = body.get("endpoint")
    if not isinstance(endpoint, str) or len(endpoint) > MAX_ENDPOINT:
        raise _bad()
    with session_scope(db_url(request)) as session:
        row = session.scalar(select(PushSubscription).where(
            PushSubscription.endpoint == endpoint,
            PushSubscription.officer_id == body["_officer_id"]))
        if row is not None:
            row.active, row.last_error = False, "tắt trên trình duyệt"
    return web.json_response({"ok": True})


async def service_worker(request: web.Request) -> web.Response:
    """No login: the browser fetches updates of the worker in the background."""
    return web.Response(body=SERVICE_WORKER.read_bytes(), content_type="text/javascript",
                        charset="utf-8",
                        headers={"Service-Worker-Allowed": "/desk/", "Cache-Control": "no-cache"})


def setup_push_routes(app: web.Application) -> None:
    app.router.add_get("/desk/push/key", push_key)
    app.router.add_post("/desk/push/subscribe", subscribe)
    app.router.add_post("/desk/push/unsubscribe", unsubscribe)
    app.router.add_get("/desk/sw.js", service_worker)
