"""The leaders' dashboard over real HTTP and a real database: the figures on the page are those
of bot.core.figures.compute for seeded tickets (SQLite and PostgreSQL); leaders, unit heads and
admins only, on every route (page, CSV, XLSX, charts); a unit head cannot reach another unit
through the query; the exports hold what the page shows and never a confidential ticket's code
nor a citizen's name, phone or words; the charts are real PNGs of the size the page announces."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser

import pytest
from openpyxl import load_workbook
from PIL import Image
from sqlalchemy import select

from bot.core import desk, service
from bot.core import figures as fig
from bot.core.authz import Caller
from bot.core.citizens import citizen_for
from bot.core.figures_model import ClockRate, Counts, Figures, Period
from bot.core.tickets import TicketDraft, create_ticket
from bot.store.db import session_scope
from bot.store.models import Area
from bot.web.desk.dashboard_query import DashboardQuery, preset_period
from tests.conftest import BACKENDS
from tests.desk_client import desk as desk_session
from tests.figures_expected import expected_figures
from tests.figures_history import seed_history
from tests.helpers import NOW, TestClock, context, officer

pytestmark = pytest.mark.timeout(120)
FEBRUARY = "from=2026-02-01&to=2026-02-28"
PERIOD = Period(date(2026, 2, 1), date(2026, 2, 28))
NAME, PHONE = "Trần Thị Bí Mật", "0987654321"
SECRET_TEXT = "Tố cáo cán bộ địa chính nhận tiền của hộ dân"
ROUTES = ["/desk/dashboard", "/desk/dashboard.csv", "/desk/dashboard.xlsx",
          "/desk/dashboard/weekly.png", "/desk/dashboard/breakdown.png"]


def at(day: int, month: int = 2, hour: int = 3) -> datetime:
    return datetime(2026, month, day, hour, 0, tzinfo=UTC)  # 10:00 in Hanoi


def _file(url: str, when: datetime, text: str, category: str, kind: str = "phan_anh",
          area: str | None = None, citizen: str = "dash-1") -> str:
    with session_scope(url) as session:
        person = citizen_for(session, "web", citizen, when)
        person.display_name, person.phone = NAME, PHONE
        area_id = session.scalar(select(Area.id).where(Area.code == area)) if area else None
        draft = TicketDraft(text=text, channel="web", citizen_id=person.id, category=category,
                            kind=kind, area_id=area_id, location_text="Thôn 3")
        return create_ticket(session, draft, Caller.citizen(person.id, "web").actor,
                             context(when)).code


def _act(url: str, username: str, when: datetime, action, code: str, *args, **kwargs) -> None:
    with session_scope(url) as session:
        action(session, officer(session, username), code, context(when), *args, **kwargs)


def seed(url: str) -> dict[str, str]:
    """A month of a commune's tickets (February 2026, January before it): answered on time,
    open, overdue, rated, in three units and two areas, and one tố cáo (confidential)."""
    codes = {
        "road": _file(url, at(3), "Đường thôn 3 sụt lún sau mưa lớn", "ha_tang", area="thon-3"),
        "trash": _file(url, at(5), "Rác thải đổ trộm cạnh kênh", "moi_truong", area="thon-1"),
        "aid": _file(url, at(9), "Chưa nhận trợ cấp người cao tuổi", "chinh_sach_xa_hoi",
                     "kien_nghi", area="thon-3"),
        "secret": _file(url, at(2), SECRET_TEXT, "can_bo", "to_cao"),
        "noise": _file(url, at(20), "Karaoke hát khuya ồn ào", "an_ninh_trat_tu"),
        "january": _file(url, at(12, 1), "Đèn đường hỏng", "ha_tang", area="thon-1"),
    }
    accept = {"kind": "phan_anh", "category": "ha_tang"}
    _act(url, "truongkt", at(13, 1), desk.accept, codes["january"], **accept)
    _act(url, "truongkt", at(20, 1), desk.resolve, codes["january"], "Đã thay bóng đèn.")
    _act(url, "truongkt", at(4), desk.accept, codes["road"], **accept)
    _act(url, "truongkt", at(10), desk.resolve, codes["road"], "Đã san lấp mặt đường.")
    _act(url, "truongkt", at(6), desk.accept, codes["trash"], kind="phan_anh",
         category="moi_truong")
    service.rate("web:dash-1", codes["road"], 4, ctx=context(at(11)))
    return codes


def leader_figures(url: str, unit: str = "xa-an-binh", area: str | None = None) -> Figures:
    with session_scope(url) as session:
        area_id = session.scalar(select(Area.id).where(Area.code == area)) if area else None
        scope = fig.scope_for(session, unit_code=unit, area_id=area_id)
        return fig.compute(session, scope, PERIOD, context(NOW), now=NOW)


class PageParser(HTMLParser):
    """The dashboard's cards (key -> value) and tables (section id -> title, columns, rows)."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.cards: dict[str, str] = {}
        self.tables: dict[str, dict] = {}
        self.images: dict[str, tuple[int, int]] = {}
        self._card = self._section = None
        self._cell: list[str] | None = None
        self._row: list[str] | None = None
        self._in: str | None = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "li" and "data-card" in a:
            self._card = a["data-card"]
        if tag == "span" and a.get("class") == "stat-value" and self._card:
            self._in = "card"
        if tag == "section" and "dash-section" in (a.get("class") or ""):
            self._section = self.tables.setdefault(a["id"], {"title": "", "columns": [],
                                                            "rows": []})
        if self._section is not None and tag in ("h2", "summary"):
            self._in = "title"
        if self._section is not None and tag == "tr":
            self._row = []
        if self._row is not None and tag in ("th", "td"):
            self._cell = []
        if tag == "img" and "/desk/dashboard/" in a.get("src", ""):
            name = a["src"].split("/")[-1].split("?")[0]
            self.images[name] = (int(a["width"]), int(a["height"]))

    def handle_endtag(self, tag):
        if tag == "span" and self._in == "card":
            self._in, self._card = None, None
        if tag in ("h2", "summary") and self._in == "title":
            self._in = None
        if tag in ("th", "td") and self._cell is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        if tag == "tr" and self._row is not None:
            if self._section["columns"]:
                self._section["rows"].append(self._row)
            else:
                self._section["columns"] = self._row
            self._row = None
        if tag == "section":
            self._section = None

    def handle_data(self, data):
        if self._in == "card":
            self.cards[self._card] = self.cards.get(self._card, "") + data.strip()
        elif self._in == "title":
            self._section["title"] += data.strip()
        elif self._cell is not None:
            self._cell.append(data)


