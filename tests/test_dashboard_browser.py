"""The leaders' dashboard in real headless Chromium against a real `nghedan serve` on a seeded
database: at 360 px nothing scrolls sideways and every tap target is at least 44x44 CSS px; a
first load (HTML, CSS, JS and both charts) transfers under 150 KB; the filter form puts its
state in the URL and the figures follow it. Phone and desktop screenshots go where
SCREENSHOTS_DIR says (`make screenshots` writes docs/screenshots/)."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qs, urlparse

import pytest

from bot.core import figures as fig
from bot.core.figures_model import Period
from bot.store.db import session_scope
from bot.web.desk.dashboard_query import preset_period
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
from tests.figures_history import seed_history
from tests.helpers import TZ, context

# Form controls sticking out of the filter box (a date field's own width can push a grid).
OUTSIDE_FORM_JS = """
() => { const box = document.querySelector('.dash-filters').getBoundingClientRect();
        return [...document.querySelectorAll('.dash-filters input, .dash-filters select')]
          .filter(e => e.getBoundingClientRect().right > box.right).map(e => e.name); }
"""
PAGE = "/desk/dashboard?period=last_30"  # the demo's tickets, filed yesterday
# The seeded history of tests/figures_history.py (April..September 2026): every table full.
HISTORY = "/desk/dashboard?from=2026-04-01&to=2026-09-30"

browser = browser_fixture()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    require_chromium()
    with desk_server(tmp_path_factory.mktemp("dashboard")) as running:
        seed_history(running.db_url)
        yield running


def received(db_url: str, unit: str, period: Period) -> int:
    """What compute() says for the unit (the server computes the page the same way)."""
    now = datetime.now(UTC)
    with session_scope(db_url) as session:
        scope = fig.scope_for(session, unit_code=unit)
        return fig.compute(session, scope, period, context(now), now=now,
                           with_previous=False).totals.received


def card(page, key: str) -> str:
    return page.locator(f'[data-card="{key}"] .stat-value').inner_text().strip()


@pytest.mark.parametrize("username", ["chutich", "truongkt"])
def test_dashboard_fits_a_360px_phone_with_44px_targets(server, browser, username):
    page = phone_page(browser, server.url)
    login(page, username, PASSWORD)
    page.goto(HISTORY)
    assert page.locator("#overdue a").count() > 0  # a full page: tables, links, charts
    page.locator("details summary").first.click()  # the weekly table, unfolded
    page.wait_for_function("[...document.images].every(i => i.complete && i.naturalWidth > 0)")
    assert_fits_phone(page, "the dashboard")
    assert page.evaluate(OUTSIDE_FORM_JS) == []


def test_first_load_of_the_dashboard_transfers_under_150_kb(server, browser):
    page = phone_page(browser, server.url)
    login(page, "chutich", PASSWORD)
    size = transferred_bytes(page, HISTORY)
    loaded = page.evaluate("[...document.images].filter(i => i.naturalWidth > 0).length")
    assert loaded == 2, "both charts are part of the first load"
    assert 0 < size < PAGE_BUDGET, f"{size} bytes"


def test_the_filter_form_puts_its_state_in_the_url_and_the_figures_follow(server, browser):
    page = phone_page(browser, server.url)
    login(page, "chutich", PASSWORD)
    page.goto(PAGE)
    period = preset_period("last_30", datetime.now(TZ).date())
    everyone = received(server.db_url, "xa-an-binh", period)
    economy = received(server.db_url, "xa-an-binh-kinh-te", period)
    assert everyone > economy > 0  # the seed files reports for several units
    assert card(page, "received") == str(everyone)
    page.select_option("select[name=unit]", "xa-an-binh-kinh-te")
    with page.expect_navigation():
        page.click("button[type=submit].primary")
    query = parse_qs(urlparse(page.url).query)
    assert query["unit"] == ["xa-an-binh-kinh-te"]
    assert query["from"] == [period.start.isoformat()] and query["to"] == [period.end.isoformat()]
    assert card(page, "received") == str(economy)
    with page.expect_navigation():  # a quick choice keeps the unit
        page.click("nav.presets >> text=Năm nay")
    query = parse_qs(urlparse(page.url).query)
    assert query == {"period": ["this_year"], "unit": ["xa-an-binh-kinh-te"]}
    assert page.locator("nav.presets [aria-current]").inner_text() == "Năm nay"


def test_screenshots_of_the_dashboard_at_phone_and_desktop(server, browser, tmp_path):
    out = screenshots_dir(tmp_path)
    for size, make_page in (("phone", phone_page), ("desktop", desktop_page)):
        page = make_page(browser, server.url)
        login(page, "chutich", PASSWORD)
        page.goto(HISTORY)
        page.wait_for_function(
            "[...document.images].every(i => i.complete && i.naturalWidth > 0)")
        if size == "phone":  # one screen from the figures: the page is ~18,000 px tall here
            page.locator(".stat-cards").scroll_into_view_if_needed()
            page.evaluate("window.scrollBy(0, -80)")
            page.screenshot(path=str(out / "dashboard-phone.png"))
        else:
            full_screenshot(page, out / f"dashboard-{size}.png")
        page.context.close()
