"""`nghedan digest`: write a weekly digest's files (digest.txt, chart.png, digest.xlsx) and,
with --send, make that week's notices the scheduler would make (same dedupe keys, so the job
and the command together still send each digest once).

Defaults: the week is the last complete ISO week (local time); the unit is the top unit (the
one without a parent). With several top units, each one's files go to DIR/<unit code>/. A week
that is not over yet is computed as it stands, not stored, and cannot be sent."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

HELP_WEEK = "ISO week, e.g. 2026-W49 (default: the last complete week)."
HELP_UNIT = "Unit code: that unit and every unit below it (default: the top unit)."


def digest_command(
        out: Annotated[Path, typer.Option("--out", help="Directory for the files.",
                                          file_okay=False)],
        week: Annotated[str | None, typer.Option("--week", help=HELP_WEEK)] = None,
        unit: Annotated[str | None, typer.Option("--unit", help=HELP_UNIT)] = None,
        send: Annotated[bool, typer.Option(
            "--send", help="Also notify that week's leaders and unit heads (desk, e-mail, "
                           "chat); sending twice sends once.")] = False,
) -> None:
    """Write the weekly digest (digest.txt, chart.png, digest.xlsx) without sending it;
    --send also sends it to its recipients."""
    from bot.cli.admin import _db_url, _fail, require_migrated
    from bot.core import digest as digests
    from bot.core.context import context_from_settings
    from bot.jobs.digests import send_week
    from bot.settings import load_settings
    from bot.store.db import session_scope

    settings = load_settings()
    ctx = context_from_settings(settings=settings)
    now = ctx.clock()
    try:
        chosen = digests.normalize_week(week) if week else digests.last_complete_week(
            now, settings.tz)
    except ValueError:
        _fail(f"Tuần không hợp lệ: {week} (ví dụ 2026-W49).")
    over = digests.week_is_over(chosen, now, settings.tz)
    if send and not over:
        _fail(f"{digests.week_label(chosen).capitalize()} chưa kết thúc: chưa gửi được.")
    url = _db_url()
    require_migrated(url)
    written: list[tuple[Path, str, str, bytes, bytes]] = []
    sent = None
    with session_scope(url) as session:
        if unit:
            found = digests.unit_by_code(session, unit)
            if found is None:
                _fail(f"Không có đơn vị mã {unit}.")
            units, folders = [found], [out]
        else:
            units = digests.top_units(session)
            if not units:
                _fail("Chưa có đơn vị nào: nạp cơ cấu tổ chức trước (nghedan org import).")
            folders = [out] if len(units) == 1 else [out / u.code for u in units]
        for folder, item in zip(folders, units, strict=True):
            row = digests.get_or_make(session, chosen, item, ctx, now, settings.desk_base_url)
            written.append((folder, item.name, row.text, row.chart_png, row.xlsx))
        if send:
            sent = send_week(session, chosen, ctx, now, unit_code=unit)
    for folder, name, text, chart, xlsx in written:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / digests.TEXT_NAME).write_text(text + "\n", encoding="utf-8")
        (folder / digests.CHART_NAME).write_bytes(chart)
        (folder / digests.XLSX_NAME).write_bytes(xlsx)
        typer.echo(f"Đã ghi tổng hợp {digests.week_label(chosen)} của {name}: {folder}/"
                   f"{{{digests.TEXT_NAME}, {digests.CHART_NAME}, {digests.XLSX_NAME}}}")
    if not over:
        typer.echo("Lưu ý: tuần chưa kết thúc, số liệu là tạm tính và chưa được lưu.")
    if sent is not None:
        typer.echo(f"Đã lập thông báo cho {sent['notices']} người nhận (mỗi người một lần; "
                   "thư và tin nhắn được gửi bởi tiến trình nghedan serve).")
