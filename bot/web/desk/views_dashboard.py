"""The leaders' dashboard (/desk/dashboard): the figures of bot.core.figures for a period, unit
and area chosen in a GET form (state in the URL), charts drawn on the server
(/desk/dashboard/weekly.png, /desk/dashboard/breakdown.png) and exports of exactly what the page
shows (/desk/dashboard.csv, /desk/dashboard.xlsx). Leaders, unit heads and admins only: every
route checks the role and the unit asked for, not only the nav link."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from aiohttp import web
from sqlalchemy.orm import Session

from bot.core import charts
from bot.core import figures as fig
from bot.core.figures_model import Figures, Period, Scope, week_of
from bot.core.workbook import figures_workbook
from bot.store.db import session_scope
from bot.web.desk import dashboard_tables as tables
from bot.web.desk import downloads
from bot.web.desk import security as sec
from bot.web.desk.dashboard_query import (
    PRESETS,
    VIEW_ROLES,
    Choices,
    DashboardQuery,
    OutsideScope,
    choices_for,
)

MIN_WEEKS, MAX_WEEKS = 8, 53
IMAGE_MAX_AGE = 60  # seconds: the figures of a running period change


@dataclass
class Loaded:
    query: DashboardQuery
    choices: Choices
    scope: Scope
    now: datetime


def chart_weeks(period: Period, today) -> tuple[str, int]:
    """The weeks of the weekly chart: those of the period up to today, at least eight."""
    last = min(period.end, today)
    last = max(last, period.start)
    monday = last - timedelta(days=last.weekday())
    first = period.start - timedelta(days=period.start.weekday())
    weeks = (monday - first).days // 7 + 1
    return week_of(last), max(MIN_WEEKS, min(MAX_WEEKS, weeks))


def _resolve(session: Session, request: web.Request, user: sec.DeskUser) -> Loaded:
    """The query checked against what the officer may see (403 outside it) and its scope."""
    now = sec.now(request)
    today = now.astimezone(sec.settings_of(request).tz).date()
    query = DashboardQuery.from_query(request.query, today)
    try:
        choices = choices_for(session, user.unit_id, user.roles, query)
    except OutsideScope:
        raise web.HTTPForbidden(text="Anh/chị chỉ xem được số liệu của đơn vị mình "
                                     "(và các đơn vị trực thuộc, với lãnh đạo).") from None
    scope = fig.scope_for(session, unit_id=choices.unit.id,
                          area_id=choices.area[0] if choices.area else None)
    return Loaded(query, choices, scope, now)


def _end_moment(period: Period, now: datetime, request: web.Request) -> datetime:
    return min(period.bounds(sec.settings_of(request).tz)[1], now)


def _figures(request: web.Request, user: sec.DeskUser) -> dict:
    """Everything the page and the exports show (in a thread: heavy SQL)."""
    ctx, tz = sec.core_context(request), sec.settings_of(request).tz
    with session_scope(sec.db_url(request)) as session:
        loaded = _resolve(session, request, user)
        query, now = loaded.query, loaded.now
        figures = fig.compute(session, loaded.scope, query.period, ctx, now=now)
        overdue, hidden = fig.overdue_tickets(session, loaded.scope,
                                              _end_moment(query.period, now, request))
        last, weeks = chart_weeks(query.period, now.astimezone(tz).date())
        points = fig.weekly_series(session, loaded.scope, last, weeks, ctx, now=now)
    head = tables.heading(figures, _area_name(loaded), now, tz)
    items = tables.sections(figures, points, overdue, hidden, tz)
    return {"loaded": loaded, "figures": figures, "head": head, "sections": items,
            "points": points}


def _area_name(loaded: Loaded) -> str | None:
    return loaded.choices.area[1] if loaded.choices.area else None


def _scope_name(loaded: Loaded) -> str:
    """The unit, and the area when one is chosen (charts and workbook say what they are of)."""
    area = _area_name(loaded)
    return f"{loaded.scope.name} – {area}" if area else loaded.scope.name


def _file_name(loaded: Loaded, ext: str) -> str:
    period = loaded.query.period
    return f"so-lieu_{loaded.choices.unit.code}_{period.start:%Y%m%d}-{period.end:%Y%m%d}.{ext}"


async def dashboard_page(request: web.Request) -> web.Response:
    user = sec.require_role(request, *VIEW_ROLES)
    data = await asyncio.to_thread(_figures, request, user)
    loaded: Loaded = data["loaded"]
    tz = sec.settings_of(request).tz
    figures: Figures = data["figures"]
    today = loaded.now.astimezone(tz).date()
    query = loaded.query
    return sec.render(request, "desk/dashboard.html", {
        **data, "query": query, "choices": loaded.choices, "presets": PRESETS,
        "cards": tables.cards(figures), "qs": query.qs(),
        "running": query.period.end >= today, "chart_size": chart_size(),
        "breakdown_title": breakdown_title(figures),
        "weekly_alt": tables.weekly_alt(data["points"]),
    })


async def dashboard_csv(request: web.Request) -> web.Response:
    user = sec.require_role(request, *VIEW_ROLES)
    data = await asyncio.to_thread(_figures, request, user)
    body = tables.to_csv(data["head"], data["sections"])
    return downloads.attachment(body, _file_name(data["loaded"], "csv"), "text/csv", "utf-8")


def _cell(text: str) -> str | int:
    """Counts as numbers in the workbook (Excel sums them), other cells as shown."""
    plain = text.replace(".", "")
    return int(plain) if plain.isdigit() else text


def _workbook(request: web.Request, user: sec.DeskUser) -> tuple[bytes, Loaded]:
    data = _figures(request, user)
    # The workbook's own sheets hold the summary, durations, satisfaction, extensions and each
    # breakdown; the page's weekly and overdue tables go in as extra sheets. The page lists no
    # other ticket, so neither does the workbook (its ticket list stays empty).
    extra = {}
    for section in data["sections"]:
        if section.key in ("weekly", "overdue"):
            rows = [section.columns] + [[_cell(c) for c in r] for r in section.rows]
            extra[section.title] = rows + ([[section.note]] if section.note else [])
    figures: Figures = data["figures"]
    figures.scope = replace(figures.scope, name=_scope_name(data["loaded"]))
    return figures_workbook(figures, [], extra_sheets=extra), data["loaded"]


async def dashboard_xlsx(request: web.Request) -> web.Response:
    user = sec.require_role(request, *VIEW_ROLES)
    body, loaded = await asyncio.to_thread(_workbook, request, user)
    return downloads.attachment(body, _file_name(loaded, "xlsx"))


def breakdown_title(figures: Figures) -> str:
    """What charts.figures_chart_png draws: by unit when there are several, else by category,
    the FIXED_GROUPS busiest groups."""
    groups, name = ((figures.by_unit, "đơn vị") if len(figures.by_unit) > 1
                    else (figures.by_category, "lĩnh vực"))
    title = f"Tiếp nhận, đã giải quyết, quá hạn theo {name}"
    if len(groups) > charts.FIXED_GROUPS:
        title += f" ({charts.FIXED_GROUPS} nhóm nhiều đơn nhất)"
    return title


def chart_size() -> tuple[int, int]:
    """Pixel size of both charts (bot.core.charts draws the dashboard's at WIDTH x HEIGHT
    inches), for the <img> width and height: the page does not jump while they load (a test
    compares it with the real images)."""
    return round(charts.WIDTH * charts.DPI), round(charts.HEIGHT * charts.DPI)


def _weekly_png(request: web.Request, user: sec.DeskUser) -> bytes:
    ctx, tz = sec.core_context(request), sec.settings_of(request).tz
    with session_scope(sec.db_url(request)) as session:
        loaded = _resolve(session, request, user)
        last, weeks = chart_weeks(loaded.query.period, loaded.now.astimezone(tz).date())
        points = fig.weekly_series(session, loaded.scope, last, weeks, ctx, now=loaded.now)
    return charts.weekly_chart_png(points, f"Theo tuần – {_scope_name(loaded)}")


def _breakdown_png(request: web.Request, user: sec.DeskUser) -> bytes:
    with session_scope(sec.db_url(request)) as session:
        loaded = _resolve(session, request, user)
        figures = fig.compute(session, loaded.scope, loaded.query.period,
                              sec.core_context(request), now=loaded.now, with_previous=False)
    return charts.figures_chart_png(figures)


async def weekly_png(request: web.Request) -> web.Response:
    user = sec.require_role(request, *VIEW_ROLES)
    return downloads.png(await asyncio.to_thread(_weekly_png, request, user), IMAGE_MAX_AGE)


async def breakdown_png(request: web.Request) -> web.Response:
    user = sec.require_role(request, *VIEW_ROLES)
    return downloads.png(await asyncio.to_thread(_breakdown_png, request, user), IMAGE_MAX_AGE)


def setup_dashboard_routes(app: web.Application) -> None:
    router = app.router
    router.add_get("/desk/dashboard", dashboard_page)
    router.add_get("/desk/dashboard.csv", dashboard_csv)
    router.add_get("/desk/dashboard.xlsx", dashboard_xlsx)
    router.add_get("/desk/dashboard/weekly.png", weekly_png)
    router.add_get("/desk/dashboard/breakdown.png", breakdown_png)

