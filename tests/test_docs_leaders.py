"""The leaders' guide (docs/huong-dan-lanh-dao.md) and the README's section for leaders say only
what the code does: every command option they name is in the command's --help, every desk and
public path they name is served, every figure the guide defines is a field of the figures
(bot/core/figures_model.py), the numbers they state (5 overdue tickets, 8 weeks, Monday 07:30,
12 weeks, 12 months, 5 minutes) are the code's, and the sample digest and report in
docs/samples are what the current code makes from the same seed (tests/leaders_samples.py).
One seeded SQLite database for the module: a few seconds."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli.main import app as cli
from bot.core import digest as digests
from bot.core import figures as fig
from bot.core.figures_model import (
    ClockRate,
    Counts,
    Durations,
    Extensions,
    Figures,
    Period,
    Satisfaction,
)
from bot.core.public_list import month_periods
from bot.core.report import build_report, render
from bot.jobs import digests as digest_job
from bot.settings import Settings, load_settings
from bot.store.db import session_scope
from bot.web.desk.dashboard_query import PRESETS, preset_period
from bot.web.desk.views_digests import LIST_WEEKS
from bot.web.public.views import FIGURES_TTL_SECONDS
from tests import leaders_samples as samples
from tests.desk_client import desk
from tests.helpers import TZ, TestClock

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "docs" / "huong-dan-lanh-dao.md"
README = ROOT / "README.md"
AFTER_EVERYTHING = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)  # after the report year, too
GENERATED = re.compile(r"Lập lúc \d\d:\d\d ngày \d\d/\d\d/\d{4}")

# Every figure the guide's table defines -> the fields that hold it ("Class.field").
FIGURE_FIELDS = {
    "Tiếp nhận": ["Counts.received"],
    "Trong đó trùng lặp": ["Counts.duplicates"],
    "Trong đó đơn bảo mật": ["Figures.confidential_received"],
    "Chuyển thẳng, không qua phân loại": ["Figures.without_triage",
                                          "Figures.without_triage_share"],
    "Đã thụ lý": ["Counts.accepted"],
    "Đã giải quyết": ["Counts.resolved"],
    "Không thụ lý": ["Counts.rejected"],
    "Chuyển cơ quan khác": ["Counts.transferred"],
    "Người dân rút đơn": ["Counts.withdrawn"],
    "Đang mở cuối kỳ": ["Counts.open"],
    "Quá hạn cuối kỳ": ["Counts.overdue"],
    "Thụ lý đúng hạn": ["Counts.accept", "ClockRate.due", "ClockRate.on_time", "ClockRate.rate"],
    "Giải quyết đúng hạn": ["Counts.resolve", "ClockRate.rate"],
    "Thời gian thụ lý": ["Figures.durations", "Durations.median", "Durations.p90"],
    "Thời gian giải quyết": ["Figures.durations", "Durations.median", "Durations.p90"],
    "Gia hạn giải quyết tố cáo": ["Figures.extensions", "Extensions.count", "Extensions.tickets",
                                  "Extensions.days", "Extensions.especially_complex"],
    "Mức hài lòng": ["Figures.satisfaction", "Satisfaction.average", "Satisfaction.ratings",
                     "Satisfaction.distribution"],
    "Chưa hài lòng": ["Satisfaction.not_satisfied", "Satisfaction.not_satisfied_share"],
    "Tỷ lệ mở lại": ["Satisfaction.reopened", "Figures.reopen_rate"],
}
CLASSES = {cls.__name__: cls for cls in (Counts, ClockRate, Durations, Extensions, Figures,
                                         Satisfaction)}


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    with samples.seeded(tmp_path_factory.mktemp("leaders")) as seeded:
        yield seeded


@pytest.fixture
def served(history, tmp_path, monkeypatch):
    """This process's settings pointed at the seeded database (for the web app)."""
    monkeypatch.setenv("DATABASE_URL", history.url)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("METRICS_TOKEN", raising=False)
    monkeypatch.delenv("PUBLIC_BOARD", raising=False)
    load_settings.cache_clear()
    yield history
    load_settings.cache_clear()


def guide() -> str:
    return GUIDE.read_text(encoding="utf-8")


def section(text: str, number: int) -> str:
    """The guide's "## <number>." section."""
    match = re.search(rf"^## {number}\. .*?(?=^## |\Z)", text, re.S | re.M)
    assert match, f"no section {number}"
    return match.group(0)


def has_field(path: str) -> bool:
    name, _, attribute = path.partition(".")
    cls = CLASSES[name]
    return (attribute in {f.name for f in dataclasses.fields(cls)}
            or isinstance(getattr(cls, attribute, None), property))


