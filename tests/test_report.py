"""Reports (bot.core.report) on a history made through the real core (citizens filing, officers
accepting, resolving, rejecting, citizens withdrawing, rating and pressing "Chưa hài lòng", a
tố cáo): the XLSX, PDF and Markdown read back, their numbers equal to compute()'s and to counts
made here by hand, and no confidential ticket or citizen data in any of them. SQLite and
PostgreSQL."""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy import select

from bot.core import desk, figures, service
from bot.core.context import CoreContext
from bot.core.figures_model import Period
from bot.core.report import write_report
from bot.core.report_text import figure_lines, vn_number, vn_percent
from bot.store.db import session_scope
from bot.store.models import Ticket
from tests.conftest import BACKENDS
from tests.helpers import TZ, TestClock, officer

pytestmark = pytest.mark.parametrize("empty_db_url", BACKENDS, indirect=True)

PERIOD = Period(date(2026, 3, 1), date(2026, 3, 31))
NAME, PHONE = "Nguyễn Văn Bình", "0912345678"
ACCUSED = "Trần Văn Tham"  # named in the tố cáo: never in a report


def at(month: int, day: int, hour: int = 9) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=TZ).astimezone(UTC)


@dataclass
class History:
    ctx: CoreContext
    codes: dict[str, str]  # letter -> ticket code

    @property
    def confidential(self) -> str:
        return self.codes["D"]


def seed_history(url: str) -> History:
    """Tickets of March 2026 (and one of February, the previous period). Needs DATABASE_URL
    set to `url` (the app_env fixture): citizens file, rate and withdraw through bot.core.service.

    A ha_tang: accepted 3/3, resolved 5/3, rated 5 stars          (accept, resolve on time)
    B moi_truong: accepted 5/3, resolved 10/3, "Chưa hài lòng" 11/3 (reopened: a fresh 7-working-
      day resolve period, past due at the end -> open, overdue, one late resolve period)
    C an_ninh_trat_tu 9/3: never accepted (10 working days -> late, open, overdue)
    D tố cáo, accepted 12/3 by the chairman (confidential; 30 days -> open, not overdue)
    E thu_tuc_hanh_chinh 16/3: withdrawn 17/3 (its acceptance clock left out)
    F dat_dai 18/3: rejected 19/3 (acceptance decided on time)
    P ha_tang 10/2: accepted 11/2, resolved 13/2 (the previous period)"""
    clock = TestClock(at(2, 10))
    ctx = CoreContext.build(TZ, "KN", clock)
    codes: dict[str, str] = {}

    def file(letter: str, when: datetime, category: str, text: str, place: str,
             kind: str = "phan_anh") -> None:
        clock.now = when
        codes[letter] = service.submit_report(f"web:{letter}", text, place, f"k-{letter}",
                                              category=category, kind=kind, ctx=ctx,
                                              phone=PHONE).code

    def act(when: datetime, action, who: str, letter: str, **kwargs) -> None:
        clock.now = when
        with session_scope(url) as session:
            action(session, officer(session, who), codes[letter], ctx, **kwargs)

    def accept(when, who, letter, kind, category):
        act(when, desk.accept, who, letter, kind=kind, category=category)

    def resolve(when, who, letter):
        act(when, desk.resolve, who, letter, answer="Đã xử lý xong, cảm ơn Ông/Bà.")

    file("P", at(2, 10), "ha_tang", "Đèn đường thôn 2 hỏng", "thôn 2")
    accept(at(2, 11), "truongkt", "P", "phan_anh", "ha_tang")
    resolve(at(2, 13), "truongkt", "P")

    file("A", at(3, 2), "ha_tang", f"Tôi là {NAME}, số điện thoại {PHONE}: đường thôn 3 ngập",
         "thôn 3")
    accept(at(3, 3), "truongkt", "A", "phan_anh", "ha_tang")
    resolve(at(3, 5), "truongkt", "A")
    clock.now = at(3, 6)
    service.rate("web:A", codes["A"], 5, ctx=ctx)

    file("B", at(3, 4), "moi_truong", f"{NAME} báo: bãi rác thôn 1 bốc mùi", "thôn 1")
    accept(at(3, 5), "truongkt", "B", "kien_nghi", "moi_truong")
    resolve(at(3, 10), "truongkt", "B")
    clock.now = at(3, 11)
    service.reopen_not_satisfied("web:B", codes["B"], "Vẫn còn mùi", ctx=ctx, escalate=False)

    file("C", at(3, 9), "an_ninh_trat_tu", f"Gọi {PHONE}: tụ tập gây ồn ào ban đêm", "thôn 2")
    file("D", at(3, 10), "can_bo", f"Tôi tố cáo cán bộ {ACCUSED} nhận tiền", "thôn 1",
         kind="to_cao")
    accept(at(3, 12), "chutich", "D", "to_cao", "can_bo")

    file("E", at(3, 16), "thu_tuc_hanh_chinh", "Hỏi thủ tục cấp giấy khai sinh", "thôn 3")
    clock.now = at(3, 17)
    service.withdraw("web:E", codes["E"], ctx=ctx)

    file("F", at(3, 18), "dat_dai", "Tranh chấp ranh giới đất với nhà bên", "thôn 1")
    clock.now = at(3, 19)
    with session_scope(url) as session:
        desk.reject(session, officer(session, "truongkt"), codes["F"], ctx,
                    reason="Tranh chấp dân sự", redirect="Tòa án nhân dân khu vực")
    clock.now = at(4, 20)  # after the period: "at the end" is the period's end
    return History(ctx, codes)


