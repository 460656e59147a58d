"""The public board's routes (mounted by bot.web.app.create_app when PUBLIC_BOARD is on)."""

from __future__ import annotations

from pathlib import Path

import jinja2
from aiohttp import web

from bot.core.clock import Clock, system_clock
from bot.core.context import context_from_settings
from bot.settings import Settings
from bot.web.public import views

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
CODE_PATTERN = r"[A-Za-z0-9][A-Za-z0-9-]{2,39}"


def setup_public(app: web.Application, settings: Settings, db_url: str | None = None,
                 clock: Clock = system_clock) -> None:
    app[views.PUBLIC_DB_URL] = db_url or settings.effective_database_url
    app[views.PUBLIC_CONTEXT] = context_from_settings(clock, settings)
    app[views.PUBLIC_FIGURES] = views.FiguresCache()
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters["decimal"] = views.decimal
    app[views.PUBLIC_JINJA] = env
    router = app.router
    router.add_get("/public", views.board_root)
    router.add_get("/public/", views.board_page)
    router.add_get(f"/public/{views.FIGURES_SLUG}", views.figures_page)
    router.add_get(f"/public/{{code:{CODE_PATTERN}}}", views.item_page)
    router.add_get("/public/{tail:.*}", views.not_found)  # anything else: the polite 404
