"""Tickets: creation with a unique code, legal status changes, each recorded as an event."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core.codes import next_ticket_code
from bot.core.taxonomy import ActorType, Category, Kind, Status
from bot.store.models import OrgUnit, Ticket, TicketEvent

S = Status
TRANSITIONS: dict[Status, frozenset[Status]] = {
    S.RECEIVED: frozenset({S.ACCEPTED, S.REJECTED, S.TRANSFERRED, S.WITHDRAWN, S.NEED_INFO}),
    S.ACCEPTED: frozenset({S.ASSIGNED, S.IN_PROGRESS, S.TRANSFERRED, S.WITHDRAWN, S.NEED_INFO}),
    S.ASSIGNED: frozenset({S.IN_PROGRESS, S.NEED_INFO, S.RESOLVED, S.TRANSFERRED, S.WITHDRAWN}),
    S.IN_PROGRESS: frozenset({S.NEED_INFO, S.RESOLVED, S.TRANSFERRED, S.WITHDRAWN}),
    S.NEED_INFO: frozenset({S.IN_PROGRESS, S.RECEIVED, S.REJECTED, S.WITHDRAWN}),
    S.RESOLVED: frozenset({S.CLOSED, S.IN_PROGRESS}),
    S.CLOSED: frozenset({S.IN_PROGRESS}),
    S.REJECTED: frozenset(),
    S.TRANSFERRED: frozenset(),
    S.WITHDRAWN: frozenset(),
}


class IllegalTransition(ValueError):
    pass


@dataclass(frozen=True)
class Actor:
    type: ActorType
    id: int | None
    channel: str


@dataclass
class TicketDraft:
    text: str
    channel: str
    citizen_id: int | None = None
    category: str = Category.KHAC
    kind: str = Kind.PHAN_ANH
    kind_intended: str | None = None
    location_text: str | None = None
    needs_triage: bool = False
    idempotency_key: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def record_event(
    session: Session, ticket: Ticket, actor: Actor, action: str, now: datetime,
    from_status: str | None = None, to_status: str | None = None,
    data: dict[str, Any] | None = None,
) -> TicketEvent:
    event = TicketEvent(
        ticket=ticket, at=now, actor_type=actor.type, actor_id=actor.id, channel=actor.channel,
        action=action, from_status=from_status, to_status=to_status, data=data or {},
    )
    session.add(event)
    return event


def triage_unit(session: Session) -> OrgUnit | None:
    return session.scalar(select(OrgUnit).where(OrgUnit.is_triage.is_(True)).order_by(OrgUnit.id))


def create_ticket(
    session: Session, draft: TicketDraft, actor: Actor, now: datetime, prefix: str, tz: ZoneInfo
) -> Ticket:
    """A new ticket in `received`, or the one already made with the same idempotency key."""
    if draft.idempotency_key:
        existing = session.scalar(
            select(Ticket).where(Ticket.idempotency_key == draft.idempotency_key)
        )
        if existing is not None:
            return existing
    Category(draft.category), Kind(draft.kind)  # reject codes outside the taxonomy
    unit = triage_unit(session)
    ticket = Ticket(
        code=next_ticket_code(session, prefix, now.astimezone(tz).year),
        idempotency_key=draft.idempotency_key,
        citizen_id=draft.citizen_id,
        channel=draft.channel,
        kind=draft.kind,
        kind_intended=draft.kind_intended,
        category=draft.category,
        needs_triage=draft.needs_triage,
        text=draft.text,
        location_text=draft.location_text,
        status=Status.RECEIVED,
        unit_id=unit.id if unit else None,
        confidential=draft.kind == Kind.TO_CAO,
        received_at=now,
        created_at=now,
        updated_at=now,
    )
    session.add(ticket)
    record_event(session, ticket, actor, "created", now, to_status=Status.RECEIVED,
                 data={"category": draft.category, "kind": draft.kind})
    session.flush()
    return ticket


def change_status(
    session: Session, ticket: Ticket, to_status: Status, actor: Actor, now: datetime,
    action: str | None = None, data: dict[str, Any] | None = None,
) -> TicketEvent:
    current = Status(ticket.status)
    if to_status not in TRANSITIONS[current]:
        raise IllegalTransition(f"{ticket.code}: {current} -> {to_status} is not allowed")
    ticket.status = to_status
    ticket.updated_at = now
    return record_event(session, ticket, actor, action or f"status_{to_status}", now,
                        from_status=current, to_status=to_status, data=data)


def update_fields(
    session: Session, ticket: Ticket, actor: Actor, now: datetime, **changes: Any
) -> TicketEvent:
    """Change ticket fields; the event names the fields (not their values: they may be personal)."""
    for name, value in changes.items():
        if not hasattr(Ticket, name):
            raise AttributeError(name)
        setattr(ticket, name, value)
    ticket.updated_at = now
    return record_event(session, ticket, actor, "updated", now, data={"fields": sorted(changes)})
