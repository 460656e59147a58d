"""The public board's pages: the list (search, filters, pages), one item, the figures by month,
and a polite 404 for anything not published. No login and no cookies; a strict CSP (nothing but
this site's stylesheet: no script, no frame, no external asset)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode

import jinja2
import structlog
from aiohttp import web

from bot.core import public_list
from bot.core.context import CoreContext
from bot.store.db import session_scope

log = structlog.get_logger(__name__)

PUBLIC_DB_URL = web.AppKey("public_db_url", str)
PUBLIC_CONTEXT = web.AppKey("public_context", CoreContext)
PUBLIC_JINJA = web.AppKey("public_jinja", jinja2.Environment)
FIGURES_SLUG = "so-lieu"
FIGURES_TTL_SECONDS = 300.0
POLICY = ("default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; "
          "form-action 'self'; frame-ancestors 'none'")
HEADERS = {"Content-Security-Policy": POLICY, "X-Content-Type-Options": "nosniff",
           "X-Frame-Options": "DENY", "Referrer-Policy": "same-origin",
           "Cross-Origin-Opener-Policy": "same-origin",
           "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
           "Cache-Control": "no-cache"}
NOT_FOUND_TEXT = ("Không tìm thấy nội dung này trên bảng công khai. Nội dung có thể chưa được "
                  "công bố hoặc đã được ẩn. Ông/Bà vui lòng xem danh sách các đơn đã giải quyết.")


@dataclass
class FiguresCache:
    """The monthly figures, computed at most once per FIGURES_TTL_SECONDS in this process (12
    months of figures are 12 calls of figures.compute); a lock keeps concurrent first visits
    from computing them together."""

    ttl: float = FIGURES_TTL_SECONDS
    value: list[public_list.MonthFigures] | None = None
    at: float = 0.0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


PUBLIC_FIGURES = web.AppKey("public_figures", FiguresCache)


def decimal(value: float | None, digits: int = 1) -> str:
    """4.25 -> "4,3" (Vietnamese decimal comma); None -> "—"."""
    return "—" if value is None else f"{value:.{digits}f}".replace(".", ",")


def _render(request: web.Request, template: str, context: dict, status: int = 200
            ) -> web.Response:
    page = request.app[PUBLIC_JINJA].get_template(template)
    body = page.render(path=request.path, **context)
    return web.Response(text=body, status=status, content_type="text/html", charset="utf-8",
                        headers=HEADERS)


def _db(request: web.Request) -> str:
    return request.app[PUBLIC_DB_URL]


def _ctx(request: web.Request) -> CoreContext:
    return request.app[PUBLIC_CONTEXT]


async def board_root(_request: web.Request) -> web.Response:
    raise web.HTTPFound("/public/", headers=HEADERS)


def _load_board(url: str, filt: public_list.BoardFilter, ctx: CoreContext):
    with session_scope(url) as session:
        return public_list.board(session, filt, ctx), public_list.commune_name(session)


async def board_page(request: web.Request) -> web.Response:
    """GET /public/?q=&category=&area=&unit=&month=&page="""
    filt = public_list.BoardFilter.from_query(request.query)
    page, commune = await asyncio.to_thread(_load_board, _db(request), filt, _ctx(request))

    def link(**changes) -> str:
        query = filt.query(**changes)
        return "/public/" + (f"?{urlencode(query)}" if query else "")

    filtered = bool(filt.category or filt.area or filt.unit or filt.month)
    return _render(request, "public/list.html", {
        "board": page, "filt": filt, "commune": commune, "filtered": filtered, "link": link,
        "answered_text": public_list.ANSWERED_TEXT})


def _load_item(url: str, code: str, ctx: CoreContext):
    with session_scope(url) as session:
        return public_list.item(session, code, ctx), public_list.commune_name(session)


async def item_page(request: web.Request) -> web.Response:
    """GET /public/<CODE>: a published item, 404 for anything else (the same page whether the
    code exists or not, so a code reveals nothing)."""
    found, commune = await asyncio.to_thread(_load_item, _db(request),
                                             request.match_info["code"], _ctx(request))
    if found is None:
        return _not_found(request, commune)
    return _render(request, "public/item.html", {
        "item": found, "commune": commune, "answered_text": public_list.ANSWERED_TEXT})


def _compute_figures(url: str, ctx: CoreContext):
    with session_scope(url) as session:
        return public_list.monthly_figures(session, ctx, ctx.clock())


def _commune(url: str) -> str:
    with session_scope(url) as session:
        return public_list.commune_name(session)


async def monthly_figures(request: web.Request) -> list[public_list.MonthFigures]:
    cache = request.app[PUBLIC_FIGURES]
    async with cache.lock:
        if cache.value is None or time.monotonic() - cache.at > cache.ttl:
            cache.value = await asyncio.to_thread(_compute_figures, _db(request), _ctx(request))
            cache.at = time.monotonic()
        return cache.value


async def figures_page(request: web.Request) -> web.Response:
    """GET /public/so-lieu: received, resolved, on-time rate and satisfaction by month."""
    months = await monthly_figures(request)
    commune = await asyncio.to_thread(_commune, _db(request))
    return _render(request, "public/figures.html", {
        "months": months, "commune": commune, "ttl_minutes": int(FIGURES_TTL_SECONDS // 60)})


def _not_found(request: web.Request, commune: str) -> web.Response:
    return _render(request, "public/not_found.html", {"commune": commune,
                                                      "message": NOT_FOUND_TEXT}, status=404)


async def not_found(request: web.Request) -> web.Response:
    return _not_found(request, await asyncio.to_thread(_commune, _db(request)))
