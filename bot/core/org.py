"""Organisation import (units tree, areas, officers, FAQ) from plain data, e.g. YAML."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core.taxonomy import AreaKind, Role, UnitLevel
from bot.store.models import Area, FaqEntry, Officer, OfficerRole, OrgUnit

DEMO_FILE = Path(__file__).resolve().parent.parent / "store" / "demo" / "commune.yml"


def import_org(session: Session, data: dict[str, Any], now: datetime) -> dict[str, int]:
    """Insert what is not there yet (matched by code/username/key); returns counts added."""
    added = {"units": 0, "areas": 0, "officers": 0, "faq": 0}
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
    for item in data.get("faq", []):
        if not session.scalar(select(FaqEntry).where(FaqEntry.key == item["key"])):
            session.add(FaqEntry(key=item["key"], question=item["question"],
                                 answer=item["answer"], updated_at=now))
            added["faq"] += 1
    session.flush()
    return added


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
                                   aliases=list(area.get("aliases", [])), created_at=now))
            added["areas"] += 1
    for child in item.get("children", []):
        _import_unit(session, child, unit, now, added)


def load_demo(session: Session, now: datetime) -> dict[str, int]:
    return import_org(session, yaml.safe_load(DEMO_FILE.read_text(encoding="utf-8")), now)
