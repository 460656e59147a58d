"""Tickets: creation with a unique code and a route, legal status changes with their clocks,
each recorded as an audit event and told to whoever must hear about it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core.clocks import apply_status
from bot.core.codes import next_ticket_code
from bot.core.context import CoreContext
from bot.core.notify import notify_event
from bot.core.routing import least_loaded_officer, match_area, route
from bot.core.taxonomy import ActorType, Category, Kind, Status
from bot.core.text import fold
from bot.store.models import Ticket, TicketEvent

S = Status
TRANSITIONS: dict[Status, frozenset[Status]] = {
    S.RECEIVED: frozenset({S.ACCEPTED, S.REJECTED, S.TRANSFERRED, S.WITHDRAWN, S.NEED_INFO}),
    S.ACCEPTED: frozenset({S.ASSIGNED, S.IN_PROGRESS, S.NEED_INFO, S.RESOLVED, S.TRANSFERRED,
                           S.WITHDRAWN}),
    S.ASSIGNED: frozenset({S.IN_PROGRESS, S.NEED_INFO, S.RESOLVED, S.TRANSFERRED, S.WITHDRAWN}),
    S.IN_PROGRESS: frozenset({S.NEED_INFO, S.RESOLVED, S.TRANSFERRED, S.WITHDRAWN}),
    # Out of need_info: back to the status the question interrupted (_may_leave_need_info).
    S.NEED_INFO: frozenset({S.RECEIVED, S.ACCEPTED, S.ASSIGNED, S.IN_PROGRESS, S.REJECTED,
                            S.WITHDRAWN}),
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
    latitude: float | None = None
    longitude: float | None = None
    area_id: int | None = None
    needs_triage: bool = False
    idempotency_key: str | None = None
    # Danger now (decided before filing): the acceptance clock is ctx.urgent_accept_hours hours.
    urgent: bool = False
    # What the NLU read (kept for triage corrections); None when it was not asked.
    predicted_category: str | None = None
    predicted_kind: str | None = None
    nlu_confidence: float | None = None


def search_fold(ticket: Ticket) -> str:
    """What the desk's search matches: code, words and place, folded (no case, no marks)."""
    return fold(" ".join(filter(None, (ticket.code, ticket.text, ticket.location_text))))


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


def announce(session: Session, ticket: Ticket, event: TicketEvent, ctx: CoreContext) -> None:
    session.flush()  # the event id keys the notifications
    notify_event(session, ticket, event, event.at, ctx.tz)


def create_ticket(session: Session, draft: TicketDraft, actor: Actor,
                  ctx: CoreContext) -> Ticket:
    """A new ticket in `received`, routed and on the clock, or the one already made with the
    same idempotency key (a retried step)."""
    if draft.idempotency_key:
        existing = session.scalar(
            select(Ticket).where(Ticket.idempotency_key == draft.idempotency_key))
        if existing is not None:
            return existing
    category, kind = Category(draft.category), Kind(draft.kind)  # codes of the taxonomy only
    now = ctx.clock()
    area_id = draft.area_id
    if area_id is None and (area := match_area(session, draft.location_text)) is not None:
        area_id = area.id
    target = route(session, category, kind, area_id, draft.needs_triage)
    officer_id = target.officer_id
    if officer_id is None and (officer := least_loaded_officer(session, target.unit_id)):
        officer_id = officer.id
    ticket = Ticket(
        code=next_ticket_code(session, ctx.code_prefix, now.astimezone(ctx.tz).year),
        idempotency_key=draft.idempotency_key, citizen_id=draft.citizen_id,
        channel=draft.channel, kind=kind, kind_intended=draft.kind_intended, category=category,
        needs_triage=draft.needs_triage, text=draft.text, location_text=draft.location_text,
        latitude=draft.latitude, longitude=draft.longitude, area_id=area_id,
        status=Status.RECEIVED, unit_id=target.unit_id, officer_id=officer_id,
        confidential=kind == Kind.TO_CAO, received_at=now, created_at=now, updated_at=now,
        urgent=draft.urgent, predicted_category=draft.predicted_category,
        predicted_kind=draft.predicted_kind, nlu_confidence=draft.nlu_confidence,
    )
    ticket.search_text = search_fold(ticket)
    session.add(ticket)
    apply_status(session, ticket, Status.RECEIVED, now, ctx.clocks,
                 urgent_hours=ctx.urgent_accept_hours if ticket.urgent else None)
    event = record_event(session, ticket, actor, "created", now, to_status=Status.RECEIVED,
                         data={"category": category.value, "kind": kind.value,
                               "route_rule": target.rule_id, "area_id": area_id,
                               "urgent": bool(ticket.urgent)})
    announce(session, ticket, event, ctx)
    return ticket


