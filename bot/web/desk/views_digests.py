"""The weekly digests on the desk: /desk/digests (recent weeks of one unit),
/desk/digests/<week>[?unit=CODE] (the text and chart), /desk/digests/<week>/chart.png and
/desk/digests/<week>/digest.xlsx. Leaders and admins see their unit and every unit below it,
unit heads their own unit only; anyone else gets the 403 page, a unit outside one's reach or a
week not over yet the 404 page. A complete week's digest the job has not made (a unit nobody
heads, an earlier week) is made on first view and kept, like the job's."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import quote

from aiohttp import web
from sqlalchemy import select

from bot.core import digest as digests
from bot.core.authz import unit_and_below
from bot.core.figures_model import Period, week_of
from bot.store.db import session_scope
from bot.store.models import OrgUnit
from bot.store.report_models import Digest
from bot.web.desk import downloads
from bot.web.desk import security as sec

VIEW_ROLES = ("leader", "unit_head", "admin")
LIST_WEEKS = 12
NOT_OVER_TEXT = "Tuần này chưa kết thúc nên chưa có bản tổng hợp."
CHART_MAX_AGE = 300  # seconds: a kept digest does not change


@dataclass
class Chosen:
    week: str
    unit_id: int
    unit_code: str
    unit_name: str


def _reachable(session, user: sec.DeskUser) -> set[int]:
    if user.unit_id is None:
        return set()
    if user.has_role("leader", "admin"):
        return unit_and_below(session, user.unit_id)
    return {user.unit_id}  # a unit head: their own unit only


def _unit(session, request: web.Request, user: sec.DeskUser) -> OrgUnit:
    """The unit asked for (?unit=CODE, default the officer's own), if the officer may see it."""
    code = request.query.get("unit", "").strip()
    unit = (digests.unit_by_code(session, code) if code
            else session.get(OrgUnit, user.unit_id) if user.unit_id else None)
    if unit is None or unit.id not in _reachable(session, user):
        raise web.HTTPNotFound()
    return unit


def _week(request: web.Request) -> str:
    try:
        week = digests.normalize_week(request.match_info["week"])
    except ValueError:
        raise web.HTTPNotFound() from None
    if not digests.week_is_over(week, sec.now(request), sec.settings_of(request).tz):
        raise web.HTTPNotFound(text=NOT_OVER_TEXT)
    return week


def _digest(request: web.Request, user: sec.DeskUser) -> tuple[Chosen, Digest]:
    week = _week(request)
    with session_scope(sec.db_url(request)) as session:
        unit = _unit(session, request, user)
        row = digests.get_or_make(session, week, unit, sec.core_context(request),
                                  sec.now(request), sec.settings_of(request).desk_base_url)
        session.expunge(row)
        return Chosen(week, unit.id, unit.code, unit.name), row


def page_text(text: str) -> str:
    """The digest text without its closing link to this very page."""
    head, _, tail = text.rpartition("\n\n")
    return head if head and "/desk/digests/" in tail else text


def _query(code: str) -> str:
    return "?unit=" + quote(code, safe="")


async def digest_page(request: web.Request) -> web.Response:
    user = sec.require_role(request, *VIEW_ROLES)
    chosen, row = await asyncio.to_thread(_digest, request, user)
    period = Period.iso_week(chosen.week)
    now, tz = sec.now(request), sec.settings_of(request).tz
    later = week_of(period.start + timedelta(days=7))
    query = _query(chosen.unit_code)
    return sec.render(request, "desk/digest.html", {
        "week": chosen.week, "title": digests.week_label(chosen.week).capitalize(),
        "period": period.label(), "unit_name": chosen.unit_name, "text": page_text(row.text),
        "generated": row.generated_at.astimezone(tz).strftime("%d/%m/%Y %H:%M"),
        "chart_url": f"/desk/digests/{chosen.week}/chart.png{query}",
        "xlsx_url": f"/desk/digests/{chosen.week}/digest.xlsx{query}",
        "previous_url": f"/desk/digests/{period.previous().week_label}{query}",
        "next_url": (f"/desk/digests/{later}{query}"
                     if digests.week_is_over(later, now, tz) else None),
        "list_url": f"/desk/digests{query}"})


async def digest_chart(request: web.Request) -> web.Response:
    user = sec.require_role(request, *VIEW_ROLES)
    _, row = await asyncio.to_thread(_digest, request, user)
    return downloads.png(row.chart_png, CHART_MAX_AGE)


async def digest_xlsx(request: web.Request) -> web.Response:
    user = sec.require_role(request, *VIEW_ROLES)
    chosen, row = await asyncio.to_thread(_digest, request, user)
    return downloads.attachment(row.xlsx, f"tong-hop-{chosen.week}-{chosen.unit_code}.xlsx")


def _list(request: web.Request, user: sec.DeskUser) -> dict:
    now, tz = sec.now(request), sec.settings_of(request).tz
    last = Period.iso_week(digests.last_complete_week(now, tz))
    weeks = [week_of(last.start - timedelta(days=7 * i)) for i in range(LIST_WEEKS)]
    with session_scope(sec.db_url(request)) as session:
        unit = _unit(session, request, user)
        reachable = _reachable(session, user)
        units = [(u.code, u.name) for u in session.scalars(
            select(OrgUnit).where(OrgUnit.id.in_(reachable)).order_by(OrgUnit.name))]
        made = {week: figures for week, figures in session.execute(
            select(Digest.week, Digest.figures).where(Digest.unit_id == unit.id,
                                                      Digest.week.in_(weeks)))}
    query = _query(unit.code)
    rows = []
    for week in weeks:
        totals = (made.get(week) or {}).get("totals")
        rows.append({"week": week, "label": digests.week_label(week).capitalize(),
                     "period": Period.iso_week(week).label(), "totals": totals,
                     "url": f"/desk/digests/{week}{query}"})
    return {"unit_code": unit.code, "unit_name": unit.name, "units": units, "rows": rows}


async def digest_list(request: web.Request) -> web.Response:
    user = sec.require_role(request, *VIEW_ROLES)
    context = await asyncio.to_thread(_list, request, user)
    return sec.render(request, "desk/digests.html", context)


def setup_digest_routes(app: web.Application) -> None:
    router = app.router
    router.add_get("/desk/digests", digest_list)
    router.add_get("/desk/digests/{week}", digest_page)
    router.add_get("/desk/digests/{week}/chart.png", digest_chart)
    router.add_get("/desk/digests/{week}/digest.xlsx", digest_xlsx)
