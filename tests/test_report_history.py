"""Reports on the figures' seeded history (tests/figures_history.py: holidays, reopens,
extensions, duplicates, khiếu nại on calendar days, urgent hours clocks, paused clocks, a tố cáo
resolved after two extensions): every figure of the XLSX, for the period and the previous one,
equals the numbers tests/figures_expected.py derives in plain Python from what the history did;
the breakdown sheets and the ticket list too; the Markdown and PDF say the same. SQLite and
PostgreSQL."""

from __future__ import annotations

from datetime import date

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from bot.core import figures
from bot.core.figures_model import Period
from bot.core.report import write_report
from bot.core.report_text import vn_number, vn_percent
from bot.core.taxonomy import CATEGORY_LABELS, KIND_LABELS, Category, Kind
from bot.store.db import session_scope
from tests.conftest import BACKENDS
from tests.figures_expected import Expected, expected_figures, is_open
from tests.figures_history import TZ, History, seed_history

pytestmark = pytest.mark.parametrize("empty_db_url", BACKENDS, indirect=True)

# May..15 September 2026; the previous period (14/12/2025..30/4/2026) holds all of April
PERIOD = Period(date(2026, 5, 1), date(2026, 9, 15))
CLOCKS = {"accept": "thụ lý", "resolve": "giải quyết"}
UNITS = {"working_days": "ngày làm việc", "calendar_days": "ngày"}


@pytest.fixture
def history(db_url) -> History:
    return seed_history(db_url)


def write(history: History, fmt: str, tmp_path):
    out = tmp_path / f"bao-cao.{fmt}"
    with session_scope(history.url) as session:
        write_report(session, figures.scope_for(session), PERIOD, history.ctx, fmt, out)
    return out


def rate(pair: tuple[int, int]):
    due, on_time = pair
    return on_time / due if due else "chưa có"


def expected_rows(e: Expected) -> dict:
    """The summary sheet's rows (label -> value) as the independent figures give them."""
    t = e.totals
    rows = {"Tiếp nhận": t["received"], "Trong đó: trùng với đơn khác": t["duplicates"],
            "Trong đó: đơn bảo mật (tố cáo...)": e.confidential_received,
            "Đã thụ lý": t["accepted"], "Đã giải quyết, trả lời": t["resolved"],
            "Không thụ lý": t["rejected"], "Chuyển cơ quan khác": t["transferred"],
            "Người dân rút đơn": t["withdrawn"], "Còn tồn cuối kỳ": t["open"],
            "Quá hạn cuối kỳ": t["overdue"],
            "Số đơn đến hạn thụ lý": t["accept"][0], "Số đơn thụ lý đúng hạn": t["accept"][1],
            "Tỷ lệ thụ lý đúng hạn": rate(t["accept"]),
            "Số đơn đến hạn giải quyết": t["resolve"][0],
            "Số đơn giải quyết đúng hạn": t["resolve"][1],
            "Tỷ lệ giải quyết đúng hạn": rate(t["resolve"]),
            "Số lượt đánh giá": sum(e.ratings.values()),
            "Mức độ hài lòng bình quân (1-5)": "chưa có" if e.average is None else e.average,
            "Lượt \"Chưa hài lòng\"": e.not_satisfied, "Đơn mở lại": e.reopened,
            "Gia hạn giải quyết tố cáo (lượt)": e.extensions[0],
            "Số đơn được gia hạn": e.extensions[1], "Tổng số ngày gia hạn": e.extensions[2],
            "Gia hạn do vụ việc đặc biệt phức tạp": e.extensions[3],
            "Chuyển thẳng đơn vị, không qua bộ phận phân loại": e.without_triage}
    rows.update({f"Số lượt đánh giá {stars} sao": n for stars, n in e.ratings.items()})
    for (clock, unit), (_, median, p90) in e.durations.items():
        rows[f"Thời gian {CLOCKS[clock]}, trung vị ({UNITS[unit]})"] = median
        rows[f"Thời gian {CLOCKS[clock]}, 90% số đơn không quá ({UNITS[unit]})"] = p90
    return rows


def test_xlsx_figures_equal_the_independently_derived_ones_now_and_before(history, tmp_path):
    now = expected_figures(history, PERIOD, history.end)
    before = expected_figures(history, PERIOD.previous(), history.end)
    sheet = load_workbook(write(history, "xlsx", tmp_path))["Tổng hợp"]
    rows = list(sheet.iter_rows(values_only=True))
    header = next(i for i, r in enumerate(rows) if r[0] == "Chỉ tiêu")
    shown = {r[0]: r[1:3] for r in rows[header + 1:] if r[0]}
    for column, expected in ((0, expected_rows(now)), (1, expected_rows(before))):
        for label, value in expected.items():
            assert shown[label][column] == (value if isinstance(value, str)
                                            else pytest.approx(value)), (column, label)
    # the history is rich enough that these figures mean something
    assert now.totals["received"] and before.totals["received"]
    assert now.extensions[0] and now.reopened and now.not_satisfied
    assert len(now.durations) >= 3  # working and calendar days


