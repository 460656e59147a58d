"""Organisation import (units tree, areas, officers, routing, FAQ, answer templates) from plain
data, e.g. YAML."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core.taxonomy import AreaKind, Category, Kind, Role, UnitLevel
from bot.store.desk_models import AnswerTemplate
from bot.store.models import Area, FaqEntry, Officer, OfficerRole, OrgUnit, RoutingRule

DEMO_FILE = Path(__file__).resolve().parent.parent / "store" / "demo" / "commune.yml"


def import_org(session: Session, data: dict[str, Any], now: datetime) -> dict[str, int]:
    """Insert what is not there yet (matched by code/username/key); returns counts added."""
    added = {"units": 0, "areas": 0, "officers": 0, "routing": 0, "faq": 0,
             "answer_templates": 0}
    for unit in data.get("units", []):
        _import_unit(session, unit, None, now, added)
    session.flush()
    for item in data.get("officers", []):
        if session.scalar(select(Officer).where(Officer.username == item["username"])):
            continue
        unit = session.scalar(select(OrgUnit).where(OrgUnit.code == item["unit"]))
        if unit is None:
            raise ValueError(f"officer {item['username']}: unknown unit {item['unit']}")
        officer = Officer(username=item["username"], full_name=item["full_name"], unit=unit,
                          created_at=now)
        officer.roles = [OfficerRole(role=Role(r), unit_id=unit.id) for r in item["roles"]]
        session.add(officer)
        added["officers"] += 1
    session.flush()
    _import_rules(session, data.get("routing", []), added)
    for item in data.get("faq", []):
        if not session.scalar(select(FaqEntry).where(FaqEntry.key == item["key"])):
            session.add(FaqEntry(key=item["key"], question=item["question"],
                                 answer=item["answer"], updated_at=now))
            added["faq"] += 1
    _import_templates(session, data.get("answer_templates", []), now, added)
    session.flush()
    return added


def _import_templates(session: Session, items: list[dict[str, Any]], now: datetime,
                      added: dict[str, int]) -> None:
    """Answer templates officers start from, matched by (category, title)."""
    for item in items:
        category = Category(item["category"]).value if item.get("category") else None
        exists = session.scalar(select(AnswerTemplate).where(
            AnswerTemplate.title == item["title"],
            AnswerTemplate.category.is_(None) if category is None
            else AnswerTemplate.category == category))
        if exists is None:
            session.add(AnswerTemplate(category=category, title=item["title"],
                                       body=item["body"], updated_at=now))
            added["answer_templates"] += 1


def _import_unit(session: Session, item: dict[str, Any], parent: OrgUnit | None,
                 now: datetime, added: dict[str, int]) -> None:
    unit = session.scalar(select(OrgUnit).where(OrgUnit.code == item["code"]))
    if unit is None:
        unit = OrgUnit(code=item["code"], name=item["name"], level=UnitLevel(item["level"]),
                       is_triage=bool(item.get("is_triage")), parent=parent, created_at=now)
        session.add(unit)
        added["units"] += 1
    for area in item.get("areas", []):
        known = {a.code for a in unit.areas}
        if area["code"] not in known:
            unit.areas.append(Area(code=area["code"], name=area["name"],
                                   kind=AreaKind(area["kind"]),
                                   is_remote=bool(area.get("is_remote")),
                                   aliases=list(area.get("aliases", [])), created_at=now))
            added["areas"] += 1
    for child in item.get("children", []):
        _import_unit(session, child, unit, now, added)


def load_demo(session: Session, now: datetime) -> dict[str, int]:
    return import_org(session, yaml.safe_load(DEMO_FILE.read_text(encoding="utf-8")), now)


def export_org(session: Session) -> dict[str, Any]:
    """Everything import_org reads, in the same shape (round-trips)."""
    def unit_data(unit: OrgUnit) -> dict[str, Any]:
        item: dict[str, Any] = {"code": unit.code, "name": unit.name, "level": unit.level}
        if unit.is_triage:
            item["is_triage"] = True
        if unit.areas:
            item["areas"] = [
                {"code": a.code, "name": a.name, "kind": a.kind, "aliases": list(a.aliases),
                 **({"is_remote": True} if a.is_remote else {})}
                for a in sorted(unit.areas, key=lambda a: a.id)]
        children = sorted(unit.children, key=lambda u: u.id)
        if children:
            item["children"] = [unit_data(child) for child in children]
        return item

    roots = session.scalars(select(OrgUnit).where(OrgUnit.parent_id.is_(None)).order_by(OrgUnit.id))
    officers = session.scalars(select(Officer).order_by(Officer.id))
    rules = session.scalars(select(RoutingRule).order_by(RoutingRule.id))
    return {
        "units": [unit_data(unit) for unit in roots],
        "officers": [{"username": o.username, "full_name": o.full_name, "unit": o.unit.code,
                      "roles": sorted({r.role for r in o.roles})} for o in officers],
        "routing": [_rule_data(session, rule) for rule in rules],
        "faq": [{"key": f.key, "question": f.question, "answer": f.answer}
                for f in session.scalars(select(FaqEntry).order_by(FaqEntry.id))],
        "answer_templates": [
            {**({"category": a.category} if a.category else {}), "title": a.title,
             "body": a.body}
            for a in session.scalars(select(AnswerTemplate).where(AnswerTemplate.active)
                                     .order_by(AnswerTemplate.id))],
    }


def _rule_data(session: Session, rule: RoutingRule) -> dict[str, Any]:
    area = session.get(Area, rule.area_id) if rule.area_id else None
    officer = session.get(Officer, rule.officer_id) if rule.officer_id else None
    item = {"unit": session.get(OrgUnit, rule.unit_id).code}
    for key, value in (("category", rule.category), ("kind", rule.kind),
                       ("area", area.code if area else None),
                       ("officer", officer.username if officer else None)):
        if value is not None:
            item[key] = value
    return item


def _import_rules(session: Session, items: list[dict[str, Any]], added: dict[str, int]) -> None:
    for item in items:
        unit = session.scalar(select(OrgUnit).where(OrgUnit.code == item["unit"]))
        if unit is None:
            raise ValueError(f"routing rule: unknown unit {item['unit']}")
        area = (session.scalar(select(Area).where(Area.code == item["area"]))
                if item.get("area") else None)
        officer = (session.scalar(select(Officer).where(Officer.username == item["officer"]))
                   if item.get("officer") else None)
        category = Category(item["category"]).value if item.get("category") else None
        kind = Kind(item["kind"]).value if item.get("kind") else None
        exists = session.scalar(select(RoutingRule).where(
            RoutingRule.category.is_(category) if category is None
            else RoutingRule.category == category,
            RoutingRule.kind.is_(kind) if kind is None else RoutingRule.kind == kind,
            RoutingRule.area_id.is_(None) if area is None else RoutingRule.area_id == area.id))
        if exists is None:
            session.add(RoutingRule(category=category, kind=kind,
                                    area_id=area.id if area else None, unit_id=unit.id,
                                    officer_id=officer.id if officer else None))
            added["routing"] += 1
