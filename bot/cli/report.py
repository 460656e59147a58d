"""`nghedan report`: the figures of any period as XLSX, PDF or Markdown, with the written summary
a commune pastes into its yearly report. A wrong option gets one polite Vietnamese line and exit
code 2 (as a usage error), never a traceback."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import typer

FORMAT_NAMES = {"xlsx": "bảng tính XLSX", "pdf": "PDF", "md": "Markdown"}


def _usage_error(message: str) -> None:
    typer.echo(message, err=True)
    raise typer.Exit(2)


def parse_day(text: str, option: str) -> date:
    """2026-10-15 or 15/10/2026."""
    for pattern in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return datetime.strptime(text.strip(), pattern).date()
        except ValueError:
            continue
    _usage_error(f"Ngày {option} không hợp lệ: \"{text}\". Vui lòng ghi theo dạng "
                 "2026-10-15 (năm-tháng-ngày) hoặc 15/10/2026.")
    raise AssertionError  # unreachable: _usage_error exits


def report_command(
    start: Annotated[str | None, typer.Option(
        "--from", help="First day of the period (2025-10-16 or 16/10/2025).")] = None,
    end: Annotated[str | None, typer.Option(
        "--to", help="Last day of the period, included.")] = None,
    unit: Annotated[str | None, typer.Option(
        "--unit", help="Unit code: that unit and every unit below it (default: all).")] = None,
    fmt: Annotated[str | None, typer.Option(
        "--format", help="xlsx, pdf or md.")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="The file to write.")] = None,
) -> None:
    """Write a report of the figures of a period (received, resolved, on time, open, overdue,
    satisfaction, by category/kind/area/unit, change against the previous period) with a
    written Vietnamese summary. Confidential tickets are counted, never listed."""
    missing = [name for name, value in (("--from", start), ("--to", end), ("--format", fmt),
                                        ("--out", out)) if value is None]
    if missing:
        _usage_error(f"Thiếu tùy chọn {', '.join(missing)}. Ví dụ: nghedan report --from "
                     "2025-10-16 --to 2026-10-15 --format pdf --out bao-cao.pdf")
    first, last = parse_day(start, "--from"), parse_day(end, "--to")
    if last < first:
        _usage_error(f"Ngày bắt đầu ({first:%d/%m/%Y}) sau ngày kết thúc ({last:%d/%m/%Y}). "
                     "Vui lòng kiểm tra lại --from và --to.")
    fmt = fmt.strip().lower()
    if fmt not in FORMAT_NAMES:
        _usage_error(f"Không hỗ trợ định dạng \"{fmt}\". Vui lòng chọn một trong: xlsx, pdf, md.")
    if out.is_dir():
        example = out / f"bao-cao.{fmt}"
        _usage_error(f"{out} là một thư mục. Vui lòng ghi tên tệp, ví dụ {example}.")
    _write(first, last, unit, fmt, out)


def _write(first: date, last: date, unit: str | None, fmt: str, out: Path) -> None:
    from bot.cli.admin import admin_session
    from bot.cli.main import settings
    from bot.core.context import context_from_settings
    from bot.core.figures import scope_for
    from bot.core.figures_model import Period
    from bot.core.report import write_report

    loaded = settings()
    ctx = context_from_settings(settings=loaded)
    period = Period(first, last)
    with admin_session() as session:
        try:
            scope = scope_for(session, unit_code=unit)
        except LookupError:
            _usage_error(f"Không có đơn vị mã \"{unit}\". Xem danh sách đơn vị bằng lệnh "
                         "`nghedan org export`.")
        try:
            written = write_report(session, scope, period, ctx, fmt, out)
        except OSError as error:
            typer.echo(f"Không ghi được tệp {out}: {error.strerror or error}.", err=True)
            raise typer.Exit(1) from None
    typer.echo(f"Đã ghi báo cáo {FORMAT_NAMES[fmt]} kỳ {period.label()} ({scope.name}) "
               f"vào tệp: {written.resolve()}")
