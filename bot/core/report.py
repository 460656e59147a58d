"""Reports for any period (`nghedan report`): the figures of bot.core.figures with the written
summary of bot.core.report_text, as Markdown, XLSX (bot.core.workbook) or PDF (fpdf2).

The PDF embeds DejaVu Sans, shipped with matplotlib, because the PDF core fonts have no
Vietnamese glyphs. No format lists a ticket's text or a citizen; the XLSX ticket list comes from
figures.ticket_rows, which leaves confidential tickets out."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import matplotlib
from fpdf import FPDF
from fpdf.fonts import FontFace
from sqlalchemy.orm import Session

from bot.core import figures as figures_core
from bot.core.context import CoreContext
from bot.core.figures_model import Counts, Figures, Period, Scope, TicketRow, week_of
from bot.core.report_text import figure_lines, summary_text, vn_number, vn_percent
from bot.core.workbook import BREAKDOWNS, figures_workbook, local

FORMATS = ("xlsx", "pdf", "md")
FONT_DIR = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
FONT, FONT_BOLD = FONT_DIR / "DejaVuSans.ttf", FONT_DIR / "DejaVuSans-Bold.ttf"
CHART_WEEKS = 8  # the digest's chart: the last weeks of the period

# (header, getter, is a rate) of the breakdown tables in Markdown and PDF
BREAKDOWN_COLUMNS: tuple[tuple[str, Callable[[Counts], float | int | None], bool], ...] = (
    ("Tiếp nhận", lambda c: c.received, False),
    ("Đã thụ lý", lambda c: c.accepted, False),
    ("Đã giải quyết", lambda c: c.resolved, False),
    ("Còn tồn", lambda c: c.open, False),
    ("Quá hạn", lambda c: c.overdue, False),
    ("Thụ lý đúng hạn", lambda c: c.accept.rate, True),
    ("Giải quyết đúng hạn", lambda c: c.resolve.rate, True),
)
# Markdown has room for every count
MD_EXTRA_COLUMNS = (
    ("Không thụ lý", lambda c: c.rejected, False),
    ("Chuyển cơ quan khác", lambda c: c.transferred, False),
    ("Rút đơn", lambda c: c.withdrawn, False),
)


@dataclass
class ReportData:
    figures: Figures
    summary: str
    rows: list[TicketRow] = field(default_factory=list)
    charts: list[tuple[str, bytes]] = field(default_factory=list)  # (caption, PNG)


TITLE = "Báo cáo kết quả tiếp nhận, giải quyết phản ánh, kiến nghị"


def subtitle(figures: Figures) -> str:
    return f"{figures.scope.name} - kỳ báo cáo {figures.period.label()}"


def generated_line(figures: Figures, ctx: CoreContext) -> str:
    return f"Lập lúc {local(figures.generated_at, ctx.tz):%H:%M ngày %d/%m/%Y} (giờ Việt Nam)"


def _cell(value: float | int | None, rate: bool) -> str:
    return vn_percent(value) if rate else vn_number(value)


def _groups(figures: Figures) -> list[tuple[str, str, list[Counts]]]:
    """(sheet title, first column, groups) of every breakdown."""
    return [(title_, first, getattr(figures, attribute))
            for attribute, title_, first in BREAKDOWNS]


# -- Markdown ------------------------------------------------------------------------------

def _md_row(cells: list[str]) -> str:
    return "| " + " | ".join(c.replace("|", "/").replace("\n", " ") for c in cells) + " |"


def report_markdown(data: ReportData, ctx: CoreContext) -> str:
    figures = data.figures
    previous = figures.previous.period.label() if figures.previous else "chưa có"
    out = [f"# {TITLE}", "", f"**{subtitle(figures)}**", "",
           f"_{generated_line(figures, ctx)}. Kỳ trước để so sánh: {previous}._", "",
           "## Tóm tắt", "", data.summary, "", "## Số liệu chính", "",
           _md_row(["Chỉ tiêu", "Kỳ này", "Kỳ trước", "Thay đổi", "Ghi chú"]),
           "|---|---:|---:|---:|---|"]
    for line in figure_lines(figures):
        out.append(_md_row([line.label, line.text(), line.previous_text(), line.change_text(),
                            line.note]))
    columns = BREAKDOWN_COLUMNS[:3] + MD_EXTRA_COLUMNS + BREAKDOWN_COLUMNS[3:]
    for heading, first, groups in _groups(figures):
        out += ["", f"## {heading}", "", _md_row([first] + [c[0] for c in columns]),
                "|---" + "|---:" * len(columns) + "|"]
        for counts in [*groups, figures.totals]:
            label = "**Tổng**" if counts is figures.totals else counts.label
            out.append(_md_row([label] + [_cell(get(counts), rate) for _, get, rate in columns]))
    out += ["", "_Đơn tố cáo và đơn cần bảo mật được tính vào số liệu, không liệt kê. Báo cáo "
            "không chứa thông tin cá nhân của người dân._", ""]
    return "\n".join(out)


# -- PDF -----------------------------------------------------------------------------------

class _ReportPDF(FPDF):
    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("DejaVu", size=8)
        self.cell(0, 8, f"Trang {self.page_no()}/{{nb}}", align="C")


def report_pdf(data: ReportData, ctx: CoreContext) -> bytes:
    figures = data.figures
    pdf = _ReportPDF(format="A4")
    pdf.add_font("DejaVu", "", str(FONT))
    pdf.add_font("DejaVu", "B", str(FONT_BOLD))
    pdf.set_title(TITLE)
    pdf.set_author("Nghe Dân")
    pdf.set_creation_date(figures.generated_at)
    pdf.set_margins(12, 12, 12)
    pdf.set_auto_page_break(True, margin=16)
    pdf.add_page()
    pdf.set_font("DejaVu", "B", 14)
    pdf.multi_cell(0, 7, TITLE, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "", 10)
    pdf.multi_cell(0, 6, subtitle(figures), align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "", 8)
    pdf.multi_cell(0, 5, generated_line(figures, ctx), align="C", new_x="LMARGIN", new_y="NEXT")
    _heading(pdf, "Tóm tắt")
    pdf.set_font("DejaVu", "", 10)
    for paragraph in data.summary.split("\n\n"):
        pdf.multi_cell(0, 5.2, paragraph, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(1.5)
    _heading(pdf, "Số liệu chính")
    rows = [["Chỉ tiêu", "Kỳ này", "Kỳ trước", "Thay đổi"]]
    rows += [[line.label, line.text(), line.previous_text(), line.change_text()]
             for line in figure_lines(figures)]
    _table(pdf, rows, (84, 30, 38, 34))
    for heading, first, groups in _groups(figures):
        _heading(pdf, heading)
        rows = [[first] + [c[0] for c in BREAKDOWN_COLUMNS]]
        rows += [[("Tổng" if c is figures.totals else c.label)]
                 + [_cell(get(c), rate) for _, get, rate in BREAKDOWN_COLUMNS]
                 for c in [*groups, figures.totals]]
        _table(pdf, rows, (60,) + (18,) * len(BREAKDOWN_COLUMNS), size=8)
    if data.charts:
        _heading(pdf, "Biểu đồ")
    for _, png in data.charts:  # each chart has its title drawn in it
        if pdf.get_y() > pdf.h - 115:  # about one chart's height at the page's width
            pdf.add_page()
        pdf.image(io.BytesIO(png), w=pdf.epw)
        pdf.ln(4)
    pdf.ln(3)
    pdf.set_font("DejaVu", "", 8)
    pdf.multi_cell(0, 4.5, "Đơn tố cáo và đơn cần bảo mật được tính vào số liệu, không liệt "
                   "kê. Báo cáo không chứa thông tin cá nhân của người dân.",
                   new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def _heading(pdf: FPDF, text: str) -> None:
    if pdf.get_y() > pdf.h - 40:  # a heading never ends a page alone
        pdf.add_page()
    pdf.ln(3)
    pdf.set_font("DejaVu", "B", 11)
    pdf.multi_cell(0, 6, text, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(1)


def _table(pdf: FPDF, rows: list[list[str]], widths: tuple[float, ...], size: int = 9) -> None:
    pdf.set_font("DejaVu", "", size)
    with pdf.table(col_widths=widths, width=sum(widths), text_align="LEFT", line_height=4.6,
                   headings_style=FontFace(emphasis="BOLD", fill_color=(221, 235, 247)),
                   padding=1) as table:
        for index, values in enumerate(rows):
            row = table.row()
            for column, value in enumerate(values):
                # numbers right-aligned, as in the workbook
                row.cell(value, align="RIGHT" if column and index else "LEFT")
    pdf.ln(2)


# -- building and writing --------------------------------------------------------------------

def _charts(session: Session, scope: Scope, figures: Figures, ctx: CoreContext,
            now: datetime | None) -> list[tuple[str, bytes]]:
    """The digest's charts (bot.core.charts, owned by the digest) when that module is there."""
    try:
        from bot.core import charts
    except ImportError:
        return []
    today = local(now or ctx.clock(), ctx.tz).date()
    last = week_of(min(figures.period.end, today))
    points = figures_core.weekly_series(session, scope, last, CHART_WEEKS, ctx, now=now)
    caption = f"Tiếp nhận và giải quyết theo tuần ({CHART_WEEKS} tuần cuối kỳ)"
    return [(caption, charts.weekly_chart_png(points, caption)),
            ("Theo đơn vị hoặc lĩnh vực", charts.figures_chart_png(figures))]


