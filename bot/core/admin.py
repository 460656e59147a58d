"""Admin CRUD for the desk: units, areas and aliases, officers (roles, on-call, e-mail,
deactivation, invite codes), routing rules, and (in bot/core/answers.py, re-exported here) FAQ
entries and answer templates. Every call needs Role.ADMIN and writes an AdminChange row naming
the fields changed (never their values: they may be personal). All of it lives in DB rows that
routing, the FAQ and the desk read on each use, so a change takes effect at once, with no
restart or retraining.

Errors a form can show are AdminError (a ValueError with a Vietnamese message)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core.authz import Caller, require_role
from bot.core.officers import create_invite
from bot.core.taxonomy import AreaKind, Category, Kind, Role, UnitLevel
from bot.store.desk_models import AdminChange, DeskSession
from bot.store.models import Area, Officer, OfficerRole, OrgUnit, RoutingRule
from bot.store.types import utcnow

T = TypeVar("T")
CODE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,99}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class AdminError(ValueError):
    """A refused admin change; the message is safe to show."""


def admin_of(session: Session, caller: Caller) -> Officer:
    return require_role(session, caller, Role.ADMIN)


def audit(session: Session, admin: Officer, entity: str, entity_id: int | None, action: str,
          fields: Iterable[str], now: datetime | None) -> None:
    """One AdminChange row: who, which record, which fields (names only)."""
    session.add(AdminChange(at=now or utcnow(), officer_id=admin.id, entity=entity,
                            entity_id=entity_id, action=action, fields=sorted(fields)))
    session.flush()


def apply_changes(obj: Any, changes: dict[str, Any]) -> list[str]:
    """Set the changed values; returns the names of fields whose value changed."""
    changed = []
    for name, value in changes.items():
        if getattr(obj, name) != value:
            setattr(obj, name, value)
            changed.append(name)
    return changed


def only_fields(changes: dict[str, Any], allowed: set[str]) -> None:
    if unknown := set(changes) - allowed:
        raise AdminError(f"Không sửa được trường: {', '.join(sorted(unknown))}.")


def cleaned(changes: dict[str, Any], cleaners: dict[str, Callable[[Any], Any]]) -> dict[str, Any]:
    """The changes with each value checked and normalised by its field's cleaner; a field
    without a cleaner may not be changed."""
    only_fields(changes, set(cleaners))
    return {name: cleaners[name](value) for name, value in changes.items()}


def new_code(session: Session, column: Any, value: str | None, what: str, *where: Any,
             pattern: re.Pattern[str] = CODE, chars: str = "'-' hoặc '_'",
             taken: str = "{what} {code} đã có.") -> str:
    """A new record's code (or user name): lowercase ASCII letters, digits and `chars`, not
    used yet by `column` (among the rows `where` selects)."""
    code = (value or "").strip().lower()
    if not pattern.match(code):
        raise AdminError(f"{what} chỉ gồm chữ thường không dấu, số, {chars}.")
    if session.scalar(select(column).where(column == code, *where)) is not None:
        raise AdminError(taken.format(what=what, code=code))
    return code


def created(session: Session, admin: Officer, entity: str, obj: T, fields: Iterable[str],
            now: datetime | None) -> T:
    """Store a new record and its AdminChange row."""
    session.add(obj)
    session.flush()
    audit(session, admin, entity, obj.id, "create", fields, now)
    return obj


def get_or_fail(session: Session, model: type[T], entity_id: int | None, what: str) -> T:
    obj = session.get(model, entity_id) if entity_id is not None else None
    if obj is None:
        raise AdminError(f"Không tìm thấy {what}.")
    return obj


def required_text(value: str | None, what: str, limit: int = 200) -> str:
    value = (value or "").strip()
    if not value or len(value) > limit:
        raise AdminError(f"Vui lòng nhập {what} (tối đa {limit} ký tự).")
    return value


def choice(enum: type, value: str | None, what: str, optional: bool = False) -> str | None:
    if optional and not value:
        return None
    try:
        return enum(value).value
    except ValueError:
        raise AdminError(f"{what} không hợp lệ.") from None


# --- Units -------------------------------------------------------------------------------

def list_units(session: Session, caller: Caller) -> list[OrgUnit]:
    admin_of(session, caller)
    return list(session.scalars(select(OrgUnit).order_by(OrgUnit.id)))


def create_unit(session: Session, caller: Caller, code: str, name: str, level: str,
                parent_id: int | None = None, is_triage: bool = False,
                now: datetime | None = None) -> OrgUnit:
    admin = admin_of(session, caller)
    code = new_code(session, OrgUnit.code, code, "Mã đơn vị")
    parent = get_or_fail(session, OrgUnit, parent_id, "đơn vị cấp trên") if parent_id else None
    unit = OrgUnit(code=code, name=required_text(name, "tên đơn vị"),
                   level=choice(UnitLevel, level, "Cấp đơn vị"), parent=parent,
                   is_triage=bool(is_triage), created_at=now or utcnow())
    return created(session, admin, "unit", unit,
                   ["code", "name", "level", "parent_id", "is_triage"], now)


def update_unit(session: Session, caller: Caller, unit_id: int, now: datetime | None = None,
                **changes: Any) -> OrgUnit:
    """Fields: name, level, parent_id, is_triage, active."""
    admin = admin_of(session, caller)
    unit = get_or_fail(session, OrgUnit, unit_id, "đơn vị")
    changes = cleaned(changes, {"name": lambda v: required_text(v, "tên đơn vị"),
                                "level": lambda v: choice(UnitLevel, v, "Cấp đơn vị"),
                                "parent_id": lambda v: v, "is_triage": bool, "active": bool})
    if changes.get("parent_id") is not None:
        parent = get_or_fail(session, OrgUnit, changes["parent_id"], "đơn vị cấp trên")
        ancestor: OrgUnit | None = parent
        while ancestor is not None:
            if ancestor.id == unit.id:
                raise AdminError("Đơn vị cấp trên không thể là chính nó hoặc đơn vị cấp dưới.")
            ancestor = ancestor.parent
    if unit.is_triage and unit.active and (changes.get("is_triage") is False
                                           or changes.get("active") is False):
        others = session.scalar(select(OrgUnit.id).where(
            OrgUnit.is_triage.is_(True), OrgUnit.active.is_(True), OrgUnit.id != unit.id))
        if others is None:
            raise AdminError("Cần giữ ít nhất một bàn phân loại (đơn vị tiếp nhận) hoạt động.")
    changed = apply_changes(unit, changes)
    if changed:
        audit(session, admin, "unit", unit.id,
              "deactivate" if changes.get("active") is False else "update", changed, now)
    return unit


# --- Areas -------------------------------------------------------------------------------

def _aliases(values: Iterable[str] | None) -> list[str]:
    seen: list[str] = []
    for value in values or []:
        value = value.strip()
        if value and value not in seen and len(value) <= 200:
            seen.append(value)
    return seen


def list_areas(session: Session, caller: Caller, unit_id: int | None = None) -> list[Area]:
    admin_of(session, caller)
    query = select(Area).order_by(Area.unit_id, Area.id)
    if unit_id is not None:
        query = query.where(Area.unit_id == unit_id)
    return list(session.scalars(query))


def create_area(session: Session, caller: Caller, unit_id: int, code: str, name: str,
                kind: str, aliases: Iterable[str] = (), is_remote: bool = False,
                now: datetime | None = None) -> Area:
    admin = admin_of(session, caller)
    unit = get_or_fail(session, OrgUnit, unit_id, "đơn vị")
    code = new_code(session, Area.code, code, "Mã thôn/tổ", Area.unit_id == unit.id,
                    taken="Mã {code} đã có trong đơn vị này.")
    area = Area(unit_id=unit.id, code=code, name=required_text(name, "tên thôn/tổ"),
                kind=choice(AreaKind, kind, "Loại địa bàn"), aliases=_aliases(aliases),
                is_remote=bool(is_remote), created_at=now or utcnow())
    return created(session, admin, "area", area,
                   ["unit_id", "code", "name", "kind", "aliases", "is_remote"], now)


def update_area(session: Session, caller: Caller, area_id: int, now: datetime | None = None,
                **changes: Any) -> Area:
    """Fields: name, kind, aliases (a list of names), is_remote."""
    admin = admin_of(session, caller)
    area = get_or_fail(session, Area, area_id, "thôn/tổ")
    changed = apply_changes(area, cleaned(changes, {
        "name": lambda v: required_text(v, "tên thôn/tổ"),
        "kind": lambda v: choice(AreaKind, v, "Loại địa bàn"), "aliases": _aliases,
        "is_remote": bool}))
    if changed:
        audit(session, admin, "area", area.id, "update", changed, now)
    return area


# --- Officers ----------------------------------------------------------------------------

def list_officers(session: Session, caller: Caller) -> list[Officer]:
    admin_of(session, caller)
    return list(session.scalars(select(Officer).order_by(Officer.active.desc(), Officer.id)))


def _roles(roles: Iterable[str]) -> list[str]:
    chosen = sorted({choice(Role, r, "Vai trò") for r in roles})
    if not chosen:
        raise AdminError("Chọn ít nhất một vai trò.")
    return chosen


def _email(value: str | None) -> str | None:
    value = (value or "").strip()
    if value and (not EMAIL.match(value) or len(value) > 200):
        raise AdminError("Địa chỉ e-mail không hợp lệ.")
    return value or None


def create_officer(session: Session, caller: Caller, username: str, full_name: str,
                   unit_id: int, roles: Iterable[str], email: str | None = None,
                   on_call: bool = False, now: datetime | None = None) -> Officer:
    admin = admin_of(session, caller)
    username = new_code(session, Officer.username, username, "Tên đăng nhập",
                        pattern=USERNAME, chars="'.', '-' hoặc '_'")
    unit = get_or_fail(session, OrgUnit, unit_id, "đơn vị")
    officer = Officer(username=username, full_name=required_text(full_name, "họ tên"), unit=unit,
                      email=_email(email), on_call=bool(on_call), created_at=now or utcnow())
    officer.roles = [OfficerRole(role=r, unit_id=unit.id) for r in _roles(roles)]
    return created(session, admin, "officer", officer,
                   ["username", "full_name", "unit_id", "roles", "email", "on_call"], now)


def update_officer(session: Session, caller: Caller, officer_id: int,
                   now: datetime | None = None, **changes: Any) -> Officer:
    """Fields: full_name, email, on_call, unit_id, active (False: see deactivate_officer)."""
    admin = admin_of(session, caller)
    officer = get_or_fail(session, Officer, officer_id, "cán bộ")
    changes = cleaned(changes, {
        "full_name": lambda v: required_text(v, "họ tên"), "email": _email, "on_call": bool,
        "unit_id": lambda v: get_or_fail(session, OrgUnit, v, "đơn vị").id, "active": bool})
    if changes.get("active") is False:
        changes.pop("active")
        deactivate_officer(session, caller, officer_id, now)
    changed = apply_changes(officer, changes)
    if "unit_id" in changed:
        for role in officer.roles:
            role.unit_id = officer.unit_id
        session.expire(officer, ["unit"])
    if changed:
        audit(session, admin, "officer", officer.id, "update", changed, now)
    return officer


def set_roles(session: Session, caller: Caller, officer_id: int, roles: Iterable[str],
              now: datetime | None = None) -> Officer:
    admin = admin_of(session, caller)
    officer = get_or_fail(session, Officer, officer_id, "cán bộ")
    wanted = _roles(roles)
    if officer.id == admin.id and Role.ADMIN.value not in wanted:
        raise AdminError("Anh/chị không thể tự bỏ quyền quản trị của mình.")
    if sorted({r.role for r in officer.roles}) == wanted:
        return officer
    keep = [r for r in officer.roles if r.role in wanted]
    officer.roles = keep + [OfficerRole(role=r, unit_id=officer.unit_id)
                            for r in wanted if r not in {k.role for k in keep}]
    session.flush()
    audit(session, admin, "officer", officer.id, "update", ["roles"], now)
    return officer


def deactivate_officer(session: Session, caller: Caller, officer_id: int,
                       now: datetime | None = None) -> Officer:
    """Ngừng: no login, no notices, no on-call; the desk sessions end at once."""
    admin = admin_of(session, caller)
    officer = get_or_fail(session, Officer, officer_id, "cán bộ")
    if officer.id == admin.id:
        raise AdminError("Anh/chị không thể tự khóa tài khoản của mình.")
    if not officer.active:
        return officer
    now = now or utcnow()
    changed = apply_changes(officer, {"active": False, "on_call": False})
    for desk_session in session.scalars(select(DeskSession).where(
            DeskSession.officer_id == officer.id, DeskSession.revoked_at.is_(None))):
        desk_session.revoked_at = now
    audit(session, admin, "officer", officer.id, "deactivate", changed, now)
    return officer


def invite_officer(session: Session, caller: Caller, officer_id: int,
                   now: datetime | None = None) -> str:
    """A one-time code (shown once) linking the officer's chat account or setting the desk
    password through the invite link."""
    admin = admin_of(session, caller)
    officer = get_or_fail(session, Officer, officer_id, "cán bộ")
    if not officer.active:
        raise AdminError("Tài khoản cán bộ đã ngừng hoạt động.")
    now = now or utcnow()
    code = create_invite(session, officer, now)
    audit(session, admin, "officer_invite", officer.id, "create", ["invite"], now)
    return code


# --- Routing rules -----------------------------------------------------------------------

def list_rules(session: Session, caller: Caller) -> list[RoutingRule]:
    admin_of(session, caller)
    return list(session.scalars(select(RoutingRule).order_by(RoutingRule.id)))


def _rule_values(session: Session, values: dict[str, Any]) -> dict[str, Any]:
    out = dict(values)
    if "category" in out:
        out["category"] = choice(Category, out["category"], "Lĩnh vực", optional=True)
    if "kind" in out:
        out["kind"] = choice(Kind, out["kind"], "Loại đơn", optional=True)
    if out.get("area_id") is not None:
        get_or_fail(session, Area, out["area_id"], "thôn/tổ")
    if "unit_id" in out:
        unit = get_or_fail(session, OrgUnit, out["unit_id"], "đơn vị")
        if not unit.active:
            raise AdminError("Đơn vị đã ngừng hoạt động.")
    return out


def _check_rule(session: Session, rule: RoutingRule) -> None:
    if rule.officer_id is not None:
        officer = get_or_fail(session, Officer, rule.officer_id, "cán bộ")
        if officer.unit_id != rule.unit_id:
            raise AdminError("Cán bộ mặc định phải thuộc đơn vị nhận đơn.")
    clash = session.scalar(select(RoutingRule.id).where(
        RoutingRule.id != (rule.id or -1),
        RoutingRule.category.is_(None) if rule.category is None
        else RoutingRule.category == rule.category,
        RoutingRule.kind.is_(None) if rule.kind is None else RoutingRule.kind == rule.kind,
        RoutingRule.area_id.is_(None) if rule.area_id is None
        else RoutingRule.area_id == rule.area_id))
    if clash is not None:
        raise AdminError("Đã có quy tắc cho cùng lĩnh vực, loại đơn và thôn/tổ.")


def create_rule(session: Session, caller: Caller, unit_id: int, category: str | None = None,
                kind: str | None = None, area_id: int | None = None,
                officer_id: int | None = None, now: datetime | None = None) -> RoutingRule:
    admin = admin_of(session, caller)
    values = _rule_values(session, {"unit_id": unit_id, "category": category, "kind": kind,
                                    "area_id": area_id, "officer_id": officer_id})
    rule = RoutingRule(**values)
    _check_rule(session, rule)
    return created(session, admin, "routing_rule", rule,
                   [k for k, v in values.items() if v is not None], now)


def update_rule(session: Session, caller: Caller, rule_id: int, now: datetime | None = None,
                **changes: Any) -> RoutingRule:
    """Fields: unit_id, category, kind, area_id, officer_id (None/"" = any)."""
    admin = admin_of(session, caller)
    rule = get_or_fail(session, RoutingRule, rule_id, "quy tắc")
    only_fields(changes, {"unit_id", "category", "kind", "area_id", "officer_id"})
    changed = apply_changes(rule, _rule_values(session, changes))
    if changed:
        _check_rule(session, rule)
        session.flush()
        audit(session, admin, "routing_rule", rule.id, "update", changed, now)
    return rule


def delete_rule(session: Session, caller: Caller, rule_id: int,
                now: datetime | None = None) -> None:
    admin = admin_of(session, caller)
    rule = get_or_fail(session, RoutingRule, rule_id, "quy tắc")
    session.delete(rule)
    session.flush()
    audit(session, admin, "routing_rule", rule_id, "delete", [], now)


ANSWER_FUNCTIONS = ("list_faq", "create_faq", "update_faq", "list_templates", "create_template",
                    "update_template")


def __getattr__(name: str) -> Any:
    """The CRUD of FAQ entries and answer templates lives in bot.core.answers (same rules:
    Role.ADMIN, AdminChange rows); reachable from here too."""
    if name in ANSWER_FUNCTIONS:
        from bot.core import answers

        return getattr(answers, name)
    raise AttributeError(name)
