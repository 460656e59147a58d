"""The officer's notices (/desk/notices): every notice stored for them, newest first, with how
each went out beyond the desk (push, e-mail, chat, or held and why); mark one or all read."""

from __future__ import annotations

from urllib.parse import urlsplit

from aiohttp import web

from bot.core import notices
from bot.store.db import session_scope
from bot.web.desk import security as sec

VIA_LABELS = {"push": "Thông báo trình duyệt", "email": "Thư điện tử", "chat": "Chat"}
STATUS_LABELS = {"pending": "đang gửi", "queued": "đang gửi", "sent": "đã gửi",
                 "held": "chưa gửi được", "failed": "lỗi"}
READ_ONE_TEXT = "Đã đánh dấu đã đọc."
READ_ALL_TEXT = "Đã đánh dấu tất cả là đã đọc."


def desk_path(link: str | None) -> str | None:
    """A notice's link as a path on this desk (the stored link names the public address)."""
    if not link:
        return None
    path = urlsplit(link).path
    return path if path.startswith("/desk/") else None


async def notices_page(request: web.Request) -> web.Response:
    user = sec.require_user(request)
    items = []
    with session_scope(sec.db_url(request)) as session:
        for notice in notices.list_notices(session, user.officer_id, limit=100):
            deliveries = [{"via": VIA_LABELS.get(d.via, d.via),
                           "status": STATUS_LABELS.get(d.status, d.status),
                           "held": d.status in ("held", "failed"), "reason": d.last_error}
                          for d in notices.deliveries_of(session, notice.id)]
            items.append({"id": notice.id, "kind": notice.kind, "text": notice.text,
                          "link": desk_path(notice.link), "unread": notice.read_at is None,
                          "at": notice.created_at.astimezone(sec.settings_of(request).tz)
                          .strftime("%d/%m/%Y %H:%M"), "deliveries": deliveries})
    return sec.render(request, "desk/notices.html", {"items": items})


async def notices_read(request: web.Request) -> web.Response:
    user = sec.require_user(request)
    form = await request.post()
    sec.check_csrf(request, form)
    raw = str(form.get("notice_id") or "")
    notice_id = int(raw) if raw.isdigit() and len(raw) < 12 else None
    with session_scope(sec.db_url(request)) as session:
        notices.mark_read(session, user.officer_id, notice_id, sec.now(request))
    sec.flash(request, READ_ONE_TEXT if notice_id else READ_ALL_TEXT)
    target = desk_path(str(form.get("next") or "")) if notice_id else None
    raise web.HTTPFound(target or "/desk/notices")
