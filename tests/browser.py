"""Real headless Chromium for the desk's browser tests: Debian's `chromium` package driven by
Playwright's Python API (`executable_path`; Playwright's own browser download needs the internet).
Under CI=true the browser must be there; elsewhere the tests skip with one clear line."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

PHONE = {"width": 360, "height": 740}
PAGE_BUDGET = 150 * 1024  # bytes a first load of a page may transfer (HTML, CSS, JS, images)
DESKTOP = {"width": 1280, "height": 800}
# Without the background-networking flags Chromium keeps dialling out and this machine has no
# internet; --no-sandbox because tests run as root.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def require_chromium() -> str:
    path = chromium_path()
    if path is None:
        if os.environ.get("CI", "").lower() == "true":
            raise RuntimeError("CI needs Debian's chromium (scripts/setup.sh installs it)")
        pytest.skip("chromium not installed: browser tests skipped (apt-get install chromium)")
    return path


@contextlib.contextmanager
def chromium() -> Iterator:
    """A launched browser; close it on exit."""
    from playwright.sync_api import sync_playwright

    path = require_chromium()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def browser_fixture():
    """A module-scoped `browser` fixture, one Chromium for a test module: write
    `browser = browser_fixture()` in the module (an imported fixture would read as unused)."""
    @pytest.fixture(scope="module", name="browser")
    def launched_browser():
        with chromium() as launched:
            yield launched

    return launched_browser


def phone_page(browser, base_url: str):
    """A new page with a phone's viewport, touch and device scale."""
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True,
                                  has_touch=True, base_url=base_url, locale="vi-VN")
    return context.new_page()


def desktop_page(browser, base_url: str):
    context = browser.new_context(viewport=DESKTOP, base_url=base_url, locale="vi-VN")
    return context.new_page()


def login(page, username: str, password: str) -> None:
    page.goto("/desk/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.click("button[type=submit]")


# In the page: elements narrower than 44x44 CSS px that a finger must hit (links, buttons,
# inputs, selects), and whether the document is wider than the viewport.
SMALL_TARGETS_JS = """
() => [...document.querySelectorAll(
         'a[href], button, input:not([type=hidden]), select, textarea, summary')]
  .filter(el => { const s = getComputedStyle(el);
                  return s.display !== 'none' && s.visibility !== 'hidden'
                         && el.getClientRects().length; })
  .map(el => { const r = el.getBoundingClientRect();
               const text = (el.innerText || el.name || el.value || '').slice(0, 40);
               return {tag: el.tagName, text, w: Math.round(r.width), h: Math.round(r.height)}; })
  .filter(r => r.w < 44 || r.h < 44)
"""
OVERFLOW_JS = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"


def layout_problems(page) -> tuple[list[dict], int]:
    """(targets smaller than 44x44 CSS px, pixels of horizontal overflow)."""
    return page.evaluate(SMALL_TARGETS_JS), page.evaluate(OVERFLOW_JS)


def assert_fits_phone(page, name: str = "the page") -> None:
    """Nothing scrolls sideways at 360 px and every tap target is at least 44x44 CSS px."""
    small, overflow = layout_problems(page)
    assert overflow <= 0, f"{name} scrolls sideways by {overflow}px at 360px"
    assert small == [], f"{name}: tap targets under 44x44 px: {small}"


def screenshots_dir(tmp_path: Path) -> Path:
    """Where screenshots go: SCREENSHOTS_DIR (`make screenshots`), else the test's tmp dir."""
    out = Path(os.environ.get("SCREENSHOTS_DIR") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    return out


def full_screenshot(page, target: Path) -> None:
    """The whole page as a PNG at `target`, checked to be a rendered page, not a blank one."""
    page.screenshot(path=str(target), full_page=True)
    assert target.stat().st_size > 10_000, f"{target.name} looks blank"


def transferred_bytes(page, path: str) -> int:
    """Bytes a first load of `path` transfers (document and every sub-resource), cache off."""
    client = page.context.new_cdp_session(page)
    client.send("Network.enable")
    client.send("Network.setCacheDisabled", {"cacheDisabled": True})
    sizes: dict[str, int] = {}
    client.on("Network.loadingFinished",
              lambda event: sizes.__setitem__(event["requestId"], event["encodedDataLength"]))
    page.goto(path, wait_until="networkidle")
    return sum(sizes.values())
