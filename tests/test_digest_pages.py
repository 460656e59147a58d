"""The digest on the desk: /desk/digests/<week> with its chart and workbook for leaders (their
unit and below), unit heads (their own unit), admins; a plain officer gets the 403 page, a unit
outside one's reach or a week not over the 404 page. At 360 px the page does not scroll
sideways (real headless Chromium on a real `nghedan serve`)."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from openpyxl import load_workbook
from PIL import Image
from sqlalchemy import func, select

from bot.core.figures_model import week_of
from bot.jobs.digests import run_weekly
from bot.store.db import session_scope
from bot.store.report_models import Digest
from tests.browser import chromium, layout_problems, login, phone_page, require_chromium
from tests.conftest import BACKENDS
from tests.desk_client import desk
from tests.helpers import TestClock, context
from tests.test_digest import (
    CITIZEN_NAME,
    CITIZEN_PHONE,
    DUE,
    WEEK,
    confidential_codes,
    seed_history,
    stored_digest,
)

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


async def fetch(browser, path: str) -> tuple[int, str, bytes]:
    async with browser.http.get(path, allow_redirects=False) as response:
        return response.status, response.content_type, await response.read()


@pytest.mark.parametrize("empty_db_url", BACKENDS, indirect=True)
def test_leader_sees_the_digest_page_chart_and_workbook(app_env):
    codes = seed_history(app_env)
    run_weekly(app_env, context(DUE), DUE)
    row = stored_digest(app_env, "xa-an-binh")

    async def scenario(login):
        leader = login("chutich")
        status, html = await leader.get(f"/desk/digests/{WEEK}")  # default: their own unit
        assert status == 200, html
        assert "Tuần 10/2026" in html and "UBND xã An Bình" in html
        assert codes["accepted_late"] in html  # the overdue list of the text
        assert f'src="/desk/digests/{WEEK}/chart.png?unit=xa-an-binh"' in html
        for secret in confidential_codes(app_env) | {CITIZEN_NAME, CITIZEN_PHONE}:
            assert secret not in html
        status, kind, body = await fetch(leader, f"/desk/digests/{WEEK}/chart.png?unit=xa-an-binh")
        assert (status, kind, body) == (200, "image/png", row.chart_png)
        assert Image.open(io.BytesIO(body)).size == (720, 360)
        async with leader.http.get(f"/desk/digests/{WEEK}/digest.xlsx") as response:
            assert (response.status, response.content_type) == (200, XLSX)
            assert "attachment" in response.headers["Content-Disposition"]
            assert load_workbook(io.BytesIO(await response.read()))["Tổng hợp"]
        # a unit below the leader's: its own digest
        status, html = await leader.get(f"/desk/digests/{WEEK}?unit=xa-an-binh-kinh-te")
        assert status == 200 and "Phòng Kinh tế" in html
        status, html = await leader.get("/desk/digests")
        assert status == 200 and f"/desk/digests/{WEEK}?unit=xa-an-binh" in html
        # the desk notice opens this week's digest of the leader's unit
        status, html = await leader.get("/desk/notices")
        assert f'href="/desk/digests/{WEEK}">Xem tổng hợp</a>' in html

    desk(scenario, TestClock(DUE + timedelta(hours=2)))


def test_plain_officers_are_refused_and_heads_see_only_their_unit(app_env):
    seed_history(app_env)
    run_weekly(app_env, context(DUE), DUE)

    async def scenario(login):
        officer = login("kinhte")
        for path in (f"/desk/digests/{WEEK}", f"/desk/digests/{WEEK}/chart.png",
                     f"/desk/digests/{WEEK}/digest.xlsx", "/desk/digests"):
            status, html = await officer.get(path)
            assert status == 403 and "không có quyền" in html, path
        head = login("truongkt")
        status, html = await head.get(f"/desk/digests/{WEEK}")
        assert status == 200 and "Phòng Kinh tế" in html
        for path in (f"/desk/digests/{WEEK}?unit=xa-an-binh",
                     f"/desk/digests/{WEEK}/chart.png?unit=xa-an-binh",
                     f"/desk/digests/{WEEK}/digest.xlsx?unit=xa-an-binh-vp"):
            status, html = await head.get(path)
            assert status == 404 and "Không tìm thấy" in html, path
        leader = login("chutich")
        assert (await leader.get(f"/desk/digests/{WEEK}?unit=tinh-demo"))[0] == 404  # above
        assert (await leader.get("/desk/digests/2026-W11"))[0] == 404  # not over yet
        assert (await leader.get("/desk/digests/2026-W99"))[0] == 404
        for week in ("9999-W52", "0001-W01"):  # dates out of range: the 404 page, not a 500
            for tail in ("", "/chart.png", "/digest.xlsx"):
                assert (await leader.get(f"/desk/digests/{week}{tail}"))[0] == 404, week + tail
        status, location = await login(None).get(f"/desk/digests/{WEEK}")
        assert status == 302

    desk(scenario, TestClock(DUE + timedelta(hours=2)))


def test_a_complete_week_without_a_digest_is_made_on_first_view_and_kept(app_env):
    seed_history(app_env)

    async def scenario(login):
        admin = login("quantri")
        for _ in range(2):
            status, html = await admin.get("/desk/digests/2026-W09?unit=xa-an-binh-hcc")
            assert status == 200 and "Tuần 9/2026" in html

    desk(scenario, TestClock(DUE))
    with session_scope(app_env) as session:
        assert session.scalar(select(func.count()).select_from(Digest)) == 1
    assert stored_digest(app_env, "xa-an-binh-hcc", "2026-W09").week == "2026-W09"


def test_digest_pages_fit_a_360px_phone(tmp_path):
    require_chromium()
    from tests.desk_demo import PASSWORD, desk_server

    week = week_of(datetime.now(UTC).date() - timedelta(days=7))
    with desk_server(tmp_path) as server, chromium() as browser:
        page = phone_page(browser, server.url)
        login(page, "chutich", PASSWORD)
        for path in ("/desk/digests", f"/desk/digests/{week}"):
            response = page.goto(path)
            assert response.status == 200, path
            small, overflow = layout_problems(page)
            assert overflow <= 0, f"{path} scrolls sideways by {overflow}px at 360px"
            assert small == [], f"{path}: tap targets under 44x44 px: {small}"
        chart = page.locator("figure.digest-chart img")  # loaded, and shrunk to the screen
        assert chart.evaluate("img => img.naturalWidth") == 720
        assert chart.bounding_box()["width"] <= 360
