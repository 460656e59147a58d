"""The public board at /public/ (no login, no cookies): resolved tickets an officer published
with a summary, their search and filters, one item's page, and the commune's figures by month.

`setup_public(app, settings, db_url, clock)` is called by bot.web.app.create_app only when
settings.public_board is on; otherwise /public/ does not exist (404). The data comes from
bot.core.public_list (which applies bot.core.public_board's privacy check); the views render
Jinja2 templates (autoescaped) from templates/public/ with their own environment, so the
board shares nothing with the desk's sessions."""

from __future__ import annotations

from bot.web.public.routes import setup_public

__all__ = ["setup_public"]
