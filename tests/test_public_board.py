"""The public board over real HTTP (aiohttp's test server, the bot's whole web app) on SQLite and
PostgreSQL, with tickets made through the core: only published items appear, never a citizen's
name, phone or words, never a tố cáo or confidential code; search ignores diacritics and reads
only what the board shows; filters and pages; hiding is audited; the figures by month are
figures.compute's; PUBLIC_BOARD=false means no board at all; no cookies, a strict CSP."""

from __future__ import annotations

import re
from html import unescape

import pytest
from sqlalchemy import select

from bot.core import figures, public_list
from bot.settings import load_settings
from bot.store.db import session_scope
from bot.store.models import Officer, Ticket, TicketEvent
from tests.conftest import BACKENDS
from tests.desk_client import desk
from tests.helpers import NOW, TestClock, context, ticket
from tests.public_seed import (
    ANSWER,
    NAMED_ANSWER,
    RUBBISH_SUMMARY,
    SUMMARY,
    personal_data_in,
    seed_board,
)

pytestmark = [pytest.mark.parametrize("empty_db_url", BACKENDS, indirect=True),
              pytest.mark.timeout(120)]

CODE = re.compile(r"KN-\d{4}-\d{6}")


def codes_on(html: str) -> set[str]:
    return set(CODE.findall(html))


def test_the_board_lists_only_published_items_without_any_personal_data(app_env):
    seeded = seed_board(app_env)

    async def scenario(login) -> None:
        visitor = login(None)
        status, html = await visitor.get("/public/")
        assert status == 200
        assert codes_on(html) == {seeded.published, seeded.answer_named, seeded.karaoke}
        assert SUMMARY in unescape(html) and RUBBISH_SUMMARY in unescape(html)
        assert "Thôn Đông" in html and "Phòng Kinh tế" in html and "Công an xã" in html
        assert "Hạ tầng, giao thông, điện nước" in html and "05/01/2026" in html
        assert "07/01/2026" in html and "4/5" in html
        assert personal_data_in(html, seeded) == []
        for code in (seeded.published, seeded.answer_named, seeded.karaoke):
            status, page = await visitor.get(f"/public/{code}")
            assert status == 200 and code in page
            assert personal_data_in(page, seeded) == []
        for query in ("?q=den+duong", "?q=thon+dong", "?category=can_bo", "?q=to+cao",
                      "?month=2026-01", "?page=2"):
            status, page = await visitor.get(f"/public/{query}")
            assert status == 200 and personal_data_in(page, seeded) == [], query

    desk(scenario, TestClock(NOW))


def test_an_item_not_published_is_not_found_and_its_page_names_no_code(app_env):
    seeded = seed_board(app_env)

    async def scenario(login) -> None:
        visitor = login(None)
        for code in (*seeded.never_shown, "KN-2026-999999", seeded.published.lower()):
            status, html = await visitor.get(f"/public/{code}")
            if code == seeded.published.lower():
                assert status == 200  # codes are not case-sensitive
                continue
            assert status == 404, code
            assert "Không tìm thấy" in html and code not in html
            assert personal_data_in(html, seeded) == []
        status, html = await visitor.get("/public/a/b/c")
        assert status == 404 and "Không tìm thấy" in html

    desk(scenario, TestClock(NOW))


def test_an_answer_that_names_the_citizen_is_shown_as_answered_only(app_env):
    seeded = seed_board(app_env)

    async def scenario(login) -> None:
        visitor = login(None)
        _, page = await visitor.get(f"/public/{seeded.answer_named}")
        assert public_list.ANSWERED_TEXT in page and NAMED_ANSWER not in unescape(page)
        _, page = await visitor.get(f"/public/{seeded.published}")
        assert ANSWER in unescape(page)  # an answer without personal data is shown whole

    desk(scenario, TestClock(NOW))


