"""The desk's Web Push routes over real HTTP (the bot's web app on aiohttp's test server): an
officer logged in with a real desk session subscribes a browser (a real P-256 key pair), the
delivery job pushes a notice to the fake push service and the test decrypts it; CSRF, login,
https-only endpoints, unsubscribing, and the service worker."""

from __future__ import annotations

import asyncio
import re

import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from bot.core import webpush
from bot.jobs.notice_delivery import deliver_notices
from bot.settings import load_settings
from bot.store.db import session_scope
from bot.store.desk_models import PushSubscription
from bot.store.models import Officer
from bot.web.desk.auth_store import create_session
from tests.conftest import BACKENDS
from tests.desk_client import desk_http, make_app
from tests.fake_push import BrowserKeys, FakePushService
from tests.helpers import NOW, TestClock
from tests.test_webpush import add_notice, decrypt, delivery

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
pytestmark = pytest.mark.timeout(60)


class OfficerBrowser:
    """One officer's browser: a desk session cookie and the page's CSRF token."""

    def __init__(self, server: TestServer, token: str | None) -> None:
        self.http = desk_http(server, token)

    async def csrf(self) -> str:
        async with self.http.get("/desk/notices", allow_redirects=False) as response:
            return CSRF.search(await response.text())[1]

    async def post(self, path: str, body: object, csrf: str | None = "page") -> tuple[int, str]:
        headers = {}
        if csrf == "page":
            headers["X-CSRF-Token"] = await self.csrf()
        elif csrf:
            headers["X-CSRF-Token"] = csrf
        async with self.http.post(path, json=body, headers=headers,
                                  allow_redirects=False) as response:
            return response.status, await response.text()


def run_desk(scenario, usernames=("truongkt", "kinhte")) -> None:
    settings = load_settings()
    url = settings.effective_database_url
    app = make_app(settings, TestClock(NOW))

    async def main() -> None:
        server = TestServer(app)
        await server.start_server()
        browsers = {}
        with session_scope(url) as session:
            for name in usernames:
                officer = session.scalar(select(Officer).where(Officer.username == name))
                browsers[name] = (officer.id, OfficerBrowser(server, create_session(
                    session, officer.id, NOW, 12)))
        browsers[None] = (None, OfficerBrowser(server, None))
        try:
            await scenario(browsers)
        finally:
            for _, browser in browsers.values():
                await browser.http.close()
            await server.close()

    asyncio.run(main())


def subscription_json(endpoint: str, keys: BrowserKeys) -> dict:
    return {"endpoint": endpoint, "expirationTime": None,
            "keys": {"p256dh": keys.p256dh, "auth": keys.auth}}


def subscriptions(url: str) -> list[tuple[int, str, bool]]:
    with session_scope(url) as session:
        return [(row.officer_id, row.endpoint, row.active) for row in session.scalars(
            select(PushSubscription).order_by(PushSubscription.id))]


@pytest.mark.parametrize("empty_db_url", BACKENDS, indirect=True)
def test_officer_subscribes_on_the_desk_and_receives_the_decrypted_notice(app_env):
    keys = BrowserKeys.generate()

    async def scenario(browsers):
        officer_id, officer = browsers["truongkt"]
        async with officer.http.get("/desk/push/key") as response:
            assert response.status == 200
            assert (await response.json())["publicKey"] == webpush.public_key(load_settings())
        with FakePushService() as push:
            endpoint = push.endpoint()
            status, _ = await officer.post("/desk/push/subscribe",
                                           subscription_json(endpoint, keys))
            assert status == 201
            assert subscriptions(app_env) == [(officer_id, endpoint, True)]
            delivery_id = add_notice(app_env, officer_id, key="desk-1")
            await asyncio.to_thread(deliver_notices, app_env, load_settings(), TestClock(NOW))
            payload = decrypt(push.to(endpoint)[0].body, keys)
        assert "Đơn mới" in payload["title"] and delivery(app_env, delivery_id).status == "sent"

    run_desk(scenario)


def test_subscribe_needs_the_csrf_header_and_a_login(app_env):
    body = subscription_json("https://push.example/abc", BrowserKeys.generate())

    async def scenario(browsers):
        _, officer = browsers["truongkt"]
        assert (await officer.post("/desk/push/subscribe", body, csrf=None))[0] == 403
        assert (await officer.post("/desk/push/subscribe", body, csrf="forged"))[0] == 403
        _, stranger = browsers[None]
        assert (await stranger.post("/desk/push/subscribe", body, csrf="x"))[0] == 403
        async with stranger.http.get("/desk/push/key", allow_redirects=False) as response:
            assert response.status == 302
        assert subscriptions(app_env) == []

    run_desk(scenario)


def test_bad_subscriptions_are_refused(app_env, monkeypatch):
    monkeypatch.setenv("PUBLIC_URL", "https://nghedan.example")
    load_settings.cache_clear()
    keys = BrowserKeys.generate()
    good = subscription_json("https://push.example/abc", keys)

    async def scenario(browsers):
        _, officer = browsers["truongkt"]
        for bad in (subscription_json("http://127.0.0.1:9/push", keys),  # not https
                    subscription_json("https://user:pw@push.example/x", keys),
                    {**good, "keys": {"p256dh": "AAAA", "auth": keys.auth}},
                    {**good, "keys": {"p256dh": keys.p256dh}},
                    {"endpoint": ["x"]}, ["not", "an", "object"]):
            status, text = await officer.post("/desk/push/subscribe", bad)
            assert status == 400 and "không hợp lệ" in text
        assert (await officer.post("/desk/push/subscribe", good))[0] == 201

    run_desk(scenario)
    assert [active for *_, active in subscriptions(app_env)] == [True]


def test_unsubscribe_turns_off_only_the_officers_own_browser(app_env):
    body = subscription_json("https://push.example/mine", BrowserKeys.generate())

    async def scenario(browsers):
        owner_id, owner = browsers["truongkt"]
        _, other = browsers["kinhte"]
        assert (await owner.post("/desk/push/subscribe", body))[0] == 201
        assert (await other.post("/desk/push/unsubscribe", {"endpoint": body["endpoint"]}))[
            0] == 200
        assert subscriptions(app_env) == [(owner_id, body["endpoint"], True)]
        assert (await owner.post("/desk/push/unsubscribe", {"endpoint": body["endpoint"]}))[
            0] == 200
        assert subscriptions(app_env) == [(owner_id, body["endpoint"], False)]
        # subscribing again (same browser) turns it back on
        assert (await owner.post("/desk/push/subscribe", body))[0] == 201
        assert subscriptions(app_env) == [(owner_id, body["endpoint"], True)]

    run_desk(scenario)


def test_service_worker_is_served_for_the_desk_scope_and_the_page_loads_push_js(app_env):
    async def scenario(browsers):
        _, stranger = browsers[None]
        async with stranger.http.get("/desk/sw.js") as response:
            assert response.status == 200
            assert response.headers["Service-Worker-Allowed"] == "/desk/"
            assert response.content_type == "text/javascript"
            script = await response.text()
        assert "showNotification" in script and "openWindow" in script
        _, officer = browsers["truongkt"]
        async with officer.http.get("/desk/notices") as response:
            html = await response.text()
        assert 'src="/static/desk/push.js"' in html and 'id="push-status"' in html
        async with officer.http.get("/static/desk/push.js") as response:
            assert response.status == 200 and "Bật thông báo" in await response.text()

    run_desk(scenario)
