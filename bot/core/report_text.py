"""The written Vietnamese summary of the figures (paste-able into a commune's yearly "dân vận
chính quyền" report), the list of headline figures every report format shows, and Vietnamese
number formatting (decimal comma, dot for thousands).

A figure that cannot be computed (nothing fell due, nobody rated) reads "chưa có", never None,
and a change is only given when both periods have the figure."""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.figures_model import Counts, Durations, Figures

MISSING = "chưa có"
CLOCK_NAMES = {"accept": "thụ lý", "resolve": "giải quyết"}
DURATION_UNITS = {"working_days": "ngày làm việc", "calendar_days": "ngày"}


# -- numbers -------------------------------------------------------------------------------

def vn_number(value: float | int | None, digits: int = 1) -> str:
    """12345 -> "12.345", 87.5 -> "87,5", 3.0 -> "3" (no ",0" tail), None -> "chưa có"."""
    if value is None:
        return MISSING
    if isinstance(value, int) or float(value).is_integer():
        text = f"{round(value):,}"
    else:
        text = f"{value:,.{digits}f}".rstrip("0").rstrip(".")
    # Python writes 12,345.6; Vietnamese writes 12.345,6
    return text.replace(",", "\0").replace(".", ",").replace("\0", ".")


def vn_percent(share: float | None, digits: int = 1) -> str:
    """0.875 -> "87,5%", 1.0 -> "100%", None -> "chưa có"."""
    return MISSING if share is None else f"{vn_number(share * 100, digits)}%"


def vn_signed(value: float | int, digits: int = 1, suffix: str = "") -> str:
    """+3, -1,5 ...: a change, with its sign ("không đổi" for zero)."""
    if not value:
        return "không đổi"
    return ("+" if value > 0 else "-") + vn_number(abs(value), digits) + suffix


# -- the headline figures, shared by the workbook, the Markdown and the PDF ---------------

@dataclass(frozen=True)
class Line:
    """One headline figure: this period, the previous one, how it is shown."""

    key: str
    label: str
    value: float | int | None
    previous: float | int | None
    kind: str = "count"  # count | rate (a share 0..1) | days | average
    note: str = ""

    @property
    def change(self) -> float | int | None:
        """The difference with the previous period (for rates: in shares, i.e. points / 100)."""
        if self.value is None or self.previous is None:
            return None
        change = self.value - self.previous
        return round(change, 9) if isinstance(change, float) else change  # no 1.6666666661

    def text(self, value: float | int | None = None) -> str:
        value = self.value if value is None else value
        if self.kind == "rate":
            return vn_percent(value)
        if self.kind in ("days", "average"):
            return vn_number(value, 1 if self.kind == "days" else 2)
        return vn_number(value)

    def previous_text(self) -> str:
        return MISSING if self.previous is None else self.text(self.previous)

    def change_text(self) -> str:
        change = self.change
        if change is None:
            return ""
        if self.kind == "rate":
            return vn_signed(change * 100, 1, " điểm %")
        return vn_signed(change, 2 if self.kind == "average" else 1)


def _duration(figures: Figures | None, clock: str, unit: str) -> Durations | None:
    if figures is None:
        return None
    return next((d for d in figures.durations if (d.clock, d.unit) == (clock, unit)), None)


def duration_kinds(figures: Figures) -> list[tuple[str, str]]:
    """(clock, unit) of the duration figures to show: both clocks in working days always (the
    usual case), a clock counted in calendar days when this or the previous period has one."""
    kinds = [("accept", "working_days"), ("resolve", "working_days")]
    for source in (figures, figures.previous):
        for d in source.durations if source is not None else []:
            if (d.clock, d.unit) not in kinds:
                kinds.append((d.clock, d.unit))
    order = {("accept", "working_days"): 0, ("accept", "calendar_days"): 1,
             ("resolve", "working_days"): 2, ("resolve", "calendar_days"): 3}
    return sorted(kinds, key=lambda k: order.get(k, 9))


