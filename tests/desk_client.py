"""Helpers for the desk's HTTP tests: the bot's web app (aiohttp test server on 127.0.0.1) on
the test database, officers with passwords, logging in through the real form, and (`desk`)
officers' browsers with a desk session made directly."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable

import aiohttp
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bot.core.passwords import set_password
from bot.dialogue.pipeline import Pipeline
from bot.dialogue.rasa_client import RasaClient
from bot.settings import Settings, load_settings
from bot.store.db import session_scope
from bot.store.models import Officer
from bot.web.app import create_app
from bot.web.desk.auth_store import create_session
from bot.web.desk.security import SESSION_COOKIE
from tests.helpers import TestClock
from tests.test_pipeline import closed_port

PASSWORD = "mat-khau-kiem-thu-2026"
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def with_passwords(url: str, *usernames: str) -> None:
    with session_scope(url) as session:
        for username in usernames:
            set_password(session, username, PASSWORD)


def make_app(settings: Settings | None = None, clock: TestClock | None = None):
    settings = settings or load_settings()
    clock = clock or TestClock()
    rasa = RasaClient(f"http://127.0.0.1:{closed_port()}", "token", timeout=2)
    return create_app(settings, Pipeline(settings.effective_database_url, rasa, clock=clock))


def run(*apps, scenario: Callable[..., Awaitable[None]]) -> None:
    """Run `scenario(client, ...)` with one test client per app (each its own cookie jar)."""
    async def main() -> None:
        clients = [TestClient(TestServer(app)) for app in apps]
        for client in clients:
            await client.start_server()
        try:
            await scenario(*clients)
        finally:
            for client in clients:
                await client.close()

    asyncio.run(main())


def csrf(html: str) -> str:
    match = TOKEN.search(html)
    assert match, "no csrf token in the page"
    return match.group(1)


async def login(client: TestClient, username: str, password: str = PASSWORD,
                expect: int = 302, next_path: str = "/desk/"):
    page = await client.get("/desk/login")
    token = csrf(await page.text())
    response = await client.post("/desk/login", data={
        "username": username, "password": password, "csrf_token": token, "next": next_path},
        allow_redirects=False)
    assert response.status == expect, (response.status, await response.text())
    return response


async def page_token(client: TestClient, path: str = "/desk/") -> str:
    response = await client.get(path)
    assert response.status == 200, response.status
    return csrf(await response.text())


def desk_http(server: TestServer, token: str | None) -> aiohttp.ClientSession:
    """An HTTP client of the running desk with its own cookie jar, holding the desk session
    `token` (None: logged out)."""
    http = aiohttp.ClientSession(base_url=server.make_url("/"),
                                 cookie_jar=aiohttp.CookieJar(unsafe=True))
    if token:
        http.cookie_jar.update_cookies({SESSION_COOKIE: token}, server.make_url("/"))
    return http


class Browser:
    """One officer's cookie jar against the running desk."""

    def __init__(self, server: TestServer, token: str | None) -> None:
        self.http = desk_http(server, token)

    async def get(self, path: str) -> tuple[int, str]:
        async with self.http.get(path, allow_redirects=False) as response:
            return response.status, await response.text()

    async def page(self, code: str, query: str = "") -> str:
        status, html = await self.get(f"/desk/tickets/{code}{query}")
        assert status == 200, html
        return html

    async def post(self, code: str, action: str, csrf: bool = True,
                   data: dict | aiohttp.FormData | None = None) -> tuple[int, str]:
        """POST one action form with the page's CSRF token; (status, Location or body)."""
        form = data if isinstance(data, aiohttp.FormData) else aiohttp.FormData(data or {})
        if csrf:
            form.add_field("csrf_token", await self.csrf())
        async with self.http.post(f"/desk/tickets/{code}/{action}", data=form,
                                  allow_redirects=False) as response:
            body = await response.text()
            return response.status, response.headers.get("Location", body)

    async def csrf(self) -> str:
        _, html = await self.get("/desk/")
        return csrf(html)

    async def act(self, code: str, action: str, **fields) -> str:
        """An action that must succeed: 303 back to the ticket, whose page says it was done."""
        status, location = await self.post(code, action, data=fields)
        assert (status, location) == (303, f"/desk/tickets/{code}"), location
        return await self.page(code)


Scenario = Callable[[Callable[[str | None], Browser]], Awaitable[None]]


def desk(scenario: Scenario, clock: TestClock | None = None) -> None:
    """Run a scenario against the bot's web app (desk mounted) with the settings of app_env;
    `login(username)` gives a Browser with a fresh desk session of that officer (no password
    needed: the session is made directly)."""
    settings = load_settings()
    clock = clock or TestClock()
    url = settings.effective_database_url
    app = make_app(settings, clock)

    async def main() -> None:
        server = TestServer(app)
        await server.start_server()
        browsers: list[Browser] = []

        def login(username: str | None) -> Browser:
            token = None
            if username:
                with session_scope(url) as session:
                    officer = session.scalar(select(Officer).where(Officer.username == username))
                    token = create_session(session, officer.id, clock(), 12)
            browsers.append(Browser(server, token))
            return browsers[-1]

        try:
            await scenario(login)
        finally:
            for browser in browsers:
                await browser.http.close()
            await server.close()

    asyncio.run(main())
