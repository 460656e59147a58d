"""Who is at the desk: the session cookie, CSRF tokens, flash messages, rendering with the
layout's context, and the security headers of every desk response.

API for every desk view (WEB-A and WEB-B):
    current_officer(request) -> DeskUser | None
    require_user(request) -> DeskUser        (GET: redirect to the login page; else 403)
    @login_required                           (the same, as a decorator of a handler)
    require_role(request, *roles) -> DeskUser (403 page unless the officer has one of the roles)
    check_csrf(request, form)                 (raises web.HTTPForbidden)
    render(request, template, context, status=200) -> web.Response
    flash(request, text, level="ok"|"error"); raise redirect(location)
    db_url(request), now(request), core_context(request)"""

from __future__ import annotations

import base64
import functools
import hmac
import json
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

import aiohttp_jinja2
import structlog
from aiohttp import web

from bot.core.authz import Caller
from bot.core.clock import Clock
from bot.core.context import CoreContext
from bot.settings import Settings
from bot.store.db import session_scope
from bot.web.desk.auth_store import csrf_token_of, load_session

log = structlog.get_logger(__name__)

DESK_SETTINGS = web.AppKey("desk_settings", Settings)
DESK_DB_URL = web.AppKey("desk_db_url", str)
DESK_CLOCK = web.AppKey("desk_clock", Clock)
DESK_CONTEXT = web.AppKey("desk_context", CoreContext)

SESSION_COOKIE = "nd_desk"
FORM_COOKIE = "nd_form"  # anonymous forms (login, invite): double-submit CSRF token
FLASH_COOKIE = "nd_flash"
COOKIE_PATH = "/desk"
CSRF_FIELD = "csrf_token"
# Typed request keys (aiohttp warns about plain strings).
_USER = web.RequestKey("desk_user", object)
_FLASHES = web.RequestKey("desk_flashes", list)
_ANON_TOKEN = web.RequestKey("desk_form_token", str)
_FLASH_SHOWN = web.RequestKey("desk_flash_shown", bool)