def shown_rate(clock: ClockRate) -> str:
    return "–" if not clock.due else f"{int(clock.on_time * 100 / clock.due + 0.5)}% " \
                                     f"({clock.on_time}/{clock.due})"


def group_row(row: Counts) -> list[str]:
    return [row.label, str(row.received), str(row.resolved), str(row.open), str(row.overdue),
            shown_rate(row.accept), shown_rate(row.resolve)]


@pytest.mark.parametrize("empty_db_url", BACKENDS, indirect=True)
def test_page_shows_the_figures_that_compute_gives_for_seeded_tickets(app_env):
    seed(app_env)
    expected = leader_figures(app_env)
    totals = expected.totals
    assert totals.received == 5 and totals.resolved == 1 and expected.confidential_received == 1
    assert expected.previous.totals.received == 1  # January's ticket

    async def scenario(login):
        status, html = await login("chutich").get(f"/desk/dashboard?{FEBRUARY}")
        assert status == 200, html
        page = PageParser(html)
        assert page.cards["received"] == str(totals.received)
        assert page.cards["resolved"] == str(totals.resolved)
        assert page.cards["open"] == str(totals.open)
        assert page.cards["overdue"] == str(totals.overdue)
        assert page.cards["rating"] == "4/5"
        rows = {r[0]: r[1:] for r in page.tables["summary"]["rows"]}
        assert rows["Tiếp nhận"] == [str(totals.received),
                                     str(expected.previous.totals.received),
                                     f"+{totals.received - expected.previous.totals.received}"]
        assert rows["Giải quyết đúng hạn"][0] == shown_rate(totals.resolve)
        assert page.tables["by_unit"]["rows"] == [group_row(r) for r in expected.by_unit]
        assert page.tables["by_category"]["rows"] == [group_row(r)
                                                      for r in expected.by_category]
        assert page.tables["by_kind"]["rows"] == [group_row(r) for r in expected.by_kind]
        assert page.tables["by_area"]["rows"] == [group_row(r) for r in expected.by_area]
        assert len(expected.by_unit) >= 3  # Kinh tế, Văn hóa - Xã hội, Công an, the commune
        assert "01/02/2026 - 28/02/2026" in html

    desk_session(scenario, TestClock(NOW))


def _rate(due_on_time: tuple[int, int]) -> str:
    due, on_time = due_on_time
    return shown_rate(ClockRate("", due, on_time))


