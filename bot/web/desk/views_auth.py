"""Login, logout and the one-time invite link that sets an officer's password."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import structlog
from aiohttp import web
from sqlalchemy import select

from bot.core.passwords import (
    PasswordError,
    hash_password,
    invite_officer,
    needs_rehash,
    set_password_by_invite,
    verify_password,
)
from bot.store.db import session_scope
from bot.store.models import Officer
from bot.web.desk import security as sec
from bot.web.desk.auth_store import (
    Throttle,
    clear_failures,
    create_session,
    locked_until,
    record_failure,
    revoke_session,
    throttle_keys,
)

log = structlog.get_logger(__name__)

WRONG_TEXT = "Tên đăng nhập hoặc mật khẩu không đúng."
LOCKED_TEXT = ("Đăng nhập tạm khóa vì nhập sai nhiều lần. Anh/chị vui lòng thử lại sau "
               "{minutes} phút.")
LOGGED_OUT_TEXT = "Anh/chị đã đăng xuất."
INVITE_BAD_TEXT = "Liên kết mời không hợp lệ, đã dùng hoặc đã hết hạn."
MISMATCH_TEXT = "Hai lần nhập mật khẩu không giống nhau."
PASSWORD_SET_TEXT = "Đã đặt mật khẩu. Anh/chị đăng nhập bằng mật khẩu mới."
MAX_FIELD = 200


def _field(form, name: str) -> str:
    return str(form.get(name) or "")[:MAX_FIELD]


async def login_page(request: web.Request) -> web.Response:
    target = sec.safe_next(request.query.get("next"))
    if sec.current_officer(request) is not None:
        raise web.HTTPFound(target)
    return sec.render(request, "desk/login.html", {"next": target, "username": ""})


def _lock_minutes(until: datetime, now: datetime) -> int:
    return max(1, int((until - now).total_seconds() // 60) + 1)


async def login_submit(request: web.Request) -> web.Response:
    form = await request.post()
    sec.check_csrf(request, form, anonymous=True)
    username, password = _field(form, "username").strip().lower(), _field(form, "password")
    target = sec.safe_next(_field(form, "next"))
    settings, now = sec.settings_of(request), sec.now(request)
    keys = throttle_keys(username, sec.client_address(request))
    context = {"next": target, "username": username}
    with session_scope(sec.db_url(request)) as session:
        until = locked_until(session, keys, now)
        officer = session.scalar(select(Officer).where(Officer.username == username)) \
            if username else None
        stored = officer.password_hash if officer is not None and officer.active else None
    if until is not None:
        log.info("desk_login_locked")
        return sec.render(request, "desk/login.html", {
            **context, "error": LOCKED_TEXT.format(minutes=_lock_minutes(until, now))},
            status=429)
    ok = await asyncio.to_thread(verify_password, stored, password)
    throttle = Throttle(settings.login_max_failures,
                        timedelta(minutes=settings.login_lockout_minutes))
    token = started = None
    # (render only after the transaction: a page opens its own session)
    with session_scope(sec.db_url(request)) as session:
        if not ok or officer is None:
            started = record_failure(session, keys, now, throttle)
        else:
            clear_failures(session, keys[0])
            revoke_session(session, request.cookies.get(sec.SESSION_COOKIE), now)
            token = create_session(session, officer.id, now, settings.desk_session_hours)
            if stored and needs_rehash(stored):
                session.get(Officer, officer.id).password_hash = hash_password(password)
    if token is None:
        log.info("desk_login_failed", locked=started is not None)
        if started is not None:
            return sec.render(request, "desk/login.html", {
                **context, "error": LOCKED_TEXT.format(minutes=_lock_minutes(started, now))},
                status=429)
        return sec.render(request, "desk/login.html", {**context, "error": WRONG_TEXT},
                          status=401)
    log.info("desk_login", officer_id=officer.id)
    response = web.HTTPFound(target)
    sec.set_session_cookie(response, request, token)
    raise response


async def logout(request: web.Request) -> web.Response:
    form = await request.post()
    sec.check_csrf(request, form)
    with session_scope(sec.db_url(request)) as session:
        revoke_session(session, request.cookies.get(sec.SESSION_COOKIE), sec.now(request))
    sec.flash(request, LOGGED_OUT_TEXT)
    response = web.HTTPFound("/desk/login")
    sec.clear_session_cookie(response)
    raise response


def _invited(request: web.Request) -> Officer:
    code = request.match_info["code"]
    with session_scope(sec.db_url(request)) as session:
        officer = invite_officer(session, code, sec.now(request))
        if officer is None:
            raise web.HTTPNotFound(text=INVITE_BAD_TEXT)
        session.expunge(officer)
        return officer


def _use_invite(url: str, code: str, password: str, now: datetime) -> None:
    with session_scope(url) as session:
        set_password_by_invite(session, code, password, now)


async def invite_page(request: web.Request) -> web.Response:
    officer = _invited(request)
    return sec.render(request, "desk/invite.html", {"officer": officer})


async def invite_submit(request: web.Request) -> web.Response:
    form = await request.post()
    sec.check_csrf(request, form, anonymous=True)
    officer = _invited(request)
    password, again = _field(form, "password"), _field(form, "password2")
    error = MISMATCH_TEXT if password != again else None
    if error is None:
        try:  # in a thread: argon2 takes a moment and must not stall the server
            await asyncio.to_thread(_use_invite, sec.db_url(request),
                                    request.match_info["code"], password, sec.now(request))
        except PasswordError as problem:
            error = str(problem)
    if error is not None:
        return sec.render(request, "desk/invite.html", {"officer": officer, "error": error},
                          status=400)
    log.info("desk_password_set_by_invite", officer_id=officer.id)
    sec.flash(request, PASSWORD_SET_TEXT)
    raise web.HTTPFound("/desk/login")