def build_report(session: Session, scope: Scope, period: Period, ctx: CoreContext, fmt: str,
                 now: datetime | None = None) -> ReportData:
    figures = figures_core.compute(session, scope, period, ctx, now=now)
    data = ReportData(figures, summary_text(figures))
    if fmt == "xlsx":
        data.rows = figures_core.ticket_rows(session, scope, period, ctx)
    if fmt == "pdf":
        data.charts = _charts(session, scope, figures, ctx, now)
    return data


def render(data: ReportData, ctx: CoreContext, fmt: str) -> bytes:
    if fmt == "md":
        return report_markdown(data, ctx).encode("utf-8")
    if fmt == "pdf":
        return report_pdf(data, ctx)
    if fmt == "xlsx":
        return figures_workbook(data.figures, data.rows, summary=data.summary, tz=ctx.tz)
    raise ValueError(f"unknown report format {fmt!r}")


def write_report(session: Session, scope: Scope, period: Period, ctx: CoreContext, fmt: str,
                 out: Path, now: datetime | None = None) -> Path:
    """Compute the figures and write the report as `fmt` (xlsx | pdf | md) to `out`."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown report format {fmt!r}")
    content = render(build_report(session, scope, period, ctx, fmt, now), ctx, fmt)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    temporary = out.with_name(out.name + ".tmp")
    temporary.write_bytes(content)
    temporary.replace(out)  # a reader never sees half a report
    return out