def test_breakdown_sheets_and_ticket_list_equal_the_history(history, tmp_path):
    expected = expected_figures(history, PERIOD, history.end)
    book = load_workbook(write(history, "xlsx", tmp_path))
    with session_scope(history.url) as session:
        result = figures.compute(session, figures.scope_for(session), PERIOD, history.ctx)
    for sheet, groups, wanted in (("Theo lĩnh vực", result.by_category, expected.by_category),
                                  ("Theo loại đơn", result.by_kind, expected.by_kind),
                                  ("Theo địa bàn", result.by_area, expected.by_area),
                                  ("Theo đơn vị", result.by_unit, expected.by_unit)):
        header, *rows = list(book[sheet].iter_rows(values_only=True))
        column = {name: i for i, name in enumerate(header)}
        shown = {r[0]: r for r in rows[:-1]}
        assert {g.key for g in groups} == set(wanted), sheet
        for group in groups:
            row, e = shown[group.label], wanted[group.key]
            for title, name in (("Tiếp nhận", "received"), ("Đã thụ lý", "accepted"),
                                ("Đã giải quyết", "resolved"), ("Không thụ lý", "rejected"),
                                ("Rút đơn", "withdrawn"), ("Còn tồn cuối kỳ", "open"),
                                ("Quá hạn cuối kỳ", "overdue")):
                assert row[column[title]] == e[name], (sheet, group.label, title)
            assert row[column["Giải quyết đúng hạn (%)"]] == (
                "chưa có" if not e["resolve"][0] else pytest.approx(rate(e["resolve"])))
    categories = {r[0] for r in book["Theo lĩnh vực"].iter_rows(min_row=2, values_only=True)}
    assert {CATEGORY_LABELS[Category(k)] for k in expected.by_category} <= categories
    kinds = {r[0] for r in book["Theo loại đơn"].iter_rows(min_row=2, values_only=True)}
    assert {KIND_LABELS[Kind(k)] for k in expected.by_kind} <= kinds

    start, end = PERIOD.bounds(TZ)
    at_end = min(end, history.end)
    listed_stories = {s.code: s for s in history.stories.values() if not s.confidential
                      and (start <= s.received < end or is_open(s, at_end))}
    header, *rows = list(book["Danh sách đơn"].iter_rows(values_only=True))
    listed = {r[0]: dict(zip(header, r, strict=True)) for r in rows}
    assert set(listed) == set(listed_stories)
    for code, story in listed_stories.items():
        assert listed[code]["Ngày tiếp nhận"] == story.received.astimezone(TZ).replace(
            tzinfo=None)
        assert listed[code]["Loại đơn"] == KIND_LABELS[Kind(story.kind)]
    for story in history.stories.values():
        if story.confidential:
            assert story.code not in {c for r in rows for c in r if isinstance(c, str)}


def test_markdown_and_pdf_state_the_same_figures(history, tmp_path):
    e = expected_figures(history, PERIOD, history.end)
    before = expected_figures(history, PERIOD.previous(), history.end)
    markdown = write(history, "md", tmp_path).read_text(encoding="utf-8")
    pdf = "\n".join(p.extract_text() for p in PdfReader(write(history, "pdf", tmp_path)).pages)
    t = e.totals
    change = t["received"] - before.totals["received"]
    assert (f"| Tiếp nhận | {vn_number(t['received'])} | "
            f"{vn_number(before.totals['received'])} | {change:+d} |") in markdown
    assert f"| Còn tồn cuối kỳ | {vn_number(t['open'])} |" in markdown
    assert f"| Tỷ lệ giải quyết đúng hạn | {vn_percent(rate(t['resolve']))} |" in markdown
    for text in (markdown, pdf):
        assert f"đã tiếp nhận {vn_number(t['received'])} phản ánh, kiến nghị" in text
        assert (f"đã giải quyết, trả lời {vn_number(t['resolved'])} đơn") in text
        assert f"tỷ lệ thụ lý đúng hạn {vn_percent(rate(t['accept']))}" in text
        assert f"Mức độ hài lòng bình quân {vn_number(e.average, 2)}/5" in text
        assert f"trong đó {vn_number(t['overdue'])} đơn đã quá hạn" in text
        for story in history.stories.values():
            if story.confidential:
                assert story.code not in text
