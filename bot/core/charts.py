"""Chart images of the leaders' figures (weekly digest, dashboard), as small PNGs.

matplotlib's object API (`Figure` + `FigureCanvasAgg`): no pyplot, no global state, so the web
server may draw in threads. Every text uses DejaVu Sans, shipped with matplotlib, which has
every Vietnamese glyph whatever the machine's fonts are."""

from __future__ import annotations

import io
import math
from datetime import date
from pathlib import Path

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.ticker import MaxNLocator, PercentFormatter

from bot.core.figures_model import Counts, Figures, WeekPoint

_FONTS = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
# sizes for a 720 px image shown at half that width on a phone
FONT = FontProperties(fname=_FONTS / "DejaVuSans.ttf", size=11)
SMALL = FontProperties(fname=_FONTS / "DejaVuSans.ttf", size=10)
BOLD = FontProperties(fname=_FONTS / "DejaVuSans-Bold.ttf", size=13)

RECEIVED, RESOLVED, OVERDUE, RATE = "#4c8ed0", "#2f9e44", "#e03131", "#f08c00"
DPI = 100
WIDTH, HEIGHT = 7.2, 3.6  # inches: 720 x 360 px, the size the desk's <img> tags carry
MAX_GROUPS = 15  # a breakdown chart stays readable on a phone; the workbook has every group
FIXED_GROUPS = 6  # what fits in WIDTH x HEIGHT
LABEL_CHARS = 28


def _png(figure: Figure) -> bytes:
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    # no "Software"/date metadata: the same figures give the same bytes
    figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()


def _style(axes, labels=True) -> None:
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    if labels:
        for label in axes.get_xticklabels() + axes.get_yticklabels():
            label.set_fontproperties(SMALL)


def week_tick(week: str) -> str:
    """"2026-W49" -> "T49\n30/11" (the week number and its Monday)."""
    year, _, number = week.partition("-W")
    monday = date.fromisocalendar(int(year), int(number), 1)
    return f"T{int(number)}\n{monday:%d/%m}"


def weekly_chart_png(points: list[WeekPoint], title: str) -> bytes:
    """Received vs resolved tickets per week (bars) and the on-time rate of the resolve clock
    (line, right axis, %; a week where nothing fell due has no point)."""
    figure = Figure(figsize=(WIDTH, HEIGHT), dpi=DPI, layout="constrained")
    axes = figure.add_subplot()
    positions = list(range(len(points)))
    width = 0.38
    axes.bar([p - width / 2 for p in positions], [p.received for p in points], width,
             color=RECEIVED, label="Tiếp nhận")
    axes.bar([p + width / 2 for p in positions], [p.resolved for p in points], width,
             color=RESOLVED, label="Đã giải quyết")
    # At most ~12 labels: a year of weeks would overlap into an unreadable band.
    step = max(1, -(-len(points) // 12))
    shown = list(positions)[::step]
    axes.set_xticks(shown, [week_tick(points[i].week) for i in range(0, len(points), step)])
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_ylim(0, max([1] + [max(p.received, p.resolved) for p in points]) * 1.15)
    axes.set_ylabel("Số đơn", fontproperties=FONT)
    _style(axes)

    rates = axes.twinx()
    values = [p.resolve.rate * 100 if p.resolve.rate is not None else math.nan for p in points]
    rates.plot(positions, values, color=RATE, marker="o", linewidth=2,
               label="Giải quyết đúng hạn (%)")
    rates.set_ylim(0, 105)
    rates.yaxis.set_major_formatter(PercentFormatter(decimals=0))
    rates.spines["top"].set_visible(False)
    for label in rates.get_yticklabels():
        label.set_fontproperties(SMALL)

    handles = axes.get_legend_handles_labels()[0] + rates.get_legend_handles_labels()[0]
    names = axes.get_legend_handles_labels()[1] + rates.get_legend_handles_labels()[1]
    figure.legend(handles, names, loc="outside lower center", ncols=3, prop=SMALL,
                  frameon=False)
    axes.set_title(title, fontproperties=BOLD, loc="left")
    return _png(figure)


def _short(label: str) -> str:
    return label if len(label) <= LABEL_CHARS else label[:LABEL_CHARS - 1] + "…"


def breakdown_chart_png(rows: list[Counts], title: str, fixed_height: bool = False) -> bytes:
    """Received, resolved and overdue per group (horizontal bars, the busiest groups first,
    at most MAX_GROUPS). The image grows with the groups, or with `fixed_height` is always
    WIDTH x HEIGHT and shows the FIXED_GROUPS busiest."""
    limit = FIXED_GROUPS if fixed_height else MAX_GROUPS
    shown = sorted(rows, key=lambda r: (-r.received, -r.overdue, r.label))[:limit]
    height = HEIGHT if fixed_height else 1.4 + 0.42 * max(1, len(shown))
    figure = Figure(figsize=(WIDTH, height), dpi=DPI, layout="constrained")
    axes = figure.add_subplot()
    bar = 0.26
    positions = list(range(len(shown)))
    series = (("Tiếp nhận", "received", RECEIVED, -bar), ("Đã giải quyết", "resolved", RESOLVED,
              0.0), ("Quá hạn", "overdue", OVERDUE, bar))
    for name, attribute, color, offset in series:
        axes.barh([p + offset for p in positions], [getattr(r, attribute) for r in shown], bar,
                  color=color, label=name)
    axes.set_yticks(positions, [_short(r.label) for r in shown])
    axes.invert_yaxis()  # the busiest group on top
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_xlim(0, max([1] + [max(r.received, r.resolved, r.overdue) for r in shown]) * 1.1)
    if not shown:
        axes.text(0.5, 0.5, "Không có số liệu", transform=axes.transAxes, ha="center",
                  va="center", fontproperties=FONT)
    _style(axes)
    figure.legend(loc="outside lower center", ncols=3, prop=SMALL, frameon=False)
    axes.set_title(title, fontproperties=BOLD, loc="left")
    return _png(figure)


def figures_chart_png(figures: Figures) -> bytes:
    """The dashboard's breakdown chart (WIDTH x HEIGHT): by unit when the scope has several,
    else by category."""
    if len(figures.by_unit) > 1:
        return breakdown_chart_png(figures.by_unit, "Theo đơn vị", fixed_height=True)
    return breakdown_chart_png(figures.by_category, "Theo lĩnh vực", fixed_height=True)
