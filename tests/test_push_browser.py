"""Web Push on the desk in real headless Chromium (Debian's package, driven by Playwright): the
notices page offers "Bật thông báo", the service worker registers for the /desk/ scope, and a
push delivered to it (DevTools' ServiceWorker.deliverPushMessage, as the browser's push service
would) is shown as a notification with the ticket's title, body and link."""

from __future__ import annotations

import json
import time

import pytest

from tests.browser import chromium, login, phone_page, require_chromium
from tests.desk_demo import PASSWORD, desk_server

pytestmark = pytest.mark.timeout(180)

REGISTER_JS = """
async () => {
  const reg = await navigator.serviceWorker.register('/desk/sw.js', {scope: '/desk/'});
  await navigator.serviceWorker.ready;
  return reg.scope;
}
"""
NOTIFICATIONS_JS = """
async () => {
  const reg = await navigator.serviceWorker.getRegistration('/desk/');
  const shown = await reg.getNotifications();
  return shown.map(n => ({title: n.title, body: n.body, tag: n.tag, url: n.data && n.data.url}));
}
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    require_chromium()
    with desk_server(tmp_path_factory.mktemp("push")) as running:
        yield running


def test_service_worker_shows_a_pushed_notice_with_its_link(server):
    code = server.codes[0]
    payload = {"title": f"Nghe Dân: Đơn mới {code}", "body": f"Đơn mới {code}: thôn 3",
               "url": f"https://nghedan.example/desk/tickets/{code}", "tag": "notice-1"}
    with chromium() as browser:
        page = phone_page(browser, server.url)
        page.context.grant_permissions(["notifications"], origin=server.url)
        login(page, "truongkt", PASSWORD)
        page.goto("/desk/notices")
        button = page.locator("#push-enable")
        assert button.is_visible() and button.inner_text() == "Bật thông báo"
        box = button.bounding_box()
        assert box["width"] >= 44 and box["height"] >= 44  # a finger-sized target
        assert page.locator("#push-status").inner_text() != ""

        cdp = page.context.new_cdp_session(page)
        registrations: list[dict] = []
        cdp.on("ServiceWorker.workerRegistrationUpdated",
               lambda event: registrations.extend(event["registrations"]))
        cdp.send("ServiceWorker.enable")
        assert page.evaluate(REGISTER_JS) == f"{server.url}/desk/"
        deadline = time.monotonic() + 10
        while not any(r["scopeURL"] == f"{server.url}/desk/" for r in registrations):
            assert time.monotonic() < deadline, registrations
            page.wait_for_timeout(100)
        registration = next(r for r in registrations if r["scopeURL"] == f"{server.url}/desk/")

        cdp.send("ServiceWorker.deliverPushMessage", {
            "origin": server.url, "registrationId": registration["registrationId"],
            "data": json.dumps(payload, ensure_ascii=False)})
        shown: list[dict] = []
        deadline = time.monotonic() + 10
        while not shown:
            assert time.monotonic() < deadline, "no notification shown"
            page.wait_for_timeout(200)
            shown = page.evaluate(NOTIFICATIONS_JS)

    [notification] = shown
    assert notification["title"] == payload["title"] and code in notification["body"]
    assert notification["tag"] == "notice-1"
    # the link opens on this desk, whatever host the notice was written for
    assert notification["url"] == f"{server.url}/desk/tickets/{code}"