# What the history above gives, counted by hand from the definitions (docs/figures.md).
EXPECTED = {"received": 6, "accepted": 3, "resolved": 2, "rejected": 1, "withdrawn": 1,
            "transferred": 0, "duplicates": 0, "open": 3, "overdue": 2,
            "accept_due": 5, "accept_on_time": 4, "resolve_due": 3, "resolve_on_time": 2,
            "confidential_received": 1, "ratings": 1, "rating_average": 5,
            "not_satisfied": 1, "reopened": 1, "without_triage": 6,
            "rating_5": 1, "rating_1": 0,
            # working days from start to stop: acceptance A 1, B 1, D 2, F 1 (E withdrawn: left
            # out); resolution A 2, B 3 (5/3 Thu -> 10/3 Tue). Nearest rank: ceil(p * n).
            "accept_working_days_median": 1, "accept_working_days_p90": 2,
            "resolve_working_days_median": 2, "resolve_working_days_p90": 3}
EXPECTED_PREVIOUS = {"received": 1, "accepted": 1, "resolved": 1, "open": 0, "overdue": 0}


@pytest.fixture
def history(app_env) -> History:
    return seed_history(app_env)


def computed(url: str, history: History):
    with session_scope(url) as session:
        scope = figures.scope_for(session)
        return figures.compute(session, scope, PERIOD, history.ctx)


def write(url: str, history: History, fmt: str, tmp_path, unit: str | None = None):
    out = tmp_path / f"bao-cao.{fmt}"
    with session_scope(url) as session:
        scope = figures.scope_for(session, unit_code=unit)
        write_report(session, scope, PERIOD, history.ctx, fmt, out)
    return out


def summary_rows(book) -> dict[str, tuple]:
    """"Tổng hợp": label -> (this period, previous, change), for the rows under the header."""
    rows = list(book["Tổng hợp"].iter_rows(values_only=True))
    start = next(i for i, r in enumerate(rows) if r[0] == "Chỉ tiêu")
    return {r[0]: r[1:4] for r in rows[start + 1:] if r[0]}


def test_xlsx_summary_equals_compute_and_the_hand_counted_history(app_env, history, tmp_path):
    out = write(app_env, history, "xlsx", tmp_path)
    book = load_workbook(out)
    assert book.sheetnames[:6] == ["Tổng hợp", "Theo lĩnh vực", "Theo loại đơn", "Theo địa bàn",
                                   "Theo đơn vị", "Danh sách đơn"]
    rows = summary_rows(book)
    result = computed(app_env, history)
    lines = {line.key: line for line in figure_lines(result)}
    for line in lines.values():  # every headline figure, as compute() has it
        now, before, _ = rows[line.label]
        assert now == ("chưa có" if line.value is None else pytest.approx(line.value)), line.key
        assert before == ("chưa có" if line.previous is None
                          else pytest.approx(line.previous)), line.key
    for key, value in EXPECTED.items():  # and as counted by hand
        assert rows[lines[key].label][0] == pytest.approx(value), key
    for key, value in EXPECTED_PREVIOUS.items():
        assert rows[lines[key].label][1] == value, key
    assert rows["Tiếp nhận"][2] == 5  # change against February
    assert rows["Tỷ lệ thụ lý đúng hạn"][0] == pytest.approx(0.8)
    assert rows["Tỷ lệ giải quyết đúng hạn"][0] == pytest.approx(2 / 3)
    sheet = book["Tổng hợp"]
    rate_cell = next(r[1] for r in sheet.iter_rows() if r[0].value == "Tỷ lệ thụ lý đúng hạn")
    assert rate_cell.number_format == "0.0%"
    assert sheet.freeze_panes and sheet["A1"].font.bold
    texts = [c for r in sheet.iter_rows(values_only=True) for c in r if isinstance(c, str)]
    assert any(t.startswith("Trong kỳ từ ngày 01/03/2026 đến ngày 31/03/2026") for t in texts)
    assert "01/03/2026 - 31/03/2026" in texts


