"""Who handles a ticket: routing rules, the triage desk, least-loaded assignment, area matching."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.core.taxonomy import FINAL_STATUSES, Category, Role, Status
from bot.core.text import contains_phrase, fold
from bot.store.models import Area, Officer, OfficerRole, OrgUnit, RoutingRule, Ticket

OPEN_STATUSES = tuple(s.value for s in Status if s not in FINAL_STATUSES and s != Status.RESOLVED)


@dataclass(frozen=True)
class Route:
    unit_id: int
    officer_id: int | None
    rule_id: int | None  # None: the triage desk


def match_area(session: Session, text: str | None) -> Area | None:
    """The configured area named in free text (name or alias, diacritics-insensitive); the
    longest match wins so "Thôn 12" is not read as "Thôn 1"."""
    if not text:
        return None
    best: tuple[int, Area] | None = None
    for area in session.scalars(select(Area)):
        for name in [area.name, *area.aliases]:
            if contains_phrase(text, name) and (best is None or len(fold(name)) > best[0]):
                best = (len(fold(name)), area)
    return best[1] if best else None


def triage_unit(session: Session) -> OrgUnit:
    unit = session.scalar(select(OrgUnit).where(OrgUnit.is_triage.is_(True), OrgUnit.active)
                          .order_by(OrgUnit.id))
    if unit is None:
        raise LookupError("no triage desk configured (an org unit with is_triage: true)")
    return unit


def route(session: Session, category: str, kind: str, area_id: int | None,
          needs_triage: bool) -> Route:
    """The most specific matching rule; unsure or `khac` reports go to the triage desk."""
    if needs_triage or category == Category.KHAC:
        return Route(triage_unit(session).id, None, None)
    candidates = session.scalars(select(RoutingRule).where(
        (RoutingRule.category == category) | RoutingRule.category.is_(None),
        (RoutingRule.kind == kind) | RoutingRule.kind.is_(None),
        (RoutingRule.area_id == area_id) | RoutingRule.area_id.is_(None),
    ))
    # Most matching fields wins; on a tie the kind decides first (a tố cáo must reach its
    # handlers whatever the category), then the area, then the category.
    best = max(candidates, default=None, key=lambda r: (
        sum(x is not None for x in (r.kind, r.area_id, r.category)),
        r.kind is not None, r.area_id is not None, r.category is not None))
    if best is None:
        return Route(triage_unit(session).id, None, None)
    return Route(best.unit_id, best.officer_id, best.id)


def least_loaded_officer(session: Session, unit_id: int, role: Role = Role.OFFICER,
                         exclude: int | None = None) -> Officer | None:
    """The active officer of the unit with the fewest open tickets (ties: lowest id)."""
    load = (select(Ticket.officer_id, func.count().label("n"))
            .where(Ticket.status.in_(OPEN_STATUSES)).group_by(Ticket.officer_id).subquery())
    query = (select(Officer).join(OfficerRole, OfficerRole.officer_id == Officer.id)
             .outerjoin(load, load.c.officer_id == Officer.id)
             .where(Officer.unit_id == unit_id, Officer.active, OfficerRole.role == role)
             .order_by(func.coalesce(load.c.n, 0), Officer.id))
    if exclude is not None:
        query = query.where(Officer.id != exclude)
    return session.scalars(query).first()
