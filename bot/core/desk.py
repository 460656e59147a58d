"""The officers' side of the service API: accept, assign, transfer, ask for information,
reply, resolve, reject, reopen, notes, duplicates, extensions, documents, list and look up.
Every call names its caller and is authorised. The actions live in `bot.core.desk_actions`
and `bot.core.desk_records`; this module is the one to import."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core.authz import (
    Caller,
    NotAllowed,
    active_officer,
    may_see_identity,
    officer_can_handle,
    roles_of,
    unit_and_below,
)
from bot.core.context import CoreContext
from bot.core.desk_actions import (
    DOCUMENT_KINDS,
    TicketNotFound,
    accept,
    ask_for_information,
    assign,
    load_ticket,
    reject,
    reopen,
    reply,
    resolve,
    start_work,
    transfer_outside,
    transfer_to_unit,
    write_note,
)
from bot.core.desk_records import (
    add_document,
    add_note,
    clear_urgent,
    extend_resolve_clock,
    link_duplicate,
)
from bot.core.taxonomy import Role, Status
from bot.core.tickets import IllegalTransition
from bot.store.models import Citizen, DataAccessLog, Ticket

__all__ = [
    "DOCUMENT_KINDS", "Caller", "IllegalTransition", "NotAllowed", "TicketNotFound", "TicketView",
    "accept", "add_document", "add_note", "ask_for_information", "assign", "clear_urgent",
    "extend_resolve_clock", "link_duplicate", "load_ticket", "look_up", "queue", "reject",
    "reopen", "reply", "resolve", "start_work", "transfer_outside", "transfer_to_unit",
    "write_note",
]


@dataclass(frozen=True)
class TicketView:
    code: str
    status: str
    kind: str
    category: str
    text: str
    location_text: str | None
    unit_id: int | None
    officer_id: int | None
    citizen_name: str | None
    citizen_phone: str | None
    identity_hidden: bool


def look_up(session: Session, caller: Caller, code: str, ctx: CoreContext,
            purpose: str = "xem đơn") -> TicketView:
    """A ticket as this caller may see it; showing personal data is recorded in the access log."""
    ticket = load_ticket(session, caller, code)
    show = may_see_identity(session, caller, ticket)
    citizen = session.get(Citizen, ticket.citizen_id) if ticket.citizen_id else None
    if show and citizen is not None:
        session.add(DataAccessLog(at=ctx.clock(), actor_type=caller.type, actor_id=caller.id,
                                  citizen_id=citizen.id, ticket_id=ticket.id, purpose=purpose))
    return TicketView(
        ticket.code, ticket.status, ticket.kind, ticket.category, ticket.text,
        ticket.location_text, ticket.unit_id, ticket.officer_id,
        citizen.display_name if show and citizen else None,
        citizen.phone if show and citizen else None, identity_hidden=not show)


def queue(session: Session, caller: Caller, status: str | None = None,
          limit: int = 100) -> list[Ticket]:
    """The tickets this officer may work on, oldest first."""
    officer = active_officer(session, caller)
    roles = roles_of(officer)
    units = (unit_and_below(session, officer.unit_id) if roles & {Role.LEADER, Role.ADMIN}
             else {officer.unit_id})
    query = select(Ticket).where(Ticket.unit_id.in_(units) | (Ticket.officer_id == officer.id))
    if status:
        query = query.where(Ticket.status == Status(status))
    tickets = session.scalars(query.order_by(Ticket.received_at).limit(limit))
    return [t for t in tickets if officer_can_handle(session, officer, t)]