def test_xlsx_breakdown_sheets_equal_compute_groups(app_env, history, tmp_path):
    book = load_workbook(write(app_env, history, "xlsx", tmp_path))
    result = computed(app_env, history)
    for sheet_name, groups in (("Theo lĩnh vực", result.by_category),
                               ("Theo loại đơn", result.by_kind),
                               ("Theo địa bàn", result.by_area), ("Theo đơn vị", result.by_unit)):
        sheet = book[sheet_name]
        header, *rows = list(sheet.iter_rows(values_only=True))
        assert header[:4] == (header[0], "Tiếp nhận", "Đã thụ lý", "Đã giải quyết")
        assert sheet.freeze_panes == "B2" and sheet["B1"].font.bold
        column = {name: i for i, name in enumerate(header)}
        by_label = {r[0]: r for r in rows}
        assert len(rows) == len(groups) + 1 and rows[-1][0] == "Tổng"
        for group in groups:
            row = by_label[group.label]
            assert (row[column["Tiếp nhận"]], row[column["Đã giải quyết"]],
                    row[column["Còn tồn cuối kỳ"]], row[column["Quá hạn cuối kỳ"]]) == (
                group.received, group.resolved, group.open, group.overdue), group.label
            rate = row[column["Giải quyết đúng hạn (%)"]]
            assert rate == ("chưa có" if group.resolve.rate is None
                            else pytest.approx(group.resolve.rate))
        assert sum(r[column["Tiếp nhận"]] for r in rows[:-1]) == EXPECTED["received"]
    kinds = {r[0]: r[1] for r in book["Theo loại đơn"].iter_rows(min_row=2, values_only=True)}
    assert kinds["Tố cáo"] == 1 and kinds["Kiến nghị"] == 1 and kinds["Phản ánh"] == 4


def test_xlsx_ticket_list_has_codes_labels_and_local_dates_never_the_tố_cáo(
        app_env, history, tmp_path):
    book = load_workbook(write(app_env, history, "xlsx", tmp_path))
    header, *rows = list(book["Danh sách đơn"].iter_rows(values_only=True))
    listed = {r[0]: dict(zip(header, r, strict=True)) for r in rows}
    codes = history.codes
    assert history.confidential not in listed
    assert {codes[x] for x in "ABCEF"} <= set(listed)
    first = listed[codes["A"]]
    assert (first["Lĩnh vực"], first["Loại đơn"], first["Trạng thái"]) == (
        "Hạ tầng, giao thông, điện nước", "Phản ánh", "Đã đóng")
    assert first["Ngày tiếp nhận"] == datetime(2026, 3, 2, 9, 0)  # local time, as filed
    assert first["Đơn vị xử lý"] == "Phòng Kinh tế" and first["Địa bàn"] == "Thôn 3"
    assert listed[codes["C"]]["Trạng thái"] == "Đã tiếp nhận"


