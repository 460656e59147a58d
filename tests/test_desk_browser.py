"""The desk in real headless Chromium (Debian's package, driven by Playwright): at 360 px no page
scrolls sideways and every tap target is at least 44x44 CSS px; a first load stays under 150 KB;
an officer logs in on a phone and sees new tickets appear without a reload. Screenshots of the
queue, a ticket and an admin page at phone and desktop sizes are written where SCREENSHOTS_DIR
says (`make screenshots` writes docs/screenshots/)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from bot.core.authz import Caller
from bot.core.citizens import citizen_for
from bot.core.tickets import TicketDraft, create_ticket
from bot.store.db import session_scope
from bot.store.models import Ticket
from tests.browser import (
    PAGE_BUDGET,
    assert_fits_phone,
    browser_fixture,
    desktop_page,
    full_screenshot,
    login,
    phone_page,
    require_chromium,
    screenshots_dir,
    transferred_bytes,
)
from tests.desk_demo import PASSWORD, desk_server
from tests.helpers import context

ADMIN_PAGE = "/desk/admin/officers"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    require_chromium()
    with desk_server(tmp_path_factory.mktemp("desk")) as running:
        yield running


browser = browser_fixture()


def pages(server) -> dict[str, str]:
    return {"queue": "/desk/?tab=unit", "ticket": f"/desk/tickets/{server.codes[0]}",
            "admin": ADMIN_PAGE, "notices": "/desk/notices"}


def test_login_page_fits_a_phone_and_its_targets_are_finger_sized(server, browser):
    page = phone_page(browser, server.url)
    page.goto("/desk/login")
    assert_fits_phone(page, "the login page")


@pytest.mark.parametrize("name", ["queue", "ticket", "admin", "notices"])
def test_desk_pages_fit_a_360px_phone_with_44px_targets(server, browser, name):
    page = phone_page(browser, server.url)
    login(page, "quantri" if name == "admin" else "truongkt", PASSWORD)
    page.goto(pages(server)[name])
    assert page.locator("body").inner_text(), "empty page"
    assert_fits_phone(page, name)


@pytest.mark.parametrize("name", ["login", "queue", "ticket"])
def test_first_load_of_a_desk_page_transfers_under_150_kb(server, browser, name):
    page = phone_page(browser, server.url)
    if name != "login":
        login(page, "truongkt", PASSWORD)
    path = "/desk/login" if name == "login" else pages(server)[name]
    size = transferred_bytes(page, path)
    assert 0 < size < PAGE_BUDGET, f"{name}: {size} bytes"


def test_officer_on_a_phone_sees_a_new_ticket_without_reloading(server, browser):
    page = phone_page(browser, server.url)
    login(page, "truongkt", PASSWORD)
    page.goto("/desk/?tab=unit")
    page.evaluate("window.__same_document = true")
    text = "Cây đổ chắn ngang đường liên thôn, xe máy không qua được"
    ctx = context(datetime.now(UTC))
    with session_scope(server.db_url) as session:
        citizen = citizen_for(session, "web", "browser-new-ticket", ctx.clock())
        draft = TicketDraft(text=text, channel="web", citizen_id=citizen.id, category="ha_tang",
                            location_text="Thôn 2")
        code = create_ticket(session, draft, Caller.citizen(citizen.id, "web").actor, ctx).code
    page.wait_for_selector(f"text={code}", timeout=60_000)
    assert page.evaluate("window.__same_document") is True  # no reload happened
    with session_scope(server.db_url) as session:
        assert session.scalar(select(Ticket.code).where(Ticket.code == code)) == code


def test_screenshots_of_queue_ticket_and_admin_at_phone_and_desktop(server, browser, tmp_path):
    out = screenshots_dir(tmp_path)
    for size, make_page in (("phone", phone_page), ("desktop", desktop_page)):
        for name in ("queue", "ticket", "admin"):
            page = make_page(browser, server.url)
            login(page, "quantri" if name == "admin" else "truongkt", PASSWORD)
            page.goto(pages(server)[name])
            full_screenshot(page, out / f"{name}-{size}.png")
            page.context.close()