def test_page_figures_match_the_independent_counts_of_the_seeded_history(app_env):
    history = seed_history(app_env)  # tests/figures_history.py: April..September 2026
    period = Period(date(2026, 4, 16), date(2026, 5, 31))
    expected = expected_figures(history, period, history.end)
    totals = expected.totals

    async def scenario(login):
        status, html = await login("chutich").get(
            "/desk/dashboard?from=2026-04-16&to=2026-05-31")
        assert status == 200, html
        page = PageParser(html)
        for key in ("received", "resolved", "open", "overdue"):
            assert page.cards[key] == str(totals[key]), key
        rows = {r[0]: r[1] for r in page.tables["summary"]["rows"]}
        assert rows["Đã thụ lý"] == str(totals["accepted"])
        assert rows["Người dân rút đơn"] == str(totals["withdrawn"])
        assert rows["– trong đó trùng lặp"] == str(totals["duplicates"])
        assert rows["Thụ lý đúng hạn"] == _rate(totals["accept"])
        assert rows["Giải quyết đúng hạn"] == _rate(totals["resolve"])
        assert rows["– trong đó bảo mật (tố cáo), chỉ thống kê"] == str(
            expected.confidential_received)
        durations = {r[0]: r[1:] for r in page.tables["durations"]["rows"]}
        assert len(durations) == len(expected.durations) > 0
        for (clock, unit), (count, median, p90) in expected.durations.items():
            label = "{} ({})".format({"accept": "Thụ lý", "resolve": "Giải quyết"}[clock], {
                "working_days": "ngày làm việc", "calendar_days": "ngày"}[unit])
            assert durations[label] == [str(count), str(int(median)), str(int(p90))], label
        satisfaction = {r[0]: r[1] for r in page.tables["satisfaction"]["rows"]}
        assert satisfaction["Lượt đánh giá"] == str(sum(expected.ratings.values()))
        for stars, count in expected.ratings.items():
            assert satisfaction[f"{stars} sao"] == str(count)
        extensions = [r[1] for r in page.tables["extensions"]["rows"]]
        assert extensions == [str(v) for v in expected.extensions] and expected.extensions[0]
        assert sum(int(r[1]) for r in page.tables["by_unit"]["rows"]) == totals["received"]

    desk_session(scenario, TestClock(history.end))


def test_a_plain_officer_gets_403_on_every_dashboard_route_and_no_link(app_env):
    async def scenario(login):
        plain = login("kinhte")
        for route in ROUTES:
            status, html = await plain.get(f"{route}?{FEBRUARY}")
            assert status == 403, route
        _, queue = await plain.get("/desk/")
        assert 'href="/desk/dashboard"' not in queue
        _, queue = await login("chutich").get("/desk/")
        assert 'href="/desk/dashboard"' in queue
        for route in ROUTES:  # logged out: to the login page, never the figures
            status, _ = await login(None).get(route)
            assert status == 302, route

    desk_session(scenario, TestClock(NOW))


def test_a_unit_head_cannot_see_another_unit_by_changing_the_query(app_env):
    seed(app_env)
    own = leader_figures(app_env, unit="xa-an-binh-kinh-te")

    async def scenario(login):
        head = login("truongkt")
        for unit in ("xa-an-binh", "xa-an-binh-vhxh", "tinh-demo", "no-such-unit"):
            for route in ROUTES:
                status, _ = await head.get(f"{route}?{FEBRUARY}&unit={unit}")
                assert status == 403, (route, unit)
        status, html = await head.get(f"/desk/dashboard?{FEBRUARY}")
        assert status == 200
        page = PageParser(html)
        assert page.cards["received"] == str(own.totals.received) == "2"
        assert "UBND xã An Bình</option>" not in html  # only their own unit to choose
        assert SECRET_TEXT not in html

    desk_session(scenario, TestClock(NOW))


def test_a_leader_narrows_to_a_unit_below_and_an_area(app_env):
    seed(app_env)
    narrowed = leader_figures(app_env, unit="xa-an-binh-kinh-te", area="thon-3")
    with session_scope(app_env) as session:
        area_id = session.scalar(select(Area.id).where(Area.code == "thon-3"))

    async def scenario(login):
        status, html = await login("chutich").get(
            f"/desk/dashboard?{FEBRUARY}&unit=xa-an-binh-kinh-te&area={area_id}")
        assert status == 200
        page = PageParser(html)
        assert page.cards["received"] == str(narrowed.totals.received) == "1"
        assert f'<option value="{area_id}" selected>Thôn 3</option>' in html
        assert "<dt>Địa bàn</dt><dd>Thôn 3</dd>" in html
        status, text = await login("chutich").get(
            f"/desk/dashboard.csv?{FEBRUARY}&unit=xa-an-binh-kinh-te&area={area_id}")
        assert status == 200 and "Đơn vị,Phòng Kinh tế\r\nĐịa bàn,Thôn 3" in text

    desk_session(scenario, TestClock(NOW))