POLICY = ("default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; "
          "style-src 'self'; script-src 'self'; connect-src 'self'; worker-src 'self'; "
          "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
HEADERS = {"Content-Security-Policy": POLICY, "X-Content-Type-Options": "nosniff",
           "X-Frame-Options": "DENY", "Referrer-Policy": "same-origin",
           "Cross-Origin-Opener-Policy": "same-origin",
           "Permissions-Policy": "camera=(), microphone=(), geolocation=()"}

FORBIDDEN_TEXT = "Anh/chị không có quyền thực hiện thao tác này."
CSRF_TEXT = "Biểu mẫu đã hết hạn hoặc không hợp lệ. Anh/chị vui lòng tải lại trang và thử lại."
NOT_FOUND_TEXT = "Không tìm thấy trang này."


@dataclass(frozen=True)
class DeskUser:
    officer_id: int
    username: str
    full_name: str
    roles: frozenset[str]
    csrf_token: str
    caller: Caller
    unit_id: int | None = None
    unit_name: str = ""

    def has_role(self, *roles: str) -> bool:
        return bool(self.roles & {str(r) for r in roles})

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles


def db_url(request: web.Request) -> str:
    return request.app[DESK_DB_URL]


def now(request: web.Request) -> datetime:
    return request.app[DESK_CLOCK]()


def settings_of(request: web.Request) -> Settings:
    return request.app[DESK_SETTINGS]


def core_context(request: web.Request) -> CoreContext:
    return request.app[DESK_CONTEXT]


def current_officer(request: web.Request) -> DeskUser | None:
    """The logged-in officer of this request (looked up once per request)."""
    if _USER in request:
        return request[_USER]
    user = None
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        with session_scope(db_url(request)) as session:
            found = load_session(session, token, now(request),
                                 settings_of(request).desk_session_hours)
            if found is not None:
                row, officer = found
                user = DeskUser(
                    officer_id=officer.id, username=officer.username,
                    full_name=officer.full_name,
                    roles=frozenset(str(r.role) for r in officer.roles),
                    csrf_token=csrf_token_of(row.csrf_secret),
                    caller=Caller.officer(officer.id, "desk"), unit_id=officer.unit_id,
                    unit_name=officer.unit.name if officer.unit else "")
    request[_USER] = user
    return user


def login_url(request: web.Request) -> str:
    return "/desk/login?next=" + quote(request.path_qs, safe="")


def require_user(request: web.Request) -> DeskUser:
    user = current_officer(request)
    if user is not None:
        return user
    if request.method in ("GET", "HEAD"):
        raise web.HTTPFound(login_url(request))
    raise web.HTTPForbidden(text="Phiên làm việc đã hết. Anh/chị vui lòng đăng nhập lại.")


def require_role(request: web.Request, *roles: str) -> DeskUser:
    user = require_user(request)
    if not user.has_role(*roles):
        raise web.HTTPForbidden(text=FORBIDDEN_TEXT)
    return user


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def login_required(handler: Handler) -> Handler:
    @functools.wraps(handler)
    async def wrapped(request: web.Request) -> web.StreamResponse:
        require_user(request)
        return await handler(request)

    return wrapped


def form_token(request: web.Request) -> str:
    """The CSRF token of an anonymous form (double-submit: the same value in a cookie)."""
    if _ANON_TOKEN not in request:
        existing = request.cookies.get(FORM_COOKIE, "")
        request[_ANON_TOKEN] = (existing if 20 <= len(existing) <= 100
                                else secrets.token_urlsafe(24))
    return request[_ANON_TOKEN]


def check_csrf(request: web.Request, form, anonymous: bool = False) -> None:
    """The form's token must be the session's (or, for `anonymous` forms such as the login,
    the one in the form cookie); raises web.HTTPForbidden otherwise."""
    sent = str(form.get(CSRF_FIELD) or "") if form is not None else ""
    if anonymous:
        expected = request.cookies.get(FORM_COOKIE, "")
    else:
        user = current_officer(request)
        expected = user.csrf_token if user is not None else ""
    if not sent or not expected or not hmac.compare_digest(sent, expected):
        log.info("desk_csrf_refused", path=request.path)
        raise web.HTTPForbidden(text=CSRF_TEXT)


def flash(request: web.Request, text: str, level: str = "ok") -> None:
    """A message shown once on the next page (kept in a cookie across the redirect)."""
    request.setdefault(_FLASHES, []).append({"text": text[:500], "level": level})


def redirect(location: str) -> web.HTTPFound:
    """Raise it: `raise redirect("/desk/")`; flashes go with it."""
    return web.HTTPFound(location)


def safe_next(value: str | None, default: str = "/desk/") -> str:
    """Only a path on the desk itself (no //host, no scheme, no control characters): no open
    redirect, no header injection."""
    if (value and len(value) <= 500 and value.startswith("/desk") and "\\" not in value
            and value.isprintable() and " " not in value):
        return value
    return default


LOOPBACK = ("127.0.0.1", "::1")


def client_address(request: web.Request) -> str | None:
    """The client's address for the login throttle. Behind a reverse proxy on this machine
    (the connection comes from loopback) it is the address the proxy appended last to
    X-Forwarded-For; a client cannot forge that from outside."""
    remote = request.remote
    forwarded = request.headers.get("X-Forwarded-For", "")
    if remote in LOOPBACK and forwarded:
        last = forwarded.split(",")[-1].strip()
        if last and len(last) <= 100:
            return last
    return remote


def _read_flashes(request: web.Request) -> list[dict]:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return []
    try:
        items = json.loads(base64.urlsafe_b64decode(raw.encode()).decode())
        return [{"text": str(i["text"])[:500], "level": "error" if i.get("level") == "error"
                 else "ok"} for i in items][:5]
    except (ValueError, KeyError, TypeError):
        return []


def _unread(user: DeskUser | None, request: web.Request) -> int:
    if user is None:
        return 0
    from bot.core.notices import unread_count

    with session_scope(db_url(request)) as session:
        return unread_count(session, user.officer_id)


def render(request: web.Request, template: str, context: dict | None = None,
           status: int = 200) -> web.Response:
    """A desk page in the layout: the officer, CSRF token, unread count and flashes added."""
    user = current_officer(request)
    shown = _read_flashes(request) + request.pop(_FLASHES, [])
    request[_FLASH_SHOWN] = True
    values = {"user": user, "csrf_token": user.csrf_token if user else form_token(request),
              "unread": _unread(user, request), "flashes": shown, "path": request.path,
              **(context or {})}
    return aiohttp_jinja2.render_template(template, request, values, status=status)


def _cookie(response: web.StreamResponse, request: web.Request, name: str, value: str,
            max_age: int | None = None) -> None:
    response.set_cookie(name, value, path=COOKIE_PATH, httponly=True, samesite="Lax",
                        secure=settings_of(request).secure_cookies, max_age=max_age)


def set_session_cookie(response: web.StreamResponse, request: web.Request, token: str) -> None:
    _cookie(response, request, SESSION_COOKIE, token)


def clear_session_cookie(response: web.StreamResponse) -> None:
    response.del_cookie(SESSION_COOKIE, path=COOKIE_PATH)


def _finish(request: web.Request, response: web.StreamResponse) -> None:
    """Headers and cookies every desk response carries."""
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    if settings_of(request).secure_cookies:
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    if response.content_type == "text/html" or "Cache-Control" not in response.headers:
        response.headers["Cache-Control"] = "no-store"
    pending = request.get(_FLASHES)
    if pending:
        data = base64.urlsafe_b64encode(json.dumps(pending[:5]).encode()).decode()
        _cookie(response, request, FLASH_COOKIE, data)
    elif request.get(_FLASH_SHOWN) and request.cookies.get(FLASH_COOKIE):
        response.del_cookie(FLASH_COOKIE, path=COOKIE_PATH)
    if _ANON_TOKEN in request and request.cookies.get(FORM_COOKIE) != request[_ANON_TOKEN]:
        _cookie(response, request, FORM_COOKIE, request[_ANON_TOKEN])


def _error_page(request: web.Request, error: web.HTTPException) -> web.Response:
    text = error.text or ""
    if not text or text.startswith(f"{error.status}:"):
        text = {403: FORBIDDEN_TEXT, 404: NOT_FOUND_TEXT}.get(error.status, error.reason)
    return render(request, "desk/error.html", {"message": text, "status": error.status},
                  status=error.status)


@web.middleware
async def desk_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not request.path.startswith("/desk"):
        return await handler(request)
    try:
        response = await handler(request)
    except web.HTTPException as error:
        if error.status in (403, 404) and error.content_type == "text/plain":
            response = _error_page(request, error)
        else:  # a plain response (redirects too), so the cookies set on it surely go
            headers = {k: v for k, v in error.headers.items() if k.lower() != "content-length"}
            response = web.Response(status=error.status, reason=error.reason, body=error.body,
                                    headers=headers)
            for name, morsel in error.cookies.items():
                response.cookies[name] = morsel
    _finish(request, response)
    return response
