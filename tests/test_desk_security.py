"""Desk accounts and security over real HTTP and a real database: login, generic errors,
lock-out seen by a second bot process (a second app on the same database), session expiry,
logout, CSRF on every POST, roles on admin pages, headers and cookies, the one-time invite
link and `nghedan officer passwd` reading standard input."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from sqlalchemy import select
from yarl import URL

from bot.core.officers import create_invite
from bot.core.passwords import verify_password
from bot.settings import load_settings
from bot.store.db import session_scope
from bot.store.desk_models import DeskSession, LoginThrottle
from bot.store.models import Officer
from bot.web.desk.auth_store import create_session, load_session
from tests.conftest import BACKENDS
from tests.desk_client import PASSWORD, csrf, login, make_app, page_token, run, with_passwords
from tests.helpers import NOW, TestClock, make_ticket

pytestmark = pytest.mark.timeout(120)


def officer(url: str, username: str) -> Officer:
    with session_scope(url) as session:
        found = session.scalar(select(Officer).where(Officer.username == username))
        session.expunge(found)
        return found


def test_login_with_the_right_password_opens_the_queue_with_a_safe_cookie(app_env):
    with_passwords(app_env, "truongkt")

    async def scenario(client):
        response = await login(client, "truongkt")
        assert response.headers["Location"] == "/desk/"
        cookie = response.cookies["nd_desk"]
        assert cookie["httponly"] and cookie["samesite"] == "Lax" and cookie["path"] == "/desk"
        assert not cookie["secure"]  # PUBLIC_URL is not https here
        page = await client.get("/desk/")
        assert page.status == 200
        assert "Đặng Văn Trưởng Phòng" in await page.text()

    run(make_app(), scenario=scenario)
    with session_scope(app_env) as session:
        [row] = session.scalars(select(DeskSession))
        assert len(row.token_hash) == 64 and row.revoked_at is None  # only a hash is stored


def test_cookies_are_secure_when_the_public_address_is_https(app_env, monkeypatch):
    monkeypatch.setenv("PUBLIC_URL", "https://nghedan.example.vn")
    load_settings.cache_clear()
    with_passwords(app_env, "truongkt")

    async def scenario(client):
        page = await client.get("/desk/login")
        form_cookie = page.cookies["nd_form"]
        assert form_cookie["secure"] and form_cookie["httponly"]
        # the test client speaks http, so it keeps Secure cookies to itself: send it by hand
        response = await client.post("/desk/login", data={
            "username": "truongkt", "password": PASSWORD, "csrf_token": csrf(await page.text())},
            headers={"Cookie": f"nd_form={form_cookie.value}"}, allow_redirects=False)
        assert response.status == 302
        assert response.cookies["nd_desk"]["secure"]
        assert response.cookies["nd_desk"]["samesite"] == "Lax"

    run(make_app(), scenario=scenario)


def test_wrong_password_and_unknown_user_get_the_same_generic_message(app_env):
    with_passwords(app_env, "truongkt")

    async def scenario(client):
        wrong = await login(client, "truongkt", "sai-mat-khau-roi", expect=401)
        unknown = await login(client, "khongtontai", "sai-mat-khau-roi", expect=401)
        for response in (wrong, unknown):
            assert "Tên đăng nhập hoặc mật khẩu không đúng." in await response.text()
            assert "nd_desk" not in response.cookies
        assert (await client.get("/desk/", allow_redirects=False)).status == 302

    run(make_app(), scenario=scenario)


def test_an_unauthenticated_visit_goes_to_login_and_back_only_to_a_desk_path(app_env):
    with_passwords(app_env, "truongkt")

    async def scenario(client):
        response = await client.get("/desk/notices", allow_redirects=False)
        assert response.status == 302
        location = URL(response.headers["Location"])
        assert location.path == "/desk/login" and location.query["next"] == "/desk/notices"
        back = await login(client, "truongkt", next_path="/desk/notices")
        assert back.headers["Location"] == "/desk/notices"
        await client.post("/desk/logout", data={"csrf_token": await page_token(client)})
        evil = await login(client, "truongkt", next_path="//evil.example/desk")
        assert evil.headers["Location"] == "/desk/"

    run(make_app(), scenario=scenario)


@pytest.mark.parametrize("empty_db_url", BACKENDS, indirect=True)
def test_lock_out_after_failures_holds_in_a_second_bot_process(app_env):
    """Two apps on one database stand for two bot processes: failures in one lock the login in
    the other, even with the right password, until the lock-out time has passed."""
    with_passwords(app_env, "truongkt")
    settings = load_settings()
    clock = TestClock()
    first, second = make_app(settings, clock), make_app(settings, clock)

    async def scenario(one, two):
        for _ in range(settings.login_max_failures - 1):
            await login(one, "truongkt", "sai-mat-khau-roi", expect=401)
        locked = await login(one, "truongkt", "sai-mat-khau-roi", expect=429)
        assert "tạm khóa" in await locked.text()
        refused = await login(two, "truongkt", PASSWORD, expect=429)
        assert "nd_desk" not in refused.cookies
        clock.advance(minutes=settings.login_lockout_minutes + 1)
        await login(two, "truongkt", PASSWORD)

    run(first, second, scenario=scenario)
    with session_scope(app_env) as session:
        keys = set(session.scalars(select(LoginThrottle.key)))
        assert "user:truongkt" not in keys  # cleared by the successful login
        assert any(key.startswith("addr:") for key in keys)


def test_failures_over_many_usernames_lock_the_address(app_env):
    with_passwords(app_env, "truongkt")
    settings = load_settings()

    async def scenario(client):
        for n in range(settings.login_max_failures):
            expect = 429 if n == settings.login_max_failures - 1 else 401
            await login(client, f"doan{n}", "sai-mat-khau-roi", expect=expect)
        await login(client, "truongkt", PASSWORD, expect=429)

    run(make_app(settings), scenario=scenario)


def test_a_session_expires_when_idle_and_slides_while_used(app_env):
    with_passwords(app_env, "truongkt")
    settings, clock = load_settings(), TestClock()
    hours = settings.desk_session_hours

    async def scenario(client):
        await login(client, "truongkt")
        for _ in range(3):  # used within the limit each time: still logged in after 3x hours
            clock.advance(hours=hours - 1)
            assert (await client.get("/desk/", allow_redirects=False)).status == 200
        clock.advance(hours=hours + 1)
        response = await client.get("/desk/", allow_redirects=False)
        assert response.status == 302 and response.headers["Location"].startswith("/desk/login")

    run(make_app(settings, clock), scenario=scenario)


def test_logout_needs_the_token_and_ends_the_session_for_every_process(app_env):
    with_passwords(app_env, "truongkt")
    settings = load_settings()
    first, second = make_app(settings), make_app(settings)

    async def scenario(one, two):
        response = await login(one, "truongkt")
        cookie = response.cookies["nd_desk"].value
        two.session.cookie_jar.update_cookies({"nd_desk": cookie}, response.url)
        assert (await two.get("/desk/", allow_redirects=False)).status == 200
        refused = await one.post("/desk/logout", data={}, allow_redirects=False)
        assert refused.status == 403
        out = await one.post("/desk/logout", data={"csrf_token": await page_token(one)},
                             allow_redirects=False)
        assert out.status == 302 and out.headers["Location"] == "/desk/login"
        assert (await one.get("/desk/", allow_redirects=False)).status == 302
        assert (await two.get("/desk/", allow_redirects=False)).status == 302

    run(first, second, scenario=scenario)


def _post_paths(app, code: str) -> list[str]:
    """Every POST route of the desk, its placeholders filled with values that match it."""
    from bot.web.desk.views_admin import SECTIONS

    paths = []
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter")
        if route.method != "POST" or not path or not path.startswith("/desk"):
            continue
        path = (path.replace("{code}", code).replace("{id}", "1").replace("{item_id}", "1")
                .replace("{action}", "accept"))
        for section in SECTIONS if "{section}" in path else [""]:
            candidate = path.replace("{section}", section)
            if route.resource._match(candidate) is not None:
                paths.append(candidate)
    return paths


def test_every_desk_post_without_the_csrf_token_is_refused(app_env):
    with_passwords(app_env, "quantri")
    code = make_ticket(app_env)
    app = make_app()
    paths = _post_paths(app, code)
    assert {"/desk/login", "/desk/logout", "/desk/notices/read"} <= set(paths)
    assert any(p.startswith("/desk/admin/") for p in paths)

    async def scenario(client):
        await login(client, "quantri")
        for path in paths:
            for data in ({}, {"csrf_token": "forged-token-forged-token"}):
                response = await client.post(path, data=data, allow_redirects=False)
                assert response.status == 403, (path, response.status)
        assert (await client.get("/desk/", allow_redirects=False)).status == 200

    run(app, scenario=scenario)


def test_an_officer_without_the_admin_role_is_refused_on_admin_pages(app_env):
    with_passwords(app_env, "truongkt")
    before = officer(app_env, "kinhte")

    async def scenario(client):
        await login(client, "truongkt")
        token = await page_token(client)
        for path in ("/desk/admin/", "/desk/admin/officers", "/desk/admin/units"):
            response = await client.get(path, allow_redirects=False)
            assert response.status == 403, path
            assert "không có quyền" in await response.text()
        response = await client.post(f"/desk/admin/officers/{before.id}/deactivate",
                                     data={"csrf_token": token}, allow_redirects=False)
        assert response.status == 403
        assert "Quản trị" not in await (await client.get("/desk/")).text()

    run(make_app(), scenario=scenario)
    assert officer(app_env, "kinhte").active


def test_desk_pages_carry_the_security_headers(app_env):
    with_passwords(app_env, "truongkt")

    async def scenario(client):
        for path in ("/desk/login", "/desk/", "/desk/notices"):
            if path == "/desk/":
                await login(client, "truongkt")
            response = await client.get(path)
            headers = response.headers
            assert "default-src 'self'" in headers["Content-Security-Policy"]
            assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
            assert headers["X-Content-Type-Options"] == "nosniff"
            assert headers["X-Frame-Options"] == "DENY"
            assert headers["Cache-Control"] == "no-store"
            html = await response.text()
            assert "<script>" not in html and " style=" not in html  # nothing inline for CSP
        missing = await client.get("/desk/khong-co-trang-nay")
        assert missing.status == 404 and "Không tìm thấy" in await missing.text()
        assert missing.headers["X-Frame-Options"] == "DENY"

    run(make_app(), scenario=scenario)


def test_the_invite_link_sets_the_password_once(app_env):
    with session_scope(app_env) as session:
        target = session.scalar(select(Officer).where(Officer.username == "kinhte2"))
        code = create_invite(session, target, NOW)
    new_password = "mat-khau-moi-cua-ha-tang"

    async def scenario(client):
        page = await client.get(f"/desk/invite/{code}")
        assert page.status == 200 and "Võ Thị Hạ Tầng" in await page.text()
        token = csrf(await page.text())
        mismatch = await client.post(f"/desk/invite/{code}", data={
            "csrf_token": token, "password": new_password, "password2": "khac-han-nhau-123"})
        assert mismatch.status == 400
        done = await client.post(f"/desk/invite/{code}", data={
            "csrf_token": token, "password": new_password, "password2": new_password},
            allow_redirects=False)
        assert done.status == 302 and done.headers["Location"] == "/desk/login"
        assert (await client.get(f"/desk/invite/{code}")).status == 404
        again = await client.post(f"/desk/invite/{code}", data={
            "csrf_token": token, "password": "lan-thu-hai-khong-duoc", "password2":
            "lan-thu-hai-khong-duoc"})
        assert again.status == 404
        await login(client, "kinhte2", new_password)

    run(make_app(), scenario=scenario)
    assert verify_password(officer(app_env, "kinhte2").password_hash, new_password)


def cli(url: str, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": url, "DATA_DIR": "/tmp"}
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], capture_output=True,
                          text=True, env=env, input=stdin, timeout=60)


def test_officer_passwd_reads_the_password_from_stdin_and_ends_sessions(db_url):
    with session_scope(db_url) as session:  # logged in on some device before the change
        kinhte = session.scalar(select(Officer).where(Officer.username == "kinhte"))
        token = create_session(session, kinhte.id, NOW, hours=12)
    done = cli(db_url, "officer", "passwd", "kinhte", stdin="mat-khau-tu-stdin-01\n")
    assert done.returncode == 0, done.stderr
    assert verify_password(officer(db_url, "kinhte").password_hash, "mat-khau-tu-stdin-01")
    with session_scope(db_url) as session:
        assert load_session(session, token, NOW, 12) is None  # that device is logged out
    short = cli(db_url, "officer", "passwd", "kinhte", stdin="ngan\n")
    assert short.returncode == 1 and "ít nhất 10 ký tự" in short.stderr
    unknown = cli(db_url, "officer", "passwd", "khongco", stdin="mat-khau-tu-stdin-01\n")
    assert unknown.returncode == 1 and "Không có cán bộ" in unknown.stderr
    # the password is never an argument
    extra = cli(db_url, "officer", "passwd", "kinhte", "mat-khau-tu-stdin-02")
    assert extra.returncode != 0


def test_behind_a_local_proxy_each_forwarded_address_has_its_own_throttle(app_env):
    with_passwords(app_env, "truongkt")
    settings = load_settings()

    async def attempt(client, username, password, address, expect):
        page = await client.get("/desk/login")
        response = await client.post("/desk/login", data={
            "username": username, "password": password, "csrf_token": csrf(await page.text())},
            headers={"X-Forwarded-For": f"10.9.9.9, {address}"}, allow_redirects=False)
        assert response.status == expect, address

    async def scenario(client):
        for n in range(settings.login_max_failures):
            expect = 429 if n == settings.login_max_failures - 1 else 401
            await attempt(client, f"doan{n}", "sai-mat-khau-roi", "203.0.113.5", expect)
        await attempt(client, "truongkt", PASSWORD, "203.0.113.5", 429)
        await attempt(client, "truongkt", PASSWORD, "203.0.113.9", 302)  # the office is fine

    run(make_app(settings), scenario=scenario)


def _on_a_terminal(url: str, username: str, *answers: str) -> tuple[str, int]:
    """Run `nghedan officer passwd` on a pseudo-terminal, typing each answer at its prompt."""
    import pty
    import time

    env = {**os.environ, "DATABASE_URL": url, "DATA_DIR": "/tmp"}
    pid, fd = pty.fork()
    if pid == 0:  # the child: the command, with the terminal as its controlling tty
        os.execve(sys.executable, [sys.executable, "-m", "bot.cli", "officer", "passwd",
                                   username], env)
    out = b""

    def read_until(marker: bytes, seconds: float = 60) -> None:
        nonlocal out
        end = time.monotonic() + seconds
        while marker not in out and time.monotonic() < end:
            try:
                chunk = os.read(fd, 1024)
            except OSError:
                return
            if not chunk:
                return
            out += chunk

    for prompt, answer in zip(("Mật khẩu mới".encode(), "Nhập lại".encode()), answers,
                              strict=True):
        read_until(prompt)
        time.sleep(0.3)  # the prompt turns echo off (and flushes) before we type
        os.write(fd, answer.encode() + b"\n")
    read_until(b"\n\n", 30)
    read_until(b"\x00", 5)  # the rest, until the command exits
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return out.decode(errors="replace"), os.waitstatus_to_exitcode(status)


def test_officer_passwd_on_a_terminal_asks_twice_without_echo(db_url):
    secret = "mat-khau-go-tren-may-01"
    text, code = _on_a_terminal(db_url, "kinhte", secret, secret)
    assert code == 0 and "Đã đặt mật khẩu" in text
    assert secret not in text  # never echoed
    assert verify_password(officer(db_url, "kinhte").password_hash, secret)
    text, code = _on_a_terminal(db_url, "kinhte", "mat-khau-khac-002", "khong-giong-003")
    assert code == 1 and "không giống nhau" in text
    assert verify_password(officer(db_url, "kinhte").password_hash, secret)