def test_search_ignores_diacritics_and_reads_only_the_summary_and_the_answer_shown(app_env):
    seeded = seed_board(app_env)

    async def found(visitor, query: str) -> set[str]:
        status, html = await visitor.get(f"/public/?q={query}")
        assert status == 200
        return codes_on(html)

    async def scenario(login) -> None:
        visitor = login(None)
        assert await found(visitor, "den duong") == {seeded.published}
        assert await found(visitor, "ĐÈN  Đường") == {seeded.published}
        assert await found(visitor, "thay bong") == {seeded.published}  # in summary and answer
        assert await found(visitor, "cam on ong ba") == {seeded.published}  # the answer only
        assert await found(visitor, "karaoke cong an") == {seeded.karaoke}
        # Words of the citizen's own text, the name, and a hidden answer find nothing.
        assert await found(visitor, "nguy hiem") == set()
        assert await found(visitor, "bich") == set()
        assert await found(visitor, "0912345678") == set()
        assert await found(visitor, "kinh gui") == set()
        assert await found(visitor, "o ga") == set()  # the hidden item's summary

    desk(scenario, TestClock(NOW))


def test_filters_by_category_area_unit_and_month_and_pages_newest_first(app_env):
    seeded = seed_board(app_env)

    async def scenario(login) -> None:
        visitor = login(None)
        cases = {"?category=moi_truong": [seeded.answer_named],
                 "?unit=xa-an-binh-cong-an": [seeded.karaoke],
                 "?month=2026-01": [seeded.published],
                 "?month=2026-02": [seeded.karaoke, seeded.answer_named],
                 "": [seeded.karaoke, seeded.answer_named, seeded.published]}
        for query, expected in cases.items():
            _, html = await visitor.get(f"/public/{query}")
            listed = list(dict.fromkeys(CODE.findall(html)))
            assert listed == expected, query
        _, html = await visitor.get("/public/")
        area = re.search(r'<option value="(\d+)">Thôn Đông</option>', html).group(1)
        _, html = await visitor.get(f"/public/?area={area}&category=ha_tang")
        assert codes_on(html) == {seeded.published}

    desk(scenario, TestClock(NOW))
    with session_scope(app_env) as session:
        pages = [public_list.board(session, public_list.BoardFilter(page=n), context(), 2)
                 for n in (1, 2, 3)]
    assert [[i.code for i in p.items] for p in pages] == [
        [seeded.karaoke, seeded.answer_named], [seeded.published], [seeded.published]]
    assert (pages[0].total, pages[0].pages, pages[2].page) == (3, 2, 2)


def test_hiding_from_the_desk_takes_the_item_off_and_is_audited(app_env):
    seeded = seed_board(app_env)
    reason = "Người dân xin không công khai vụ việc"

    async def scenario(login) -> None:
        head, visitor = login("truongkt"), login(None)
        status, _ = await head.post(seeded.published, "public_hide", csrf=False,
                                    data={"reason": reason})
        assert status == 403  # no CSRF token, no change
        assert seeded.published in (await visitor.get("/public/"))[1]
        html = await head.act(seeded.published, "public_hide", reason=reason)
        assert "Đã ẩn đơn khỏi bảng công khai." in html and reason in html
        status, listing = await visitor.get("/public/")
        assert seeded.published not in listing
        assert (await visitor.get(f"/public/{seeded.published}"))[0] == 404
        html = await head.act(seeded.published, "public_show")
        assert "Đang công khai" in html
        assert seeded.published in (await visitor.get("/public/"))[1]
        # Another unit's officer may not hide it: the ticket is "not found" to them.
        status, _ = await login("congan").post(seeded.published, "public_hide",
                                               data={"reason": reason})
        assert status == 404

    desk(scenario, TestClock(NOW))
    with session_scope(app_env) as session:
        found = session.scalar(select(Ticket).where(Ticket.code == seeded.published))
        head_id = session.scalar(select(Officer.id).where(Officer.username == "truongkt"))
        events = list(session.scalars(select(TicketEvent).where(
            TicketEvent.ticket_id == found.id,
            TicketEvent.action.in_(("public_hidden", "public_shown"))).order_by(TicketEvent.id)))
    assert [e.action for e in events] == ["public_hidden", "public_shown"]
    assert [(e.actor_type, e.actor_id) for e in events] == [("officer", head_id)] * 2
    assert reason not in str([e.data for e in events])  # codes and field names only
    assert events[0].data["fields"] == ["public_hidden_at", "public_hidden_by",
                                        "public_hidden_reason"]


