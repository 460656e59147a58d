"""The public board in real headless Chromium (Debian's package, driven by Playwright) against a
real `nghedan serve` on a seeded SQLite database: at 360 px no page scrolls sideways and every
tap target is at least 44x44 CSS px, a first load stays under 150 KB, the browser reports no
CSP violation, and what the browser renders never holds a citizen's phone, name or words nor a
tố cáo or confidential code. The desk's "Bảng công khai" box fits a phone too. Screenshots go
where SCREENSHOTS_DIR says."""

from __future__ import annotations

import pytest

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
from tests.desk_demo import PASSWORD, demo_commune, serve
from tests.helpers import NOW
from tests.public_seed import personal_data_in, seed_board

browser = browser_fixture()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    require_chromium()
    root = tmp_path_factory.mktemp("public")
    db_url = f"sqlite:///{root / 'nghedan.db'}"
    demo_commune(db_url, NOW)
    seeded = seed_board(db_url)
    with serve(root, db_url) as url:
        yield url, seeded


def pages(seeded) -> dict[str, str]:
    return {"list": "/public/", "search": "/public/?q=den+duong",
            "filters": "/public/?category=ha_tang", "item": f"/public/{seeded.published}",
            "answered": f"/public/{seeded.answer_named}", "figures": "/public/so-lieu",
            "not_found": f"/public/{seeded.to_cao}"}


@pytest.mark.parametrize("name", ["list", "search", "filters", "item", "answered", "figures",
                                  "not_found"])
def test_public_pages_fit_a_360px_phone_with_44px_targets_and_no_personal_data(
        server, browser, name):
    url, seeded = server
    page = phone_page(browser, url)
    violations: list[str] = []
    page.on("console", lambda message: violations.append(message.text)
            if "Content Security Policy" in message.text else None)
    response = page.goto(pages(seeded)[name])
    assert response.status == (404 if name == "not_found" else 200)
    assert page.locator("body").inner_text(), "empty page"
    assert_fits_phone(page, name)
    assert personal_data_in(page.content(), seeded) == []
    assert personal_data_in(page.locator("body").inner_text(), seeded) == []
    assert violations == []
    assert page.context.cookies() == []  # the board sets no cookie at all
    page.context.close()


def test_the_board_search_form_finds_by_words_without_diacritics(server, browser):
    url, seeded = server
    page = phone_page(browser, url)
    page.goto("/public/")
    page.fill("input[name=q]", "bai rac")
    with page.expect_navigation():
        page.click("button[type=submit] >> nth=0")
    body = page.locator("body").inner_text()
    assert seeded.answer_named in body and seeded.published not in body
    assert personal_data_in(page.content(), seeded) == []
    page.context.close()


@pytest.mark.parametrize("name", ["list", "item", "figures"])
def test_first_load_of_a_board_page_transfers_under_150_kb(server, browser, name):
    url, seeded = server
    page = phone_page(browser, url)
    size = transferred_bytes(page, pages(seeded)[name])
    assert 0 < size < PAGE_BUDGET, f"{name}: {size} bytes"
    page.context.close()


def test_the_desk_public_box_fits_a_phone(server, browser):
    url, seeded = server
    page = phone_page(browser, url)
    login(page, "truongkt", PASSWORD)
    page.goto(f"/desk/tickets/{seeded.published}")
    assert "Bảng công khai" in page.locator("#cong-khai").inner_text()
    page.click("#thao-tac-public_summary > summary")
    page.click("#thao-tac-public_hide > summary")
    assert_fits_phone(page, "the ticket page")
    page.context.close()


def test_screenshots_of_the_board_at_phone_and_desktop(server, browser, tmp_path):
    url, seeded = server
    out = screenshots_dir(tmp_path)
    for size, make_page in (("phone", phone_page), ("desktop", desktop_page)):
        for name in ("list", "item", "figures"):
            page = make_page(browser, url)
            page.goto(pages(seeded)[name])
            full_screenshot(page, out / f"public-{name}-{size}.png")
            page.context.close()
    page = phone_page(browser, url)
    login(page, "truongkt", PASSWORD)
    page.goto(f"/desk/tickets/{seeded.published}#cong-khai")
    target = out / "ticket-public-phone.png"
    page.locator("#cong-khai").screenshot(path=str(target))
    assert target.stat().st_size > 5_000
    page.context.close()
