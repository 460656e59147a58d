"""The officers' desk: server-rendered pages (aiohttp-jinja2) on the bot's own web server.

`setup_desk(app, settings)` is called by bot.web.app.create_app: templates (autoescaped), the
security middleware (headers, cookies, flashes), and the routes of every desk part: login,
queue, notices and admin (routes.py), the ticket page (views_ticket.py) and Web Push (push.py)."""

from __future__ import annotations

from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from bot.core.clock import Clock, system_clock
from bot.core.context import context_from_settings
from bot.settings import Settings
from bot.web.desk.push import setup_push_routes
from bot.web.desk.routes import setup_routes
from bot.web.desk.security import (
    DESK_CLOCK,
    DESK_CONTEXT,
    DESK_DB_URL,
    DESK_SETTINGS,
    desk_middleware,
)
from bot.web.desk.views_dashboard import setup_dashboard_routes
from bot.web.desk.views_digests import setup_digest_routes
from bot.web.desk.views_ticket import setup_ticket_routes

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
STATIC = Path(__file__).resolve().parent.parent / "static"


def setup_desk(app: web.Application, settings: Settings, db_url: str | None = None,
               clock: Clock = system_clock) -> None:
    """Mount the desk on `app` (before it starts)."""
    app[DESK_SETTINGS] = settings
    app[DESK_DB_URL] = db_url or settings.effective_database_url
    app[DESK_CLOCK] = clock
    app[DESK_CONTEXT] = context_from_settings(clock, settings)
    env = aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                               trim_blocks=True, lstrip_blocks=True)
    env.globals["push_js"] = (STATIC / "desk" / "push.js").exists()
    app.middlewares.append(desk_middleware)
    setup_routes(app)
    setup_ticket_routes(app)
    setup_push_routes(app)
    setup_dashboard_routes(app)
    setup_digest_routes(app)