def test_every_figure_the_guide_defines_is_a_field_of_the_figures():
    names = re.findall(r"^\| \*\*(.+?)\*\* \|", section(guide(), 1), re.M)
    assert names and set(names) == set(FIGURE_FIELDS), set(names) ^ set(FIGURE_FIELDS)
    missing = [path for paths in FIGURE_FIELDS.values() for path in paths if not has_field(path)]
    assert missing == []
    assert {d.name for d in dataclasses.fields(Durations)} >= {"clock", "unit", "median", "p90"}


@pytest.mark.parametrize("command", ["digest", "report"])
def test_every_option_the_guide_and_readme_give_a_command_is_in_its_help(command):
    lines = [line for text in (guide(), README.read_text(encoding="utf-8"))
             for line in text.splitlines() if f"nghedan {command}" in line]
    named = {option for line in lines for option in re.findall(r"(--[a-z]+)", line)}
    assert named, f"the docs show no nghedan {command} line"
    result = CliRunner().invoke(cli, [command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert {o for o in named if o not in result.output} == set()


def test_the_report_formats_and_yearly_period_are_the_codes():
    from bot.cli.report import FORMAT_NAMES

    text = section(guide(), 3)
    assert set(FORMAT_NAMES) == {"xlsx", "pdf", "md"}
    assert all(f"`{fmt}`" in text for fmt in FORMAT_NAMES)
    assert "từ 16/10 năm trước đến 15/10 năm nay" in text
    assert preset_period("report_year", date(2026, 10, 1)) == Period(date(2025, 10, 16),
                                                                      date(2026, 10, 15))


def test_the_numbers_and_defaults_the_guide_states_are_the_codes():
    text = guide()
    assert digests.OVERDUE_LISTED == 5 and "**5 đơn quá hạn lâu nhất**" in text
    assert digests.CHART_WEEKS == 8 and "**biểu đồ 8 tuần**" in text
    assert LIST_WEEKS == 12 and "liệt kê 12 tuần gần nhất" in text
    assert len(month_periods(date(2026, 12, 1))) == 12 and "12 tháng gần nhất" in text
    assert FIGURES_TTL_SECONDS == 300 and "khoảng 5 phút một lần" in text
    defaults = Settings.model_fields
    assert defaults["digest_weekday"].default == 0 and defaults["digest_time"].default == "07:30"
    assert defaults["public_board"].default is True and defaults["metrics_token"].default == ""
    assert "**thứ Hai lúc 07:30**" in text and "`DIGEST_WEEKDAY` (mặc định `0`, thứ Hai)" in text
    assert [str(role) for role in digest_job.ROLES] == ["leader", "unit_head"]
    assert [label for _, label in PRESETS] == ["Tuần này", "Tuần trước", "Tháng này",
                                               "30 ngày qua", "Năm nay", "Năm báo cáo"]
    assert "Tuần này, Tuần trước, Tháng này (mặc định), 30 ngày qua, Năm nay, Năm báo\n  cáo" \
        in text


def test_a_digest_missed_at_its_moment_is_still_sent_later_that_week_but_not_the_next():
    settings = Settings(_env_file=None)  # Monday 07:30 Asia/Ho_Chi_Minh

    def at(day: int, hour: int, minute: int = 0) -> datetime:
        return datetime(2026, 5, day, hour, minute, tzinfo=TZ)

    assert digest_job.due_week(at(18, 7, 29), settings) is None  # Monday 18/05, too early
    assert digest_job.due_week(at(18, 7, 30), settings) == "2026-W20"
    assert digest_job.due_week(at(24, 23, 59), settings) == "2026-W20"  # Sunday: still sent
    assert digest_job.due_week(at(25, 7, 0), settings) is None  # next Monday: W20 is missed


def test_the_sample_digest_is_what_the_current_code_makes(history):
    sample = (samples.SAMPLES / "digest.txt").read_text(encoding="utf-8")
    with session_scope(history.url) as session:
        unit = digests.unit_by_code(session, samples.UNIT)
        made = digests.build(session, samples.WEEK, unit, history.ctx, AFTER_EVERYTHING,
                             samples.PUBLIC_URL)
    assert made.text + "\n" == sample, \
        "docs/samples is stale: run .venv/bin/python -m tests.leaders_samples"
    assert made.chart_png == (samples.SAMPLES / "chart.png").read_bytes(), \
        "docs/samples/chart.png is stale: run .venv/bin/python -m tests.leaders_samples"
    shown = re.search(r"```text\n(.*?)```", section(guide(), 2), re.S)
    assert shown and shown.group(1) == sample, "the guide's sample differs from digest.txt"


def test_the_sample_report_is_what_the_current_code_makes(history):
    sample = (samples.SAMPLES / "report.md").read_text(encoding="utf-8")
    period = Period(*(date.fromisoformat(day) for day in samples.REPORT_YEAR))
    with session_scope(history.url) as session:
        scope = fig.scope_for(session, unit_code=samples.UNIT)
        data = build_report(session, scope, period, history.ctx, "md", AFTER_EVERYTHING)
    made = render(data, history.ctx, "md").decode("utf-8")
    assert GENERATED.search(sample)
    assert GENERATED.sub("", made) == GENERATED.sub("", sample), \
        "docs/samples/report.md is stale: run .venv/bin/python -m tests.leaders_samples"


def test_the_desk_and_public_paths_named_in_the_docs_are_served(served):
    texts = guide() + README.read_text(encoding="utf-8")
    for path in ("/desk/dashboard", "/desk/digests", "/public/", "/public/so-lieu", "/health",
                 "/metrics"):
        assert path in texts, path
    week = f"/desk/digests/{samples.WEEK}?unit={samples.UNIT}"

    async def scenario(login):
        leader, visitor = login("chutich"), login(None)
        status, html = await leader.get("/desk/dashboard")
        assert status == 200 and "Tải CSV" in html and "Tải Excel" in html
        assert all(label in html for _, label in PRESETS)
        assert all(f">{label}" in html for label in ("Từ ngày", "Đến ngày", "Đơn vị", "Địa bàn"))
        status, html = await leader.get("/desk/digests")
        assert status == 200 and "Tổng hợp tuần" in html
        status, html = await leader.get(week)
        assert status == 200 and "Tải bảng tính (XLSX)" in html and "Tuần trước" in html
        for path in ("/public/", "/public/so-lieu", "/health", "/metrics"):
            status, _ = await visitor.get(path)
            assert status == 200, path
        status, html = await visitor.get("/public/")
        assert all(label in html for label in ("Tìm theo nội dung", "Lĩnh vực", "Khu vực",
                                               "Đơn vị giải quyết", "Tháng giải quyết"))

    desk(scenario, TestClock(AFTER_EVERYTHING))


def test_every_file_the_guide_links_exists_and_make_screenshots_writes_the_screenshots():
    text = guide()
    links = re.findall(r"\]\(([^)#]+?)\)", text)
    assert [link for link in links if not link.startswith("http")
            and not (GUIDE.parent / link).is_file()] == []
    shots = {Path(link).name for link in links if link.startswith("screenshots/")}
    assert {"dashboard-phone.png", "dashboard-desktop.png", "public-list-phone.png"} <= shots
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    target = makefile.split("\nscreenshots:", 1)[1]
    for test_file in ("tests/test_dashboard_browser.py", "tests/test_public_browser.py"):
        assert test_file in target
        source = (ROOT / test_file).read_text(encoding="utf-8")
        assert re.search(r"def test_screenshots\w*\(", source), test_file  # -k screenshots
    browser_tests = "".join((ROOT / f"tests/test_{n}_browser.py").read_text(encoding="utf-8")
                            for n in ("dashboard", "public"))
    # the names those tests write: f"dashboard-{size}.png", f"public-{name}-{size}.png", ...
    written = {r"dashboard-(phone|desktop)": '"dashboard-{size}.png"',
               r"public-(list|item|figures)-(phone|desktop)": '"public-{name}-{size}.png"',
               r"ticket-public-phone": '"ticket-public-phone.png"'}
    assert [literal for literal in written.values() if literal not in browser_tests] == []
    assert [name for name in shots if not any(
        re.fullmatch(pattern + r"\.png", name) for pattern in written)] == []


def test_the_readme_names_the_tests_of_its_leaders_section_and_they_exist():
    readme = README.read_text(encoding="utf-8")
    block = readme.split("## Leaders and the public", 1)[1].split("\n## ", 1)[0]
    named = re.findall(r"tests/(test_\w+\.py)", block)
    assert len(named) >= 10
    assert [name for name in named if not (ROOT / "tests" / name).is_file()] == []
    for link in ("docs/huong-dan-lanh-dao.md", "docs/figures.md", "docs/deploy.md"):
        assert f"({link})" in block and (ROOT / link).is_file()
    for setting in ("DIGEST_WEEKDAY", "DIGEST_TIME", "PUBLIC_BOARD", "METRICS_TOKEN"):
        assert f"`{setting}`" in readme and setting.lower() in Settings.model_fields
