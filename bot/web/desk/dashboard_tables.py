"""The dashboard's content as plain rows of text, built once from a Figures object: the page
renders these rows and the CSV export writes the same rows, so the export is exactly what is
shown. Confidential tickets appear only inside counts (never a code, unit or text of one)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.core.figures_model import (
    ClockRate,
    Counts,
    Durations,
    Figures,
    OverdueItem,
    Period,
    WeekPoint,
)

DASH = "–"
CLOCK_LABELS = {"accept": "Thụ lý", "resolve": "Giải quyết"}
UNIT_LABELS = {"working_days": "ngày làm việc", "calendar_days": "ngày"}


def number(value: float | int | None, digits: int = 1) -> str:
    """Vietnamese style: 1.234 and 4,2."""
    if value is None:
        return DASH
    if isinstance(value, int) or float(value).is_integer():
        return f"{int(value):,}".replace(",", ".")
    return f"{value:,.{digits}f}".replace(",", " ").replace(".", ",").replace(" ", ".")


def percent(value: float | None) -> str:
    return DASH if value is None else f"{int(value * 100 + 0.5)}%"  # half up, like people do


def rate(clock: ClockRate) -> str:
    """"85% (17/20)": the share and what it is of."""
    return DASH if clock.rate is None else f"{percent(clock.rate)} ({clock.on_time}/{clock.due})"


def signed(value: float | None, suffix: str = "") -> str:
    if value is None:
        return ""
    if round(value, 1) == 0:
        return "không đổi"
    sign = "+" if value > 0 else "−"
    return f"{sign}{number(abs(value))}{suffix}"


def change(now: float | None, before: float | None, points: bool = False) -> str:
    """Against the previous period: "+3", "−2", "+5 điểm %" for shares; "" when unknown."""
    if now is None or before is None:
        return ""
    if points:
        return signed(round((now - before) * 100), " điểm %")
    return signed(now - before)


@dataclass
class Card:
    key: str
    label: str
    value: str
    change: str = ""
    hint: str = ""
    tone: str = ""  # good | bad | "" (whether the change is welcome)


@dataclass
class Section:
    key: str
    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    note: str = ""
    empty: str = "Không có số liệu trong kỳ này."
    collapsed: bool = False  # shown folded (a long table that repeats a chart)

    @property
    def wide(self) -> bool:
        return len(self.columns) > 2


def _tone(now: float | None, before: float | None, higher_is_good: bool) -> str:
    if now is None or before is None or round(now - before, 3) == 0:
        return ""
    return "good" if (now > before) == higher_is_good else "bad"


def cards(figures: Figures) -> list[Card]:
    """The headline figures, each with its change against the previous period."""
    t, p = figures.totals, figures.previous
    pt = p.totals if p else None

    def count(key: str, label: str, higher_is_good: bool | None) -> Card:
        now, before = getattr(t, key), getattr(pt, key) if pt else None
        return Card(key, label, number(now), change(now, before),
                    tone="" if higher_is_good is None else _tone(now, before, higher_is_good))

    def share(key: str, label: str, clock: ClockRate, old: ClockRate | None) -> Card:
        before = old.rate if old else None
        hint = f"{clock.on_time}/{clock.due} đến hạn" if clock.due else "chưa có đơn đến hạn"
        return Card(key, label, percent(clock.rate), change(clock.rate, before, True), hint,
                    _tone(clock.rate, before, True))

    sat, old_sat = figures.satisfaction, p.satisfaction if p else None
    average = Card("rating", "Mức hài lòng", f"{number(sat.average)}/5" if sat.average else DASH,
                   change(sat.average, old_sat.average if old_sat else None),
                   f"{sat.ratings} lượt đánh giá",
                   _tone(sat.average, old_sat.average if old_sat else None, True))
    direct = figures.without_triage_share
    return [
        count("received", "Tiếp nhận", None),
        count("resolved", "Đã giải quyết", True),
        count("open", "Đang mở cuối kỳ", False),
        count("overdue", "Quá hạn cuối kỳ", False),
        share("accept_rate", "Thụ lý đúng hạn", t.accept, pt.accept if pt else None),
        share("resolve_rate", "Giải quyết đúng hạn", t.resolve, pt.resolve if pt else None),
        average,
        Card("direct", "Chuyển thẳng, không qua phân loại", percent(direct),
             change(direct, p.without_triage_share if p else None, True),
             f"{figures.without_triage}/{t.received} đơn"),
    ]


def _share_of(figures: Figures) -> str:
    share = figures.without_triage_share
    return DASH if share is None else f"{percent(share)} ({figures.without_triage})"


def _summary(figures: Figures) -> Section:
    t, p = figures.totals, figures.previous
    pt = p.totals if p else None
    section = Section("summary", "Tổng hợp", ["Chỉ số", "Kỳ này", "Kỳ trước", "Thay đổi"])

    def add(label: str, now: float | None, before: float | None, shown: str | None = None,
            shown_before: str | None = None, points: bool = False) -> None:
        is_share = points
        fmt = percent if is_share else number
        section.rows.append([label, shown if shown is not None else fmt(now),
                             (shown_before if shown_before is not None else fmt(before))
                             if p else DASH, change(now, before, points)])

    for key, label in (("received", "Tiếp nhận"), ("duplicates", "– trong đó trùng lặp")):
        add(label, getattr(t, key), getattr(pt, key) if pt else None)
    add("– trong đó bảo mật (tố cáo), chỉ thống kê", figures.confidential_received,
        p.confidential_received if p else None)
    for key, label in (("accepted", "Đã thụ lý"), ("resolved", "Đã giải quyết"),
                       ("rejected", "Không thụ lý"), ("transferred", "Chuyển cơ quan khác"),
                       ("withdrawn", "Người dân rút đơn"), ("open", "Đang mở cuối kỳ"),
                       ("overdue", "Quá hạn cuối kỳ")):
        add(label, getattr(t, key), getattr(pt, key) if pt else None)
    for name in ("accept", "resolve"):
        now, before = getattr(t, name), getattr(pt, name) if pt else None
        add(f"{CLOCK_LABELS[name]} đúng hạn", now.rate, before.rate if before else None,
            rate(now), rate(before) if before else DASH, points=True)
    add("Chuyển thẳng, không qua phân loại", figures.without_triage_share,
        p.without_triage_share if p else None, _share_of(figures),
        _share_of(p) if p else DASH, points=True)
    add("Tỷ lệ mở lại", figures.reopen_rate, p.reopen_rate if p else None, points=True)
    return section


def _durations(items: list[Durations]) -> Section:
    section = Section("durations", "Thời gian xử lý",
                      ["Bước (đơn vị tính)", "Số đơn", "Trung vị", "90% đơn xong trong"],
                      note="Tính từ khi bắt đầu tính hạn đến khi xong bước đó; trung vị: một "
                           "nửa số đơn xong trong thời gian này.")
    for item in sorted(items, key=lambda d: (d.clock != "accept", d.unit != "working_days")):
        clock = CLOCK_LABELS.get(item.clock, item.clock)
        label = f"{clock} ({UNIT_LABELS.get(item.unit, item.unit)})"
        section.rows.append([label, number(item.count), number(item.median), number(item.p90)])
    return section


def _satisfaction(figures: Figures) -> Section:
    sat = figures.satisfaction
    section = Section("satisfaction", "Mức độ hài lòng", ["Chỉ số", "Giá trị"])
    section.rows += [["Lượt đánh giá", number(sat.ratings)],
                     ["Điểm trung bình (1–5)", number(sat.average)]]
    section.rows += [[f"{stars} sao", number(sat.distribution.get(stars, 0))]
                     for stars in range(5, 0, -1)]
    section.rows += [
        ["Bấm “Chưa hài lòng”", f"{number(sat.not_satisfied)} "
                                f"({percent(sat.not_satisfied_share)})"],
        ["Đơn mở lại", number(sat.reopened)],
        ["Tỷ lệ mở lại (trên số đã giải quyết)", percent(figures.reopen_rate)]]
    return section


def _extensions(figures: Figures) -> Section:
    ext = figures.extensions
    return Section("extensions", "Gia hạn giải quyết tố cáo", ["Chỉ số", "Giá trị"], [
        ["Số lần gia hạn", number(ext.count)], ["Số đơn được gia hạn", number(ext.tickets)],
        ["Tổng số ngày gia hạn", number(ext.days)],
        ["– trong đó vụ việc đặc biệt phức tạp", number(ext.especially_complex)]],
        note="Lý do gia hạn là thông tin bảo mật: chỉ thống kê số lượng.")


GROUP_COLUMNS = ["Tiếp nhận", "Đã giải quyết", "Đang mở", "Quá hạn", "Thụ lý đúng hạn",
                 "Giải quyết đúng hạn"]


def _groups(key: str, title: str, first: str, rows: list[Counts]) -> Section:
    section = Section(key, title, [first, *GROUP_COLUMNS])
    for row in rows:
        section.rows.append([row.label, number(row.received), number(row.resolved),
                             number(row.open), number(row.overdue), rate(row.accept),
                             rate(row.resolve)])
    return section


def _overdue(items: list[OverdueItem], confidential: int, tz: ZoneInfo) -> Section:
    note = (f"Ngoài ra có {confidential} đơn bảo mật quá hạn: chỉ thống kê, không liệt kê."
            if confidential else "")
    section = Section("overdue", "Đơn quá hạn lâu nhất",
                      ["Mã đơn", "Đơn vị", "Bước", "Hạn", "Quá hạn (ngày)"], note=note,
                      empty="Không có đơn quá hạn.")
    for item in items:
        section.rows.append([item.code, item.unit, CLOCK_LABELS.get(item.clock, item.clock),
                             f"{item.due_at.astimezone(tz):%d/%m/%Y}",
                             number(item.days_late)])
    return section


def week_label(week: str) -> str:
    """"2026-W09" -> "Tuần 09 (23/02/2026)": the ISO week and its Monday."""
    monday = Period.iso_week(week).start
    return f"Tuần {week[-2:]} ({monday:%d/%m/%Y})"


def weekly(points: list[WeekPoint]) -> Section:
    """The weekly chart's numbers (also its text alternative)."""
    section = Section("weekly", "Theo tuần", ["Tuần", "Tiếp nhận", "Đã giải quyết",
                                              "Giải quyết đúng hạn"], collapsed=True)
    for point in points:
        section.rows.append([week_label(point.week), number(point.received),
                             number(point.resolved), rate(point.resolve)])
    return section


