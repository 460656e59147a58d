"""The figures as an XLSX workbook (openpyxl), shared by the weekly digest, the reports and the
dashboard export: a summary sheet, one sheet per breakdown, and the ticket list.

Numbers are written as numbers (rates as shares with a percent format, dates as local dates
with a date format) so a leader can sort and sum them in a spreadsheet. The ticket list holds
codes, labels and dates only: no citizen data, and never a confidential ticket."""

from __future__ import annotations

import io
from datetime import datetime
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from bot.core.figures_model import Counts, Figures, TicketRow
from bot.core.report_text import figure_lines
from bot.core.taxonomy import CATEGORY_LABELS, KIND_LABELS, STATUS_LABELS, Kind

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
SUMMARY = "Tổng hợp"
TICKETS = "Danh sách đơn"
# (Figures attribute, sheet title, first column's header) of every breakdown
BREAKDOWNS = (("by_category", "Theo lĩnh vực", "Lĩnh vực"),
              ("by_kind", "Theo loại đơn", "Loại đơn"),
              ("by_area", "Theo địa bàn", "Địa bàn"),
              ("by_unit", "Theo đơn vị", "Đơn vị"))
TITLE = "Số liệu tiếp nhận, giải quyết phản ánh, kiến nghị"

INTEGER = "#,##0"
PERCENT = "0.0%"
DECIMAL = "0.0"
AVERAGE = "0.00"
SIGNED = "+#,##0;-#,##0;0"
SIGNED_DECIMAL = "+0.0;-0.0;0"
SIGNED_AVERAGE = "+0.00;-0.00;0"
SIGNED_POINTS = '+0.0" điểm %";-0.0" điểm %";0" điểm %"'
DATE_TIME = "dd/mm/yyyy hh:mm"
BOLD = Font(bold=True)
HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
WRAP = Alignment(wrap_text=True, vertical="top")

# (header, Counts getter, number format, width) of every breakdown sheet's columns
COUNT_COLUMNS = (
    ("Tiếp nhận", lambda c: c.received, INTEGER, 11),
    ("Đã thụ lý", lambda c: c.accepted, INTEGER, 11),
    ("Đã giải quyết", lambda c: c.resolved, INTEGER, 13),
    ("Không thụ lý", lambda c: c.rejected, INTEGER, 12),
    ("Chuyển cơ quan khác", lambda c: c.transferred, INTEGER, 13),
    ("Rút đơn", lambda c: c.withdrawn, INTEGER, 9),
    ("Còn tồn cuối kỳ", lambda c: c.open, INTEGER, 12),
    ("Quá hạn cuối kỳ", lambda c: c.overdue, INTEGER, 12),
    ("Đến hạn thụ lý", lambda c: c.accept.due, INTEGER, 12),
    ("Thụ lý đúng hạn (%)", lambda c: c.accept.rate, PERCENT, 13),
    ("Đến hạn giải quyết", lambda c: c.resolve.due, INTEGER, 12),
    ("Giải quyết đúng hạn (%)", lambda c: c.resolve.rate, PERCENT, 13),
)


def local(moment: datetime | None, tz: ZoneInfo = TZ) -> datetime | None:
    """A stored UTC moment as a naive local datetime (Excel has no time zones)."""
    if moment is None:
        return None
    if moment.tzinfo is None:  # SQLite hands back naive UTC
        moment = moment.replace(tzinfo=ZoneInfo("UTC"))
    return moment.astimezone(tz).replace(tzinfo=None)


def _header(sheet: Worksheet, row: int, titles: list[str]) -> None:
    for column, title in enumerate(titles, 1):
        cell = sheet.cell(row, column, title)
        cell.font = BOLD
        cell.fill = HEADER_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="center")


def _widths(sheet: Worksheet, widths: list[int]) -> None:
    for column, width in enumerate(widths, 1):
        sheet.column_dimensions[get_column_letter(column)].width = width


def _label(labels: dict, key: str) -> str:
    """A taxonomy key's Vietnamese label (a label given already is kept)."""
    for code, label in labels.items():
        if code.value == key:
            return label
    return key