def _csv_tables(text: str) -> dict[str, list[list[str]]]:
    """CSV blocks (a title line, the header, rows; a blank line between) by title."""
    blocks: dict[str, list[list[str]]] = {}
    for chunk in text.split("\r\n\r\n")[1:]:
        rows = list(csv.reader(io.StringIO(chunk)))
        blocks[rows[0][0]] = rows[1:]
    return blocks


def test_csv_and_xlsx_hold_what_the_page_shows_and_no_confidential_or_personal_data(app_env):
    codes = seed(app_env)

    async def scenario(login):
        leader = login("chutich")
        _, html = await leader.get(f"/desk/dashboard?{FEBRUARY}")
        page = PageParser(html)
        async with leader.http.get(f"/desk/dashboard.csv?{FEBRUARY}") as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("text/csv")
            raw = await response.read()
        assert raw.startswith(b"\xef\xbb\xbf")  # the BOM: Excel reads UTF-8
        text = raw.decode("utf-8-sig")
        blocks = _csv_tables(text)
        for table in page.tables.values():
            shown = [table["columns"], *table["rows"]]
            assert blocks[table["title"]][:len(shown)] == shown, table["title"]
        async with leader.http.get(f"/desk/dashboard.xlsx?{FEBRUARY}") as response:
            assert response.status == 200
            book = load_workbook(io.BytesIO(await response.read()), read_only=True)
        cells = [str(v) for sheet in book.worksheets for row in sheet.iter_rows(values_only=True)
                 for v in row if v is not None]
        assert str(leader_figures(app_env).totals.received) in cells
        for sheet_title in ("Theo đơn vị", "Đơn quá hạn lâu nhất"):
            assert any(sheet_title in s.title or s.title in sheet_title
                       for s in book.worksheets), sheet_title
        for leaked in (codes["secret"], NAME, PHONE, SECRET_TEXT, "Đường thôn 3 sụt lún"):
            assert leaked not in html and leaked not in text, leaked
            assert not any(leaked in c for c in cells), leaked
        assert "đơn bảo mật quá hạn" in text  # the tố cáo is overdue: counted, not listed

    desk_session(scenario, TestClock(NOW))


def test_chart_images_are_pngs_of_the_size_the_page_announces(app_env):
    seed(app_env)

    async def scenario(login):
        leader = login("chutich")
        _, html = await leader.get(f"/desk/dashboard?{FEBRUARY}")
        announced = PageParser(html).images
        assert set(announced) == {"weekly.png", "breakdown.png"}
        for name, size in announced.items():
            async with leader.http.get(f"/desk/dashboard/{name}?{FEBRUARY}") as response:
                assert response.status == 200
                assert response.headers["Content-Type"] == "image/png"
                body = await response.read()
            assert body.startswith(b"\x89PNG\r\n\x1a\n")
            image = Image.open(io.BytesIO(body))
            image.verify()
            assert image.size == size, name

    desk_session(scenario, TestClock(NOW))


def test_quick_choices_give_their_periods_and_bad_values_fall_back():
    monday, sunday = date(2026, 3, 2), date(2026, 3, 8)
    today = date(2026, 3, 4)
    assert preset_period("this_week", today) == Period(monday, sunday)
    assert preset_period("last_week", today) == Period(monday - timedelta(7), sunday - timedelta(7))
    assert preset_period("this_month", today) == Period(date(2026, 3, 1), date(2026, 3, 31))
    assert preset_period("last_30", today) == Period(date(2026, 2, 3), today)
    assert preset_period("this_year", today) == Period(date(2026, 1, 1), date(2026, 12, 31))
    assert preset_period("report_year", today) == Period(date(2025, 10, 16), date(2026, 10, 15))
    assert preset_period("report_year", date(2026, 10, 16)) == Period(date(2026, 10, 16),
                                                                     date(2027, 10, 15))
    query = DashboardQuery.from_query({"from": "2026-02-28", "to": "2026-02-01"}, today)
    assert query.period == PERIOD and query.preset == ""
    assert query.to_query() == {"from": "2026-02-01", "to": "2026-02-28"}
    assert query.to_query(period="last_week") == {"period": "last_week"}
    bad = DashboardQuery.from_query({"from": "x", "period": "nope", "area": "1; drop"}, today)
    assert (bad.preset, bad.area_id) == ("this_month", None)
    assert DashboardQuery.from_query({"from": "1900-01-01"}, today).preset == "this_month"
