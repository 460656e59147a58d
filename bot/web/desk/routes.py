"""Routes of the desk's own pages: login, logout, invite, queue, notices and admin. The ticket
page (views_ticket.py) and Web Push (push.py) register theirs from bot.web.desk.setup_desk."""

from __future__ import annotations

from aiohttp import web

from bot.web.desk import views_auth, views_notices, views_queue
from bot.web.desk.views_admin import setup_admin_routes


async def desk_root(_request: web.Request) -> web.Response:
    raise web.HTTPFound("/desk/")


def setup_routes(app: web.Application) -> None:
    router = app.router
    router.add_get("/desk", desk_root)
    router.add_get("/desk/", views_queue.queue_page)
    router.add_get("/desk/queue.json", views_queue.queue_json)
    router.add_get("/desk/login", views_auth.login_page)
    router.add_post("/desk/login", views_auth.login_submit)
    router.add_post("/desk/logout", views_auth.logout)
    router.add_get("/desk/invite/{code}", views_auth.invite_page)
    router.add_post("/desk/invite/{code}", views_auth.invite_submit)
    router.add_get("/desk/notices", views_notices.notices_page)
    router.add_post("/desk/notices/read", views_notices.notices_read)
    setup_admin_routes(app)