def _summary(sheet: Worksheet, figures: Figures, summary: str | None, tz: ZoneInfo) -> None:
    sheet["A1"] = TITLE
    sheet["A1"].font = Font(bold=True, size=14)
    previous = figures.previous
    meta = [("Kỳ báo cáo", figures.period.label()),
            ("Phạm vi", figures.scope.name),
            ("Kỳ trước (so sánh)", previous.period.label() if previous else "chưa có"),
            ("Thời điểm lập (giờ Việt Nam)", local(figures.generated_at, tz))]
    row = 3
    for label, value in meta:
        sheet.cell(row, 1, label).font = BOLD
        cell = sheet.cell(row, 2, value)
        if isinstance(value, datetime):
            cell.number_format = DATE_TIME
            cell.alignment = Alignment(horizontal="left")
        row += 1
    if summary:
        row += 1
        sheet.cell(row, 1, "Tóm tắt").font = BOLD
        row += 1
        for paragraph in summary.split("\n\n"):
            sheet.merge_cells(start_row=row, end_row=row, start_column=1, end_column=5)
            cell = sheet.cell(row, 1, paragraph)
            cell.alignment = WRAP
            # merged cells do not grow by themselves: about 95 characters per line at these widths
            sheet.row_dimensions[row].height = 15 * (len(paragraph) // 95 + 1)
            row += 1
    row += 1
    _header(sheet, row, ["Chỉ tiêu", "Kỳ này", "Kỳ trước", "Thay đổi", "Ghi chú"])
    sheet.freeze_panes = sheet.cell(row + 1, 1)
    formats = {"count": (INTEGER, SIGNED), "rate": (PERCENT, SIGNED_POINTS),
               "days": (DECIMAL, SIGNED_DECIMAL), "average": (AVERAGE, SIGNED_AVERAGE)}
    for line in figure_lines(figures):
        row += 1
        value_format, change_format = formats[line.kind]
        sheet.cell(row, 1, line.label)
        for column, value in ((2, line.value), (3, line.previous)):
            cell = sheet.cell(row, column, "chưa có" if value is None else value)
            cell.number_format = value_format
            cell.alignment = Alignment(horizontal="right")
        change = line.change
        if change is not None:
            cell = sheet.cell(row, 4, round(change * 100, 6) if line.kind == "rate" else change)
            cell.number_format = change_format
        sheet.cell(row, 5, line.note)
    _widths(sheet, [48, 16, 16, 16, 44])


def _breakdown(sheet: Worksheet, groups: list[Counts], totals: Counts, first: str) -> None:
    _header(sheet, 1, [first] + [c[0] for c in COUNT_COLUMNS])
    sheet.freeze_panes = "B2"
    sheet.row_dimensions[1].height = 45
    for row, counts in enumerate([*groups, totals], 2):
        is_total = counts is totals
        sheet.cell(row, 1, "Tổng" if is_total else counts.label).font = Font(bold=is_total)
        for column, (_, get, number_format, _) in enumerate(COUNT_COLUMNS, 2):
            value = get(counts)
            cell = sheet.cell(row, column, "chưa có" if value is None else value)
            cell.number_format = number_format
            cell.font = Font(bold=is_total)
    label_width = max([len(first), *(len(c.label) for c in groups)]) + 2
    _widths(sheet, [min(max(label_width, 16), 48)] + [c[3] for c in COUNT_COLUMNS])


TICKET_COLUMNS = (("Mã đơn", 16), ("Lĩnh vực", 30), ("Loại đơn", 12), ("Trạng thái", 24),
                  ("Đơn vị xử lý", 30), ("Địa bàn", 20), ("Ngày tiếp nhận", 17),
                  ("Ngày thụ lý", 17), ("Ngày giải quyết", 17), ("Hạn thụ lý", 17),
                  ("Hạn giải quyết", 17), ("Giải quyết đúng hạn", 12))


def _tickets(sheet: Worksheet, rows: list[TicketRow], tz: ZoneInfo) -> None:
    _header(sheet, 1, [c[0] for c in TICKET_COLUMNS])
    sheet.freeze_panes = "B2"
    sheet.row_dimensions[1].height = 30
    row = 1
    for ticket in rows:
        if ticket.kind == Kind.TO_CAO.value:
            continue  # every tố cáo is confidential: counted in the figures, never listed
        row += 1
        on_time = {True: "Đúng hạn", False: "Trễ hạn", None: ""}[ticket.on_time]
        values = [ticket.code, _label(CATEGORY_LABELS, ticket.category),
                  _label(KIND_LABELS, ticket.kind), _label(STATUS_LABELS, ticket.status),
                  ticket.unit, ticket.area]
        values += [local(m, tz) for m in (ticket.received_at, ticket.accepted_at,
                                          ticket.resolved_at, ticket.accept_due_at,
                                          ticket.resolve_due_at)]
        for column, value in enumerate([*values, on_time], 1):
            cell = sheet.cell(row, column, value)
            if isinstance(value, datetime):
                cell.number_format = DATE_TIME
    if row > 1:
        sheet.auto_filter.ref = f"A1:{get_column_letter(len(TICKET_COLUMNS))}{row}"
    _widths(sheet, [c[1] for c in TICKET_COLUMNS])


def _extra(sheet: Worksheet, rows: list[list]) -> None:
    for values in rows:
        sheet.append(values)
    if rows:
        for cell in sheet[1]:
            cell.font = BOLD
        sheet.freeze_panes = "A2"
        for column in range(1, max(len(r) for r in rows) + 1):
            longest = max(len(str(r[column - 1])) for r in rows if len(r) >= column)
            sheet.column_dimensions[get_column_letter(column)].width = min(max(longest + 2, 10), 60)


def figures_workbook(figures: Figures, rows: list[TicketRow],
                     extra_sheets: dict[str, list[list]] | None = None, *,
                     summary: str | None = None, tz: ZoneInfo = TZ) -> bytes:
    """The XLSX bytes: "Tổng hợp" (headline figures vs the previous period; `summary`, the
    written text, above them when given), "Theo lĩnh vực", "Theo loại đơn", "Theo địa bàn",
    "Theo đơn vị", "Danh sách đơn" (`rows`: non-confidential tickets), then `extra_sheets`
    (name -> rows, the first row a header)."""
    book = Workbook()
    sheet = book.active
    sheet.title = SUMMARY
    _summary(sheet, figures, summary, tz)
    for attribute, title, first in BREAKDOWNS:
        _breakdown(book.create_sheet(title), getattr(figures, attribute), figures.totals, first)
    _tickets(book.create_sheet(TICKETS), rows, tz)
    for name, extra_rows in (extra_sheets or {}).items():
        _extra(book.create_sheet(name[:31]), extra_rows)  # Excel's limit on sheet names
    book.properties.title = f"{TITLE} {figures.period.label()}"
    book.properties.creator = "Nghe Dân"
    book.properties.created = local(figures.generated_at, ZoneInfo("UTC"))
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()