def test_a_hidden_item_keeps_its_reason_on_the_ticket(app_env):
    seeded = seed_board(app_env)
    hidden = ticket(app_env, seeded.hidden)
    assert hidden.public_hidden_reason == "Người dân đề nghị không công khai"
    assert hidden.public_hidden_at is not None and hidden.public_hidden_by is not None


def test_the_monthly_figures_are_those_of_figures_compute(app_env):
    seed_board(app_env)
    clock = TestClock(NOW)

    async def scenario(login) -> None:
        status, html = await login(None).get("/public/so-lieu")
        assert status == 200
        rows = re.findall(r'<tr data-month="(\d{4}-\d\d)">(.*?)</tr>', html, re.S)
        assert len(rows) == 12 and rows[0][0] == "2026-03" and rows[-1][0] == "2025-04"
        periods = public_list.month_periods(NOW.astimezone(context().tz).date(), 12)
        with session_scope(app_env) as session:
            scope = figures.scope_for(session)
            for (month, cells), period in zip(rows, periods, strict=True):
                assert f"{period.start:%Y-%m}" == month
                expected = figures.compute(session, scope, period, context(NOW), now=NOW,
                                           with_previous=False)
                received = re.search(r'class="received">(\d+)<', cells).group(1)
                resolved = re.search(r'class="resolved">(\d+)<', cells).group(1)
                assert (int(received), int(resolved)) == (expected.totals.received,
                                                          expected.totals.resolved), month
                rate = expected.totals.resolve.rate
                on_time = re.search(r'class="on-time">(.*?)</td>', cells).group(1)
                assert on_time.startswith(f"{round(rate * 100)}%" if rate is not None else "—")
                average = expected.satisfaction.average
                satisfaction = re.search(r'class="satisfaction">(.*?)</td>', cells).group(1)
                assert satisfaction.startswith(
                    f"{average:.1f}".replace(".", ",") + "/5" if average is not None else "—")
        january = dict(rows)["2026-01"]
        # published, tố cáo, confidential, hidden: the tố cáo and confidential one counted too
        assert int(re.search(r'class="received">(\d+)<', january).group(1)) == 4

    desk(scenario, clock)


def test_public_pages_set_no_cookie_and_send_a_strict_policy(app_env):
    seeded = seed_board(app_env)

    async def scenario(login) -> None:
        http = login(None).http
        for path in ("/public/", f"/public/{seeded.published}", "/public/so-lieu",
                     "/public/KN-2026-999999"):
            async with http.get(path) as response:
                assert "Set-Cookie" not in response.headers, path
                policy = response.headers["Content-Security-Policy"]
                assert "default-src 'none'" in policy and "script-src" not in policy
                assert response.headers["X-Frame-Options"] == "DENY"
                assert "<script" not in await response.text()
        assert len(http.cookie_jar) == 0

    desk(scenario, TestClock(NOW))


def test_with_public_board_false_there_is_no_board(app_env, monkeypatch):
    seed_board(app_env)
    monkeypatch.setenv("PUBLIC_BOARD", "false")
    load_settings.cache_clear()
    assert load_settings().public_board is False

    async def scenario(login) -> None:
        visitor = login(None)
        for path in ("/public/", "/public/so-lieu", "/public/KN-2026-000001", "/public"):
            assert (await visitor.get(path))[0] == 404, path

    desk(scenario, TestClock(NOW))
