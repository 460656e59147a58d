"""The weekly digest of one scope (a unit and every unit below it) for one ISO week: a short
plain Vietnamese text, a chart PNG and an XLSX workbook, made once and kept in `digests`, so the
desk page, the e-mail and the chat notice of every recipient show the same thing.

No citizen data anywhere: the figures are counts, the overdue list has codes, units and days,
the workbook's ticket list has codes and dates (bot.core.workbook). Confidential tickets are
counted, never listed."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from urllib.parse import parse_qs, quote, urlsplit

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.core import figures
from bot.core.context import CoreContext
from bot.core.figures_model import ClockRate, Figures, OverdueItem, Period, week_of
from bot.settings import load_settings
from bot.store.models import OrgUnit
from bot.store.report_models import Digest

CHART_WEEKS = 8
OVERDUE_LISTED = 5
CHART_NAME, XLSX_NAME, TEXT_NAME = "chart.png", "digest.xlsx", "digest.txt"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
WEEKS_SHEET = "Theo tuần"
CLOCK_LABELS = {"accept": "thụ lý", "resolve": "giải quyết"}
FIRST_YEAR, LAST_YEAR = 2000, 2099


def normalize_week(value: str) -> str:
    """"2026-w49" -> "2026-W49"; ValueError unless it names a real ISO week."""
    text = (value or "").strip().upper()
    year, sep, number = text.partition("-W")
    # Years outside FIRST_YEAR..LAST_YEAR are typing mistakes (and year 1 or 9999 would take
    # the week's dates out of range).
    if not (sep and year.isdigit() and FIRST_YEAR <= int(year) <= LAST_YEAR
            and number.isdigit() and len(number) <= 2):
        raise ValueError(f"not an ISO week: {value!r} (e.g. 2026-W49)")
    return Period.iso_week(text).week_label  # raises ValueError for week 53 of a 52-week year


def week_label(week: str) -> str:
    """"2026-W49" -> "tuần 49/2026"."""
    year, _, number = week.partition("-W")
    return f"tuần {int(number)}/{year}"


def last_complete_week(now: datetime, tz) -> str:
    """The ISO week before the one holding `now` (local time)."""
    return week_of(now.astimezone(tz).date() - timedelta(days=7))


def week_is_over(week: str, now: datetime, tz) -> bool:
    return Period.iso_week(week).bounds(tz)[1] <= now


def digest_path(week: str, unit_code: str) -> str:
    return f"/desk/digests/{week}?unit={quote(unit_code, safe='')}"


def digest_link(week: str, unit_code: str, base_url: str | None = None) -> str:
    base = load_settings().desk_base_url if base_url is None else base_url
    return base.rstrip("/") + digest_path(week, unit_code)


def parse_link(link: str | None) -> tuple[str, str] | None:
    """(week, unit code) of a digest link (absolute or a path), else None."""
    if not link:
        return None
    parts = urlsplit(link)
    head, _, week = parts.path.rstrip("/").rpartition("/")
    units = parse_qs(parts.query).get("unit")
    if not head.endswith("/desk/digests") or not units:
        return None
    try:
        return normalize_week(week), units[0]
    except ValueError:
        return None


# --- the text ---------------------------------------------------------------------------

def _decimal(value: float, digits: int = 1) -> str:
    return f"{value:.{digits}f}".replace(".", ",")


def _percent(rate: float | None) -> str:
    return "chưa có" if rate is None else f"{round(rate * 100)}%"


def _change(now: int, before: int | None) -> str:
    if before is None:
        return ""
    delta = now - before
    sign = "không đổi" if delta == 0 else (f"+{delta}" if delta > 0 else f"−{-delta}")
    return f" (tuần trước: {before}; {sign})"


def _rate_line(name: str, rate: ClockRate, before: ClockRate | None) -> str:
    shown = _percent(rate.rate) + (f" ({rate.on_time}/{rate.due})" if rate.due else "")
    previous = f" (tuần trước: {_percent(before.rate)})" if before is not None else ""
    return f"• {name}: {shown}{previous}"


def _satisfaction_line(data: Figures, before: Figures | None) -> str:
    now = data.satisfaction
    if now.ratings:
        line = f"• Hài lòng: {_decimal(now.average or 0)}/5 ({now.ratings} lượt đánh giá)"
    else:
        line = "• Hài lòng: chưa có đánh giá"
    if before is not None and before.satisfaction.ratings:
        line += f" (tuần trước: {_decimal(before.satisfaction.average or 0)}/5)"
    if now.not_satisfied:
        line += f"; {now.not_satisfied} lượt \"Chưa hài lòng\""
    return line


def digest_text(data: Figures, unit_name: str, overdue: list[OverdueItem],
                confidential_overdue: int, link: str) -> str:
    """The digest as plain text (e-mail body, desk page): headline figures against the
    previous week, the oldest overdue tickets, and the link to the desk page."""
    totals = data.totals
    before = data.previous.totals if data.previous is not None else None
    week = data.period.week_label

    def old(name: str) -> int | None:
        return getattr(before, name) if before is not None else None

    lines = [
        f"Tổng hợp {week_label(week)} ({data.period.label()})",
        f"Phạm vi: {unit_name}",
        "",
        f"• Tiếp nhận: {totals.received} đơn{_change(totals.received, old('received'))}",
        f"• Đã giải quyết: {totals.resolved}{_change(totals.resolved, old('resolved'))}",
        f"• Đang mở cuối tuần: {totals.open}{_change(totals.open, old('open'))}",
        f"• Quá hạn cuối tuần: {totals.overdue}{_change(totals.overdue, old('overdue'))}",
        _rate_line("Thụ lý đúng hạn", totals.accept, before.accept if before else None),
        _rate_line("Giải quyết đúng hạn", totals.resolve, before.resolve if before else None),
        _satisfaction_line(data, data.previous),
        "",
    ]
    if overdue:
        lines.append(f"Đơn quá hạn lâu nhất ({len(overdue)}):")
        lines += [f"{i}. {item.code} – {item.unit} – quá hạn "
                  f"{CLOCK_LABELS.get(item.clock, item.clock)} {item.days_late} ngày"
                  for i, item in enumerate(overdue, 1)]
    elif not confidential_overdue:
        lines.append("Không có đơn quá hạn.")
    if confidential_overdue:
        lines.append(f"Ngoài ra có {confidential_overdue} đơn bảo mật (tố cáo) quá hạn, "
                     "không liệt kê trong bản tổng hợp.")
    lines += ["", f"Xem chi tiết, biểu đồ và bảng tính: {link}"]
    return "\n".join(lines)


def notice_text(digest: Digest, unit_name: str, link: str) -> str:
    """The short notice (desk list, push, chat): a few figures and the link, no files."""
    totals = (digest.figures or {}).get("totals", {})
    return (f"Tổng hợp {week_label(digest.week)} – {unit_name}: tiếp nhận "
            f"{totals.get('received', 0)}, đã giải quyết {totals.get('resolved', 0)}, quá hạn "
            f"{totals.get('overdue', 0)}. Xem chi tiết: {link}")


# --- making and keeping ---------------------------------------------------------------------

@dataclass
class Content:
    text: str
    figures: dict
    chart_png: bytes
    xlsx: bytes


def build(session: Session, week: str, unit: OrgUnit, ctx: CoreContext, now: datetime,
          base_url: str | None = None) -> Content:
    """Compute the digest of `unit` (and every unit below it) for `week`, figures as at the
    end of the week (or now, if earlier)."""
    # imported here: matplotlib and openpyxl load only in the process that draws a digest
    from bot.core import charts, workbook

    week = normalize_week(week)
    period = Period.iso_week(week)
    scope = figures.scope_for(session, unit_id=unit.id)
    data = figures.compute(session, scope, period, ctx, now=now)
    at = min(period.bounds(ctx.tz)[1], now)
    overdue, confidential_overdue = figures.overdue_tickets(session, scope, at,
                                                            limit=OVERDUE_LISTED)
    points = figures.weekly_series(session, scope, week, CHART_WEEKS, ctx, now=now)
    rows = figures.ticket_rows(session, scope, period, ctx)
    link = digest_link(week, unit.code, base_url)
    named = f"{unit.name} và các đơn vị trực thuộc" if unit.children else unit.name
    text = digest_text(data, named, overdue, confidential_overdue, link)
    chart = charts.weekly_chart_png(points, f"{CHART_WEEKS} tuần đến {week_label(week)} · "
                                            f"{unit.name}")
    stored = data.as_dict()
    stored["digest"] = {"overdue": [_overdue_dict(item) for item in overdue],
                        "confidential_overdue": confidential_overdue,
                        "weeks": [asdict(point) for point in points]}
    weekly = [["Tuần", "Từ ngày", "Tiếp nhận", "Đã giải quyết", "Đến hạn giải quyết",
               "Giải quyết đúng hạn", "Tỷ lệ đúng hạn (%)"]]
    weekly += [[p.week, Period.iso_week(p.week).start.strftime("%d/%m/%Y"), p.received,
                p.resolved, p.resolve.due, p.resolve.on_time,
                round(p.resolve.rate * 100, 1) if p.resolve.rate is not None else ""]
               for p in points]
    xlsx = workbook.figures_workbook(data, rows, {WEEKS_SHEET: weekly}, tz=ctx.tz)
    return Content(text, stored, chart, xlsx)


def _overdue_dict(item: OverdueItem) -> dict:
    return {"code": item.code, "unit": item.unit, "clock": item.clock,
            "due_at": item.due_at.isoformat(), "days_late": item.days_late}


def stored(session: Session, week: str, unit_id: int) -> Digest | None:
    return session.scalar(select(Digest).where(Digest.week == week, Digest.unit_id == unit_id))


def get_or_make(session: Session, week: str, unit: OrgUnit, ctx: CoreContext, now: datetime,
                base_url: str | None = None) -> Digest:
    """The stored digest of (week, unit), made now if there is none. A week not over yet is
    built but not stored (its figures still change), so the returned row may be transient."""
    week = normalize_week(week)
    found = stored(session, week, unit.id)
    if found is not None:
        return found
    content = build(session, week, unit, ctx, now, base_url)
    row = Digest(week=week, unit_id=unit.id, generated_at=now, text=content.text,
                 figures=content.figures, chart_png=content.chart_png, xlsx=content.xlsx)
    if not week_is_over(week, now, ctx.tz):
        return row
    try:
        with session.begin_nested():  # another process (the CLI, the desk) may make it too
            session.add(row)
    except IntegrityError:
        return stored(session, week, unit.id)
    return row


def unit_by_code(session: Session, code: str) -> OrgUnit | None:
    return session.scalar(select(OrgUnit).where(OrgUnit.code == code))


def top_units(session: Session) -> list[OrgUnit]:
    """Units with no parent: the default scope of `nghedan digest`."""
    return list(session.scalars(select(OrgUnit).where(OrgUnit.parent_id.is_(None),
                                                      OrgUnit.active).order_by(OrgUnit.code)))


def email_parts(session: Session, link: str | None) -> tuple[str, str, list[tuple[str, str,
                                                                                bytes]]] | None:
    """For a digest notice's e-mail: (subject, body, [(file name, MIME type, bytes)]), from
    the stored digest its link names; None when there is none."""
    named = parse_link(link)
    if named is None:
        return None
    unit = unit_by_code(session, named[1])
    row = stored(session, named[0], unit.id) if unit is not None else None
    if row is None:
        return None
    subject = f"Tổng hợp {week_label(row.week)} – {unit.name}"
    return subject, row.text, [(CHART_NAME, "image/png", row.chart_png),
                               (XLSX_NAME, XLSX_TYPE, row.xlsx)]
