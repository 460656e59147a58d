"""Admin pages (/desk/admin/...): units, areas and aliases, officers (add, edit, roles,
deactivate, invite link), routing rules, FAQ entries and answer templates. Thin views over
bot.core.admin and bot.core.answers, which check Role.ADMIN again and audit every change; the
page itself also needs the role (a GET without it is refused, not just hidden)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core import admin, answers
from bot.core.admin import AdminError
from bot.core.authz import NotAllowed
from bot.store.db import session_scope
from bot.store.models import Area, Officer, OrgUnit
from bot.web.desk import security as sec
from bot.web.desk.forms import (
    AREA_KIND_CHOICES,
    CATEGORY_CHOICES,
    KIND_CHOICES,
    LEVEL_CHOICES,
    ROLE_CHOICES,
    Field,
    current,
    read,
)

SAVED_TEXT = "Đã lưu."
CREATED_TEXT = "Đã thêm."
DELETED_TEXT = "Đã xóa quy tắc."
DEACTIVATED_TEXT = "Đã ngừng tài khoản cán bộ; các phiên đăng nhập của cán bộ đã kết thúc."


def _units(session: Session) -> list[tuple[str, str]]:
    return [(str(i), n) for i, n in session.execute(
        select(OrgUnit.id, OrgUnit.name).order_by(OrgUnit.id))]


def _areas(session: Session) -> list[tuple[str, str]]:
    return [(str(i), n) for i, n in session.execute(select(Area.id, Area.name).order_by(Area.id))]


def _officers(session: Session) -> list[tuple[str, str]]:
    return [(str(i), f"{n} ({u})") for i, n, u in session.execute(
        select(Officer.id, Officer.full_name, Officer.username)
        .where(Officer.active.is_(True)).order_by(Officer.id))]


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    fields: Callable[[Session], list[Field]]
    items: Callable[[Session, Any], list[Any]]
    describe: Callable[[Any, dict[str, dict[str, str]]], tuple[str, str]]
    create: Callable[..., Any]
    update: Callable[..., Any]


def _unit_fields(session: Session) -> list[Field]:
    return [Field("code", "Mã (chữ thường không dấu)", required=True, create_only=True),
            Field("name", "Tên đơn vị", required=True),
            Field("level", "Cấp", "select", LEVEL_CHOICES),
            Field("parent_id", "Đơn vị cấp trên", "select", _units(session), empty="(không có)"),
            Field("is_triage", "Bàn phân loại (tiếp nhận đơn chưa rõ)", "check"),
            Field("active", "Đang hoạt động", "check")]


def _area_fields(session: Session) -> list[Field]:
    return [Field("unit_id", "Đơn vị", "select", _units(session), create_only=True),
            Field("code", "Mã (chữ thường không dấu)", required=True, create_only=True),
            Field("name", "Tên thôn/tổ", required=True),
            Field("kind", "Loại", "select", AREA_KIND_CHOICES),
            Field("aliases", "Tên gọi khác (mỗi dòng một tên)", "lines"),
            Field("is_remote", "Vùng xa", "check")]


def _officer_fields(session: Session) -> list[Field]:
    return [Field("username", "Tên đăng nhập", required=True, create_only=True),
            Field("full_name", "Họ tên", required=True),
            Field("unit_id", "Đơn vị", "select", _units(session)),
            Field("email", "Thư điện tử", "email"),
            Field("on_call", "Trực khẩn cấp (nhận báo đơn khẩn mọi lúc)", "check"),
            Field("roles", "Vai trò", "checks", ROLE_CHOICES)]


def _rule_fields(session: Session) -> list[Field]:
    return [Field("category", "Lĩnh vực", "select", CATEGORY_CHOICES, empty="(mọi lĩnh vực)"),
            Field("kind", "Loại đơn", "select", KIND_CHOICES, empty="(mọi loại)"),
            Field("area_id", "Thôn/tổ", "select", _areas(session), empty="(mọi nơi)"),
            Field("unit_id", "Đơn vị nhận", "select", _units(session)),
            Field("officer_id", "Cán bộ mặc định", "select", _officers(session),
                  empty="(không)")]


def _faq_fields(_session: Session) -> list[Field]:
    return [Field("key", "Mã câu hỏi", required=True, create_only=True),
            Field("question", "Câu hỏi", "textarea", required=True, maxlength=1000),
            Field("answer", "Câu trả lời", "textarea", required=True, maxlength=4000),
            Field("active", "Đang dùng", "check")]


def _template_fields(_session: Session) -> list[Field]:
    return [Field("category", "Lĩnh vực", "select", CATEGORY_CHOICES, empty="(mọi lĩnh vực)"),
            Field("title", "Tên mẫu", required=True),
            Field("body", "Nội dung", "textarea", required=True, maxlength=4000),
            Field("active", "Đang dùng", "check")]


def _create_officer(session, caller, now, **values):
    return admin.create_officer(session, caller, values.pop("username"),
                                values.pop("full_name"), values.pop("unit_id"), now=now,
                                **values)


def _update_officer(session, caller, item_id, now, roles, **values):
    admin.update_officer(session, caller, item_id, now=now, **values)
    return admin.set_roles(session, caller, item_id, roles, now=now)


def _without_active(create: Callable[..., Any]) -> Callable[..., Any]:
    def call(session, caller, now, active=True, **values):
        return create(session, caller, now=now, **values)
    return call


def _name(names: dict[str, dict[str, str]], field_name: str, value: Any, default: str) -> str:
    return names.get(field_name, {}).get(str(value), default) if value is not None else default


def _describe_officer(o: Officer, names: dict[str, dict[str, str]]) -> tuple[str, str]:
    roles = ", ".join(_name(names, "roles", r.role, r.role) for r in o.roles)
    extra = "".join((f" · {o.email}" if o.email else "", " · trực khẩn cấp" if o.on_call else "",
                     "" if o.active else " · đã ngừng"))
    return o.full_name, f"{o.username} · {o.unit.name} · {roles}{extra}"


def _describe_rule(r: Any, names: dict[str, dict[str, str]]) -> tuple[str, str]:
    title = (f"{_name(names, 'category', r.category, 'Mọi lĩnh vực')} · "
             f"{_name(names, 'kind', r.kind, 'mọi loại đơn')}")
    where = _name(names, "area_id", r.area_id, "mọi nơi")
    who = _name(names, "officer_id", r.officer_id, "")
    return title, (f"{where} → {_name(names, 'unit_id', r.unit_id, '?')}"
                   + (f" · {who}" if who else ""))


SECTIONS = {s.key: s for s in (
    Section("units", "Đơn vị", _unit_fields, admin.list_units,
            lambda u, n: (u.name, f"{u.code} · {_name(n, 'level', u.level, u.level)}"
                          f"{' · bàn phân loại' if u.is_triage else ''}"
                          f"{'' if u.active else ' · ngừng'}"),
            _without_active(admin.create_unit),
            lambda s, c, i, now, **v: admin.update_unit(s, c, i, now=now, **v)),
    Section("areas", "Thôn, tổ và tên gọi khác", _area_fields, admin.list_areas,
            lambda a, n: (a.name, f"{a.code} · {a.unit.name}"
                          + (f" · còn gọi: {', '.join(a.aliases)}" if a.aliases else "")),
            lambda s, c, now, **v: admin.create_area(s, c, now=now, **v),
            lambda s, c, i, now, **v: admin.update_area(s, c, i, now=now, **v)),
    Section("officers", "Cán bộ", _officer_fields, admin.list_officers, _describe_officer,
            _create_officer, _update_officer),
    Section("rules", "Quy tắc chuyển đơn", _rule_fields, admin.list_rules, _describe_rule,
            lambda s, c, now, **v: admin.create_rule(s, c, now=now, **v),
            lambda s, c, i, now, **v: admin.update_rule(s, c, i, now=now, **v)),
    Section("faq", "Câu hỏi thường gặp", _faq_fields, admin.list_faq,
            lambda f, n: (f.question, f"{f.key}{'' if f.active else ' · không dùng'}"),
            _without_active(admin.create_faq),
            lambda s, c, i, now, **v: admin.update_faq(s, c, i, now=now, **v)),
    Section("templates", "Mẫu trả lời", _template_fields, answers.list_templates,
            lambda t, n: (t.title, _name(n, "category", t.category, "Mọi lĩnh vực")
                          + ("" if t.active else " · không dùng")),
            _without_active(answers.create_template),
            lambda s, c, i, now, **v: answers.update_template(s, c, i, now=now, **v)),
)}


def _page(request: web.Request, user: sec.DeskUser, section: Section,
          extra: dict | None = None, status: int = 200) -> web.Response:
    with session_scope(sec.db_url(request)) as session:
        try:
            items = section.items(session, user.caller)
        except NotAllowed as refused:
            raise web.HTTPForbidden(text=str(refused)) from None
        fields = section.fields(session)
        names = {f.name: dict(f.choices) for f in fields if f.choices}
        rows = []
        for item in items:
            title, subtitle = section.describe(item, names)
            rows.append({"id": item.id, "title": title, "subtitle": subtitle,
                         "active": getattr(item, "active", True),
                         "values": {f.name: current(item, f) for f in fields}})
    return sec.render(request, "desk/admin.html", {
        "sections": SECTIONS.values(), "section": section, "fields": fields, "rows": rows,
        **(extra or {})}, status=status)


async def admin_index(request: web.Request) -> web.Response:
    sec.require_role(request, "admin")
    raise web.HTTPFound("/desk/admin/officers")


async def admin_section(request: web.Request) -> web.Response:
    user = sec.require_role(request, "admin")
    return _page(request, user, SECTIONS[request.match_info["section"]])


async def _checked_post(request: web.Request) -> tuple[sec.DeskUser, Section, Any]:
    sec.require_user(request)
    form = await request.post()
    sec.check_csrf(request, form)
    return sec.require_role(request, "admin"), SECTIONS[request.match_info["section"]], form


def _run(request: web.Request, section: Section, done_text: str,
         call: Callable[[Session], Any]) -> None:
    """Run one core call; AdminError shows as an error flash, NotAllowed as a 403 page."""
    try:
        with session_scope(sec.db_url(request)) as session:
            call(session)
    except AdminError as problem:
        sec.flash(request, str(problem), "error")
    except NotAllowed as refused:
        raise web.HTTPForbidden(text=str(refused)) from None
    else:
        sec.flash(request, done_text)
    raise web.HTTPFound(f"/desk/admin/{section.key}")


def _fields_now(request: web.Request, section: Section) -> list[Field]:
    with session_scope(sec.db_url(request)) as session:
        return section.fields(session)


async def admin_create(request: web.Request) -> web.Response:
    user, section, form = await _checked_post(request)
    values = read(form, _fields_now(request, section), creating=True)
    _run(request, section, CREATED_TEXT,
         lambda s: section.create(s, user.caller, sec.now(request), **values))


async def admin_update(request: web.Request) -> web.Response:
    user, section, form = await _checked_post(request)
    item_id = int(request.match_info["item_id"])
    values = read(form, _fields_now(request, section), creating=False)
    _run(request, section, SAVED_TEXT,
         lambda s: section.update(s, user.caller, item_id, sec.now(request), **values))


async def officer_deactivate(request: web.Request) -> web.Response:
    user, section, _form = await _checked_post(request)
    item_id = int(request.match_info["item_id"])
    _run(request, section, DEACTIVATED_TEXT, lambda s: admin.deactivate_officer(
        s, user.caller, item_id, sec.now(request)))


async def rule_delete(request: web.Request) -> web.Response:
    user, section, _form = await _checked_post(request)
    item_id = int(request.match_info["item_id"])
    _run(request, section, DELETED_TEXT,
         lambda s: admin.delete_rule(s, user.caller, item_id, sec.now(request)))


async def officer_invite(request: web.Request) -> web.Response:
    """A one-time invite link, shown once on this response (never stored in clear)."""
    user, section, _form = await _checked_post(request)
    item_id = int(request.match_info["item_id"])
    try:
        with session_scope(sec.db_url(request)) as session:
            code = admin.invite_officer(session, user.caller, item_id, sec.now(request))
            name = session.get(Officer, item_id).full_name
    except AdminError as problem:
        sec.flash(request, str(problem), "error")
        raise web.HTTPFound("/desk/admin/officers") from None
    except NotAllowed as refused:
        raise web.HTTPForbidden(text=str(refused)) from None
    link = f"{sec.settings_of(request).desk_base_url}/desk/invite/{code}"
    return _page(request, user, section, {"invite": {"name": name, "link": link, "code": code}})


def setup_admin_routes(app: web.Application) -> None:
    sections = "{section:" + "|".join(SECTIONS) + "}"
    item = r"{item_id:\d{1,9}}"
    app.router.add_get("/desk/admin/", admin_index)
    app.router.add_get("/desk/admin", admin_index)
    app.router.add_get(f"/desk/admin/{sections}", admin_section)
    app.router.add_post(f"/desk/admin/{sections}/new", admin_create)
    app.router.add_post(f"/desk/admin/{{section:officers}}/{item}/deactivate",
                        officer_deactivate)
    app.router.add_post(f"/desk/admin/{{section:officers}}/{item}/invite", officer_invite)
    app.router.add_post(f"/desk/admin/{{section:rules}}/{item}/delete", rule_delete)
    app.router.add_post(f"/desk/admin/{sections}/{item}", admin_update)
