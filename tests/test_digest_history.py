"""The weekly digest of FIG's seeded history (tests/figures_history.py: holidays, reopens,
extensions, pauses, late and on-time cases, withdrawn, duplicates, tố cáo) on SQLite and
PostgreSQL: every figure in the text, the workbook's weekly sheet and its overdue list are
checked against the numbers tests/figures_expected.py computes from the history's own record,
not from the database."""

from __future__ import annotations

import io
from datetime import date, timedelta

import pytest
from openpyxl import load_workbook

from bot.core.digest import WEEKS_SHEET
from bot.core.figures_model import Period
from bot.jobs.digests import JOB_NAME, run_weekly
from tests.conftest import BACKENDS
from tests.figures_expected import expected_figures, expected_overdue
from tests.figures_history import History, local, seeded_database
from tests.test_digest import sheet_texts, stored_digest

WEEK = "2026-W21"  # Monday 18/05 .. Sunday 24/05/2026
DUE = local(date(2026, 5, 25), 7, 30)  # Monday 25/05 07:30 in Hanoi
COMMUNE = {"xa-an-binh", "xa-an-binh-vp", "xa-an-binh-kinh-te", "xa-an-binh-vhxh",
           "xa-an-binh-hcc", "xa-an-binh-cong-an"}


@pytest.fixture(scope="module", params=BACKENDS)
def history(request, tmp_path_factory):
    with seeded_database(request.param, tmp_path_factory.mktemp("digest")) as seeded:
        result = run_weekly(seeded.url, seeded.ctx, DUE)
        assert result[JOB_NAME]["week"] == WEEK
        yield seeded


def _pct(due_on_time: tuple[int, int]) -> str:
    due, on_time = due_on_time
    return f"{round(on_time / due * 100)}% ({on_time}/{due})" if due else "chưa có"


def test_the_commune_digest_figures_equal_the_independent_ones(history: History):
    period = Period.iso_week(WEEK)
    now = expected_figures(history, period, DUE, COMMUNE)
    before = expected_figures(history, period.previous(), DUE, COMMUNE)
    text = stored_digest(history.url, "xa-an-binh", WEEK).text

    for label, key in (("Đã giải quyết", "resolved"), ("Đang mở cuối tuần", "open"),
                       ("Quá hạn cuối tuần", "overdue")):
        assert f"• {label}: {now.totals[key]} (tuần trước: {before.totals[key]};" in text
    assert (f"• Tiếp nhận: {now.totals['received']} đơn (tuần trước: "
            f"{before.totals['received']};") in text
    assert f"• Thụ lý đúng hạn: {_pct(now.totals['accept'])}" in text
    assert f"• Giải quyết đúng hạn: {_pct(now.totals['resolve'])}" in text
    rated = sum(now.ratings.values())
    assert rated and f"• Hài lòng: {now.average:.1f}/5 ({rated} lượt".replace(".", ",") in text
    assert now.totals["resolved"] >= 2 and now.totals["overdue"] >= 1  # a week with news


def test_the_overdue_list_is_the_oldest_non_confidential_ones_and_counts_the_rest(
        history: History):
    listed, hidden = expected_overdue(history, Period.iso_week(WEEK).bounds(history.ctx.tz)[1],
                                      COMMUNE)
    row = stored_digest(history.url, "xa-an-binh", WEEK)
    lines = [line for line in row.text.splitlines() if line[:2] in {f"{i}." for i in
                                                                     range(1, 6)}]
    assert [line.split(" – ")[0].split(" ", 1)[1] for line in lines] == \
        [code for code, _, _ in listed[:5]]
    if hidden:
        assert f"Ngoài ra có {hidden} đơn bảo mật (tố cáo) quá hạn" in row.text
    else:
        assert "bảo mật" not in row.text
    secrets = {s.code for s in history.stories.values() if s.confidential}
    assert secrets and not any(code in row.text + sheet_texts(row.xlsx) for code in secrets)


def test_the_workbook_weekly_sheet_has_eight_weeks_of_independent_counts(history: History):
    row = stored_digest(history.url, "xa-an-binh", WEEK)
    weeks = list(load_workbook(io.BytesIO(row.xlsx))[WEEKS_SHEET].iter_rows(
        min_row=2, values_only=True))
    assert [w[0] for w in weeks] == [f"2026-W{n}" for n in range(14, 22)]
    last = Period.iso_week(WEEK)
    for back, values in enumerate(reversed(weeks)):
        week = Period(last.start - timedelta(days=7 * back), last.end - timedelta(days=7 * back))
        expected = expected_figures(history, week, DUE, COMMUNE)
        assert values[2:4] == (expected.totals["received"], expected.totals["resolved"]), week
        assert values[4:6] == expected.totals["resolve"], week