def weekly_alt(points: list[WeekPoint]) -> str:
    if not points:
        return "Biểu đồ theo tuần: chưa có số liệu."
    received = sum(p.received for p in points)
    resolved = sum(p.resolved for p in points)
    return (f"Biểu đồ cột số đơn tiếp nhận và đã giải quyết theo tuần, từ "
            f"{week_label(points[0].week)} đến {week_label(points[-1].week)}: tổng "
            f"{number(received)} đơn tiếp nhận, {number(resolved)} đơn đã giải quyết; "
            f"đường là tỷ lệ giải quyết đúng hạn. Số liệu chi tiết ở bảng Theo tuần.")


def sections(figures: Figures, points: list[WeekPoint], overdue: list[OverdueItem],
             overdue_confidential: int, tz: ZoneInfo) -> list[Section]:
    """Every table of the page, in its order."""
    return [
        _summary(figures),
        _groups("by_unit", "Theo đơn vị", "Đơn vị", figures.by_unit),
        weekly(points),
        _durations(figures.durations),
        _satisfaction(figures),
        _extensions(figures),
        _groups("by_category", "Theo lĩnh vực", "Lĩnh vực", figures.by_category),
        _groups("by_kind", "Theo loại đơn", "Loại đơn", figures.by_kind),
        _groups("by_area", "Theo địa bàn", "Địa bàn", figures.by_area),
        _overdue(overdue, overdue_confidential, tz),
    ]


def heading(figures: Figures, area: str | None, generated: datetime, tz: ZoneInfo
            ) -> list[list[str]]:
    """What the figures are of: shown above them on the page and first in the CSV."""
    rows = [["Kỳ", figures.period.label()], ["Đơn vị", figures.scope.name]]
    if area:
        rows.append(["Địa bàn", area])
    if figures.previous is not None:
        rows.append(["Kỳ trước", figures.previous.period.label()])
    rows.append(["Lập lúc", f"{generated.astimezone(tz):%H:%M %d/%m/%Y}"])
    return rows


def to_csv(head: list[list[str]], items: list[Section]) -> bytes:
    """UTF-8 with a BOM (Excel then shows Vietnamese), the heading then each table."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["Số liệu tiếp nhận, giải quyết phản ánh, kiến nghị"])
    writer.writerows(head)
    for section in items:
        writer.writerow([])
        writer.writerow([section.title])
        writer.writerow(section.columns)
        writer.writerows(section.rows or [[section.empty]])
        if section.note:
            writer.writerow([section.note])
    return ("\ufeff" + out.getvalue()).encode("utf-8")