def figure_lines(figures: Figures) -> list[Line]:
    """Every headline figure, in the order reports show them."""
    now, before = figures, figures.previous

    def line(key: str, label: str, get, kind: str = "count", note: str = "") -> Line:
        return Line(key, label, get(now), get(before) if before is not None else None, kind, note)

    def total(name: str):
        return lambda f: getattr(f.totals, name)

    lines = [
        line("received", "Tiếp nhận", total("received"),
             note="mọi loại đơn, kể cả đơn trùng và đơn đã rút"),
        line("duplicates", "Trong đó: trùng với đơn khác", total("duplicates")),
        line("confidential_received", "Trong đó: đơn bảo mật (tố cáo...)",
             lambda f: f.confidential_received, note="chỉ đếm, không liệt kê"),
        line("accepted", "Đã thụ lý", total("accepted")),
        line("resolved", "Đã giải quyết, trả lời", total("resolved")),
        line("rejected", "Không thụ lý", total("rejected")),
        line("transferred", "Chuyển cơ quan khác", total("transferred")),
        line("withdrawn", "Người dân rút đơn", total("withdrawn")),
        line("open", "Còn tồn cuối kỳ", total("open")),
        line("overdue", "Quá hạn cuối kỳ", total("overdue")),
    ]
    for clock in ("accept", "resolve"):
        name = CLOCK_NAMES[clock]
        lines += [
            line(f"{clock}_rate", f"Tỷ lệ {name} đúng hạn",
                 lambda f, c=clock: getattr(f.totals, c).rate, "rate"),
            line(f"{clock}_due", f"Số đơn đến hạn {name}",
                 lambda f, c=clock: getattr(f.totals, c).due),
            line(f"{clock}_on_time", f"Số đơn {name} đúng hạn",
                 lambda f, c=clock: getattr(f.totals, c).on_time),
        ]
    for clock, unit in duration_kinds(figures):
        name, unit_name = CLOCK_NAMES[clock], DURATION_UNITS.get(unit, unit)
        current = _duration(now, clock, unit)
        note = f"tính trên {vn_number(current.count)} đơn" if current else ""
        for stat, label in (("median", "trung vị"), ("p90", "90% số đơn không quá")):
            lines.append(line(
                f"{clock}_{unit}_{stat}", f"Thời gian {name}, {label} ({unit_name})",
                lambda f, c=clock, u=unit, s=stat: getattr(_duration(f, c, u), s, None),
                "days", note))
    satisfaction = [
        line("ratings", "Số lượt đánh giá", lambda f: f.satisfaction.ratings),
        line("rating_average", "Mức độ hài lòng bình quân (1-5)",
             lambda f: f.satisfaction.average, "average"),
    ]
    for star in range(1, 6):
        satisfaction.append(line(
            f"rating_{star}", f"Số lượt đánh giá {star} sao",
            lambda f, s=star: f.satisfaction.distribution.get(s, 0)))
    satisfaction += [
        line("not_satisfied", "Lượt \"Chưa hài lòng\"", lambda f: f.satisfaction.not_satisfied),
        line("not_satisfied_share", "Tỷ lệ \"Chưa hài lòng\"",
             lambda f: f.satisfaction.not_satisfied_share, "rate",
             "trên tổng lượt đánh giá và lượt chưa hài lòng"),
        line("reopened", "Đơn mở lại", lambda f: f.satisfaction.reopened),
        line("reopen_rate", "Tỷ lệ mở lại", lambda f: f.reopen_rate, "rate",
             "trên số đơn đã giải quyết"),
        line("extensions", "Gia hạn giải quyết tố cáo (lượt)", lambda f: f.extensions.count),
        line("extension_tickets", "Số đơn được gia hạn", lambda f: f.extensions.tickets),
        line("extension_days", "Tổng số ngày gia hạn", lambda f: f.extensions.days),
        line("extension_complex", "Gia hạn do vụ việc đặc biệt phức tạp",
             lambda f: f.extensions.especially_complex),
        line("without_triage", "Chuyển thẳng đơn vị, không qua bộ phận phân loại",
             lambda f: f.without_triage),
        line("without_triage_share", "Tỷ lệ chuyển thẳng", lambda f: f.without_triage_share,
             "rate", "trên số đơn tiếp nhận"),
    ]
    return lines + satisfaction


# -- the written summary --------------------------------------------------------------------

def _change(now: int | float | None, before: int | float | None, kind: str = "count") -> str:
    """"tăng 12 so với kỳ trước" / "giảm 3,5 điểm % so với kỳ trước" / "" (not comparable)."""
    if now is None or before is None:
        return ""
    change = now - before
    if kind == "rate":
        change *= 100
    unit = " điểm %" if kind == "rate" else ""
    if abs(change) < 1e-9:
        return "không đổi so với kỳ trước"
    word = "tăng" if change > 0 else "giảm"
    digits = 2 if kind == "average" else 1
    return f"{word} {vn_number(abs(change), digits)}{unit} so với kỳ trước"


def _versus(now: int | float | None, before: int | float | None, kind: str = "count",
            detail: str = "") -> str:
    """" (tăng 12 so với kỳ trước)", with `detail` first in the same brackets when given."""
    inside = "; ".join(part for part in (detail, _change(now, before, kind)) if part)
    return f" ({inside})" if inside else ""


def _rate_sentence(name: str, counts: Counts, before: Counts | None) -> str:
    clock = getattr(counts, name)
    label = CLOCK_NAMES[name]
    if clock.rate is None:
        return f"tỷ lệ {label} đúng hạn: {MISSING} (trong kỳ không có đơn đến hạn {label})"
    previous = getattr(before, name).rate if before is not None else None
    detail = f"{vn_number(clock.on_time)}/{vn_number(clock.due)} đơn đến hạn"
    return f"tỷ lệ {label} đúng hạn {vn_percent(clock.rate)}" + _versus(
        clock.rate, previous, "rate", detail)


