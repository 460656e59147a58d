"""The written summary and Vietnamese number formatting (bot.core.report_text): decimal comma,
thousands dot, changes against the previous period, and careful wording when a figure cannot be
computed (nothing fell due, nobody rated, no previous period): "chưa có", never None, no
division by zero. The empty period goes through the real compute()."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from openpyxl import load_workbook

from bot.core import figures
from bot.core.figures_model import ClockRate, Counts, Figures, Period, Scope
from bot.core.report import write_report
from bot.core.report_text import figure_lines, summary_text, vn_number, vn_percent
from bot.store.db import session_scope
from tests.helpers import context


@pytest.mark.parametrize(("value", "text"), [
    (0, "0"), (7, "7"), (12345, "12.345"), (1234567, "1.234.567"), (87.5, "87,5"),
    (3.0, "3"), (4.26, "4,3"), (1234.56, "1.234,6"), (None, "chưa có")])
def test_numbers_are_written_the_vietnamese_way(value, text):
    assert vn_number(value) == text


@pytest.mark.parametrize(("share", "text"), [
    (0.875, "87,5%"), (1.0, "100%"), (0.0, "0%"), (2 / 3, "66,7%"), (None, "chưa có")])
def test_percentages_have_a_decimal_comma(share, text):
    assert vn_percent(share) == text


def hand_made(received: int, previous: Figures | None = None, **totals) -> Figures:
    counts = Counts(received=received, **totals)
    return Figures(Period(date(2025, 10, 16), date(2026, 10, 15)),
                   Scope(unit_id=2, unit_ids=frozenset({2}), name="UBND xã An Bình"),
                   datetime(2026, 10, 16, 1, tzinfo=UTC), counts, previous=previous)


def test_a_period_with_nothing_due_and_no_rating_says_chưa_có_without_dividing_by_zero():
    text = summary_text(hand_made(0))
    assert text.startswith("Trong kỳ từ ngày 16/10/2025 đến ngày 15/10/2026, UBND xã An Bình "
                           "đã tiếp nhận 0 phản ánh, kiến nghị.")
    assert "tỷ lệ giải quyết đúng hạn: chưa có (trong kỳ không có đơn đến hạn giải quyết)" \
        in text.lower()
    assert "Mức độ hài lòng bình quân: chưa có" in text
    assert "so với kỳ trước" not in text  # no previous period: no change is made up
    assert "None" not in text and "chuyển thẳng" not in text  # 0 received: no share


def test_changes_against_the_previous_period_are_signed_in_words_and_points():
    before = hand_made(1200, resolved=1000, resolve=ClockRate("resolve", 1000, 800))
    now = hand_made(1500, before, resolved=960, resolve=ClockRate("resolve", 960, 840))
    text = summary_text(now)
    assert "đã tiếp nhận 1.500 phản ánh, kiến nghị (tăng 300 so với kỳ trước)" in text
    assert "đã giải quyết, trả lời 960 đơn (giảm 40 so với kỳ trước)" in text
    assert ("Tỷ lệ giải quyết đúng hạn 87,5% (840/960 đơn đến hạn; tăng 7,5 điểm % so với kỳ "
            "trước)") in text
    lines = {line.key: line for line in figure_lines(now)}
    assert lines["resolve_rate"].change_text() == "+7,5 điểm %"
    assert lines["received"].change_text() == "+300"
    assert lines["accept_rate"].text() == "chưa có" and lines["accept_rate"].change is None


def test_an_empty_period_computed_on_the_database_reads_chưa_có(db_url, tmp_path):
    ctx = context()
    period = Period(date(2025, 1, 1), date(2025, 1, 31))  # before any ticket
    with session_scope(db_url) as session:
        scope = figures.scope_for(session, unit_code="xa-an-binh")
        result = figures.compute(session, scope, period, ctx)
        write_report(session, scope, period, ctx, "md", tmp_path / "r.md")
        write_report(session, scope, period, ctx, "xlsx", tmp_path / "r.xlsx")
    text = summary_text(result)
    assert "đã tiếp nhận 0 phản ánh, kiến nghị" in text and "UBND xã An Bình" in text
    assert "None" not in text and "None" not in (tmp_path / "r.md").read_text(encoding="utf-8")
    sheet = load_workbook(tmp_path / "r.xlsx")["Tổng hợp"]
    values = {r[0]: r[1] for r in sheet.iter_rows(values_only=True) if r[0]}
    assert values["Tỷ lệ giải quyết đúng hạn"] == "chưa có"
    assert values["Mức độ hài lòng bình quân (1-5)"] == "chưa có"
    assert values["Tiếp nhận"] == 0