def test_pdf_reads_back_in_vietnamese_with_the_figures_and_an_embedded_font(
        app_env, history, tmp_path):
    reader = PdfReader(write(app_env, history, "pdf", tmp_path))
    text = "\n".join(page.extract_text() for page in reader.pages)
    for words in ("Báo cáo kết quả tiếp nhận", "Tiếp nhận", "đúng hạn", "Còn tồn cuối kỳ",
                  "Mức độ hài lòng bình quân 5/5", "Theo lĩnh vực", "Theo đơn vị",
                  "Hạ tầng, giao thông, điện nước", "Phòng Kinh tế", "Thôn 3",
                  "đã tiếp nhận 6 phản ánh, kiến nghị", "tỷ lệ thụ lý đúng hạn 80%",
                  "66,7%", "01/03/2026 - 31/03/2026"):
        assert words in text, words
    fonts = set()
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            descendant = font["/DescendantFonts"][0].get_object()
            descriptor = descendant["/FontDescriptor"].get_object()
            assert "/FontFile2" in descriptor  # the TrueType program is in the file
            fonts.add(str(font["/BaseFont"]).split("+")[-1])
    assert fonts == {"DejaVuSansBook", "DejaVuSansBold"}  # DejaVu Sans and its bold face


def test_markdown_has_the_summary_and_a_table_per_breakdown(app_env, history, tmp_path):
    text = write(app_env, history, "md", tmp_path).read_text(encoding="utf-8")
    result = computed(app_env, history)
    assert text.startswith("# Báo cáo kết quả tiếp nhận, giải quyết phản ánh, kiến nghị")
    assert "## Tóm tắt" in text and "đã tiếp nhận 6 phản ánh, kiến nghị (tăng 5 so với kỳ trước)" \
        in text
    for heading in ("## Số liệu chính", "## Theo lĩnh vực", "## Theo loại đơn",
                    "## Theo địa bàn", "## Theo đơn vị"):
        assert heading in text
    assert "| Tiếp nhận | 6 | 1 | +5 |" in text
    assert f"| Tỷ lệ giải quyết đúng hạn | {vn_percent(2 / 3)} |" in text
    for group in result.by_unit:
        assert f"| {group.label} | {vn_number(group.received)} |" in text


def test_no_format_holds_the_tố_cáo_or_a_citizens_name_or_phone(app_env, history, tmp_path):
    secrets = [history.confidential, NAME, PHONE, ACCUSED, "bốc mùi", "nhận tiền"]
    for fmt in ("xlsx", "pdf", "md"):
        out = write(app_env, history, fmt, tmp_path)
        if fmt == "xlsx":
            with zipfile.ZipFile(out) as archive:  # every XML part: cells, strings, properties
                content = "\n".join(archive.read(n).decode("utf-8") for n in archive.namelist()
                                    if n.endswith(".xml"))
        elif fmt == "pdf":
            content = "\n".join(p.extract_text() for p in PdfReader(out).pages)
        else:
            content = out.read_text(encoding="utf-8")
        for secret in secrets:
            assert secret not in content, (fmt, secret)
    # the seeded data is really there to be leaked: the test would see a leak
    with session_scope(app_env) as session:
        texts = session.scalars(select(Ticket.text)).all()
        assert any(NAME in t for t in texts) and any(ACCUSED in t for t in texts)


def test_a_units_report_counts_only_that_unit(app_env, history, tmp_path):
    book = load_workbook(write(app_env, history, "xlsx", tmp_path, unit="xa-an-binh-kinh-te"))
    rows = summary_rows(book)
    assert rows["Tiếp nhận"][0] == 3  # A, B, F
    listed = {r[0] for r in book["Danh sách đơn"].iter_rows(min_row=2, values_only=True)}
    assert listed == {history.codes[x] for x in "ABF"}
    assert next(r[1] for r in book["Tổng hợp"].iter_rows(values_only=True)
                if r[0] == "Phạm vi") == "Phòng Kinh tế"


def test_summary_of_the_seeded_period_reads_like_a_report(app_env, history, tmp_path):
    text = write(app_env, history, "md", tmp_path).read_text(encoding="utf-8")
    for phrase in ("Trong kỳ từ ngày 01/03/2026 đến ngày 31/03/2026",
                   "đã giải quyết, trả lời 2 đơn (tăng 1 so với kỳ trước)",
                   "Tỷ lệ giải quyết đúng hạn 66,7% (2/3 đơn đến hạn",
                   "Đến cuối kỳ còn tồn 3 đơn đang xử lý (tăng 3 so với kỳ trước), trong đó "
                   "2 đơn đã quá hạn", "1 lượt người dân chưa hài lòng",
                   "Số liệu trên đã gồm 1 đơn tố cáo"):
        assert phrase in text, phrase
    assert "None" not in text