def _durations_sentence(figures: Figures) -> str:
    """" Thời gian giải quyết trung vị 5 ngày làm việc, 90% số đơn ... 9 ngày làm việc.", with
    one part per unit when some deadlines count working days and others calendar days."""
    found = [d for d in figures.durations if d.clock == "resolve" and d.median is not None]
    if not found:
        return ""
    parts = []
    for d in found:
        unit = DURATION_UNITS.get(d.unit, d.unit)
        part = (f"trung vị {vn_number(d.median)} {unit}, 90% số đơn được giải quyết trong vòng "
                f"{vn_number(d.p90)} {unit}")
        if len(found) > 1:
            part = f"với đơn có thời hạn tính theo {unit}, {part}"
        parts.append(part)
    if len(parts) == 1:
        return f" Thời gian giải quyết {parts[0]}."
    return f" Thời gian giải quyết: {'; '.join(parts)}."


def _scope_name(figures: Figures) -> str:
    """Who received the tickets: the scope's unit ("UBND xã An Bình"), or the whole system."""
    if figures.scope.unit_id is None and not figures.scope.unit_ids:
        return "hệ thống" if figures.scope.area_id is None else f"hệ thống ({figures.scope.name})"
    return figures.scope.name.strip()


def summary_text(figures: Figures) -> str:
    """A few Vietnamese paragraphs with the period's figures and their change."""
    t, prev = figures.totals, figures.previous
    pt = prev.totals if prev is not None else None
    period = figures.period

    def was(name: str) -> int | None:
        return getattr(pt, name) if pt is not None else None

    opening = (f"Trong kỳ từ ngày {period.start:%d/%m/%Y} đến ngày {period.end:%d/%m/%Y}, "
               f"{_scope_name(figures)} đã tiếp nhận {vn_number(t.received)} phản ánh, kiến nghị"
               f"{_versus(t.received, was('received'))}")
    kinds = [f"{c.label.lower()} {vn_number(c.received)}" for c in figures.by_kind if c.received]
    if kinds:
        opening += f", gồm: {', '.join(kinds)}"
    if t.duplicates:
        opening += f"; {vn_number(t.duplicates)} đơn trùng nội dung đã được gộp"
    opening += "."

    handled = (f"Đã thụ lý {vn_number(t.accepted)} đơn{_versus(t.accepted, was('accepted'))}; "
               f"đã giải quyết, trả lời {vn_number(t.resolved)} đơn"
               f"{_versus(t.resolved, was('resolved'))}")
    others = [(t.rejected, "không thụ lý"), (t.transferred, "chuyển cơ quan có thẩm quyền"),
              (t.withdrawn, "người dân đã rút")]
    extra = [f"{vn_number(n)} đơn {what}" for n, what in others if n]
    if extra:
        handled += "; " + ", ".join(extra)
    resolve_rate = _rate_sentence("resolve", t, pt)
    handled += ". " + resolve_rate[0].upper() + resolve_rate[1:] + "; "
    handled += _rate_sentence("accept", t, pt) + "."
    handled += _durations_sentence(figures)

    backlog = (f"Đến cuối kỳ còn tồn {vn_number(t.open)} đơn đang xử lý"
               f"{_versus(t.open, was('open'))}")
    if t.overdue:
        backlog += f", trong đó {vn_number(t.overdue)} đơn đã quá hạn"
    else:
        backlog += ", không có đơn quá hạn"
    backlog += "."
    if figures.extensions.count:
        ext = figures.extensions
        backlog += (f" Có {vn_number(ext.count)} lượt gia hạn giải quyết tố cáo "
                    f"({vn_number(ext.tickets)} đơn, tổng {vn_number(ext.days)} ngày).")

    s = figures.satisfaction
    before_avg = prev.satisfaction.average if prev is not None else None
    if s.average is None:
        opinion = "Mức độ hài lòng bình quân: chưa có (trong kỳ chưa có lượt đánh giá nào)"
    else:
        opinion = (f"Mức độ hài lòng bình quân {vn_number(s.average, 2)}/5 qua "
                   f"{vn_number(s.ratings)} lượt đánh giá"
                   f"{_versus(s.average, before_avg, 'average')}")
    if s.not_satisfied:
        opinion += (f"; {vn_number(s.not_satisfied)} lượt người dân chưa hài lòng với kết quả "
                    f"({vn_percent(s.not_satisfied_share)} số lượt phản hồi về kết quả)")
    if s.reopened:
        opinion += f"; {vn_number(s.reopened)} đơn được mở lại để xem xét tiếp"
    opinion += "."
    if figures.without_triage_share is not None:
        opinion += (f" {vn_percent(figures.without_triage_share)} số đơn được chuyển thẳng đến "
                    "đơn vị xử lý, không phải qua bộ phận phân loại.")

    confidential = ""
    if figures.confidential_received:
        confidential = (f" Số liệu trên đã gồm {vn_number(figures.confidential_received)} đơn "
                        "tố cáo và đơn cần bảo mật (chỉ thống kê số lượng, không công khai "
                        "nội dung).")
    return "\n\n".join([opening, handled, backlog, opinion + confidential])