def require_transition(ticket: Ticket, to_status: Status, returning: bool = False) -> None:
    """Check before touching anything, so a refused step leaves the ticket as it was.
    `returning`: the citizen's answer takes a need_info ticket back where it was."""
    current = Status(ticket.status)
    if to_status not in TRANSITIONS[current] or (
            current == S.NEED_INFO and not _may_leave_need_info(ticket, to_status, returning)):
        raise IllegalTransition(f"{ticket.code}: {current} -> {to_status} is not allowed")


# Leaving need_info: the citizen's answer goes back to the status the question interrupted;
# an officer may accept a ticket asked before acceptance (its accept clock ran on), or start
# work on one asked after it, never take it back before thụ lý or accept it twice.
def _may_leave_need_info(ticket: Ticket, to_status: Status, returning: bool) -> bool:
    before = Status(ticket.status_before_info or S.IN_PROGRESS)
    if returning:
        return to_status == before
    if to_status not in (S.RECEIVED, S.ACCEPTED, S.ASSIGNED, S.IN_PROGRESS):
        return True  # rejected, withdrawn
    if before == S.RECEIVED:
        return to_status == S.ACCEPTED
    return to_status in (S.ASSIGNED, S.IN_PROGRESS)


def return_from_need_info(session: Session, ticket: Ticket, actor: Actor, ctx: CoreContext,
                          data: dict[str, Any] | None = None) -> TicketEvent:
    """The citizen answered a question: the ticket goes back to the status the question
    interrupted (`received` stays on its accept clock; paused clocks resume)."""
    back = Status(ticket.status_before_info or S.IN_PROGRESS)
    return change_status(session, ticket, back, actor, ctx, action="information_added",
                         data=data, returning=True)


def change_status(
    session: Session, ticket: Ticket, to_status: Status, actor: Actor, ctx: CoreContext,
    action: str | None = None, data: dict[str, Any] | None = None, returning: bool = False,
) -> TicketEvent:
    require_transition(ticket, to_status, returning)
    current = Status(ticket.status)
    now = ctx.clock()
    reopening = current in (S.RESOLVED, S.CLOSED) and to_status == S.IN_PROGRESS
    ticket.status = to_status
    ticket.updated_at = now
    if to_status == S.NEED_INFO:
        ticket.status_before_info = current.value
    elif current == S.NEED_INFO:
        ticket.status_before_info = None
    # A reopened ticket gets a fresh resolve period; its start status is `accepted`.
    apply_status(session, ticket, S.ACCEPTED if reopening else to_status, now, ctx.clocks,
                 restart=reopening)
    event = record_event(session, ticket, actor, action or to_status.value, now,
                         from_status=current, to_status=to_status, data=data)
    announce(session, ticket, event, ctx)
    return event


def update_fields(session: Session, ticket: Ticket, actor: Actor, ctx: CoreContext,
                  action: str = "updated", notify: bool = False,
                  data: dict[str, Any] | None = None, **changes: Any) -> TicketEvent:
    """Change ticket fields; the event names the fields (not their values: they may be personal)."""
    for name, value in changes.items():
        if not hasattr(Ticket, name):
            raise AttributeError(name)
        setattr(ticket, name, value)
    if {"text", "location_text"} & changes.keys() and "search_text" not in changes:
        ticket.search_text = search_fold(ticket)
    ticket.updated_at = ctx.clock()
    event = record_event(session, ticket, actor, action, ticket.updated_at,
                         data={"fields": sorted(changes), **(data or {})})
    if notify:
        announce(session, ticket, event, ctx)
    return event
