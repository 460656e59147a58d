"""Helpers for the desk's HTTP tests: the bot's web app (aiohttp test server on 127.0.0.1) on
the test database, officers with passwords, and logging in through the real form."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable

from aiohttp.test_utils import TestClient, TestServer

from bot.core.passwords import set_password
from bot.dialogue.pipeline import Pipeline
from bot.dialogue.rasa_client import RasaClient
from bot.settings import Settings, load_settings
from bot.store.db import session_scope
from bot.web.app import create_app
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
