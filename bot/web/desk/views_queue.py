"""The queue page (/desk/) and its polling endpoint (/desk/queue.json), over bot.core.queue.
The filter state lives in the URL (GET form), so a view can be bookmarked."""

from __future__ import annotations

import asyncio
from datetime import datetime
from urllib.parse import urlencode

import aiohttp_jinja2
from aiohttp import web
from sqlalchemy import select

from bot.core import queue
from bot.core.authz import NotAllowed
from bot.core.taxonomy import CATEGORY_LABELS, KIND_LABELS, STATUS_LABELS
from bot.store.db import session_scope
from bot.store.models import Area, OrgUnit
from bot.web.desk import security as sec

STATUS_CHOICES = [("", "Đang mở"), (queue.STATUS_ALL, "Tất cả")] + [
    (str(k), v) for k, v in STATUS_LABELS.items()]


def time_left(due_at: datetime | None, now: datetime) -> str:
    """"còn 3 ngày", "còn 5 giờ", "quá hạn 2 ngày" (calendar time; the ticket page gives
    working days)."""
    if due_at is None:
        return ""
    seconds = (due_at - now).total_seconds()
    hours = abs(seconds) / 3600
    amount = f"{int(hours // 24)} ngày" if hours >= 48 else f"{max(1, int(hours))} giờ"
    return f"còn {amount}" if seconds >= 0 else f"quá hạn {amount}"


def _choices(session) -> dict:
    return {
        "statuses": STATUS_CHOICES,
        "categories": [(str(k), v) for k, v in CATEGORY_LABELS.items()],
        "kinds": [(str(k), v) for k, v in KIND_LABELS.items()],
        "areas": [(str(i), n) for i, n in session.execute(
            select(Area.id, Area.name).order_by(Area.name))],
        "units": [(str(i), n) for i, n in session.execute(
            select(OrgUnit.id, OrgUnit.name).order_by(OrgUnit.name))],
    }


def _weekly(session, user, now, tz) -> list | None:
    """The triage figures per week, for heads, leaders and admins (None when not available)."""
    if not user.has_role("unit_head", "leader", "admin"):
        return None
    try:
        from bot.core.corrections import weekly_shares
    except ImportError:  # pragma: no cover - part NLU not there yet
        return None
    try:
        return weekly_shares(session, user.caller, weeks=8, now=now, tz=tz)
    except NotAllowed:
        return None


def _load(request: web.Request, user: sec.DeskUser, with_extras: bool) -> dict:
    filt = queue.QueueFilter.from_query(request.query)
    now, settings = sec.now(request), sec.settings_of(request)
    with session_scope(sec.db_url(request)) as session:
        tabs = queue.tabs_for(session, user.caller)
        result = queue.load_queue(session, user.caller, filt, now, tz=settings.tz)
        token = queue.latest_change(session, user.caller)
        extras = ({"choices": _choices(session),
                   "weeks": _weekly(session, user, now, settings.tz)} if with_extras else {})
    state = filt.to_query()
    state.pop("page", None)

    def link(**changes: str | int | None) -> str:
        values = {**state, **{k: str(v) for k, v in changes.items() if v not in (None, "")}}
        for key, value in changes.items():
            if value in (None, ""):
                values.pop(key, None)
        return "/desk/?" + urlencode(values) if values else "/desk/"

    return {"filt": filt, "tabs": tabs, "result": result, "token": token, "now": now,
            "time_left": time_left, "link": link, "state": state,
            "poll_query": urlencode(filt.to_query()),
            "filters_open": bool(set(state) - {"tab", "q"}), **extras}


async def queue_page(request: web.Request) -> web.Response:
    user = sec.require_user(request)
    # In a thread: a big queue must not stall every other page and chat on this server.
    context = await asyncio.to_thread(_load, request, user, True)
    return sec.render(request, "desk/queue.html", context)


async def queue_json(request: web.Request) -> web.Response:
    """What the page polls: the change token, counts per tab, and when the token differs from
    `since`, the list's HTML (rendered here, escaped as on the page)."""
    user = sec.current_officer(request)
    if user is None:
        return web.json_response({"login": True}, status=401)
    context = await asyncio.to_thread(_load, request, user, False)
    body = {"token": context["token"], "counts": context["result"].counts,
            "total": context["result"].total}
    if request.query.get("since") != context["token"]:
        body["html"] = aiohttp_jinja2.render_string("desk/_queue_rows.html", request, context)
    with session_scope(sec.db_url(request)) as session:
        from bot.core.notices import unread_count

        body["unread"] = unread_count(session, user.officer_id)
    return web.json_response(body, headers={"Cache-Control": "no-store"})
