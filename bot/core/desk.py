"""The officers' side of the service API: accept, assign, transfer, ask for information,
resolve, reject, reopen, list and look up. Every call names its caller and is authorised."""

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
    require_ticket_access,
    roles_of,
    unit_and_below,
)
from bot.core.context import CoreContext
from bot.core.routing import least_loaded_officer
from bot.core.taxonomy import FINAL_STATUSES, Category, Kind, Role, Status
from bot.core.tickets import change_status, require_transition, update_fields
from bot.store.models import Citizen, DataAccessLog, Officer, OrgUnit, Ticket


class TicketNotFound(LookupError):
    pass


def load_ticket(session: Session, caller: Caller, code: str) -> Ticket:
    ticket = session.scalar(select(Ticket).where(Ticket.code == code.strip().upper()))
    if ticket is None:
        raise TicketNotFound(code)
    require_ticket_access(session, caller, ticket)
    return ticket


def accept(session: Session, caller: Caller, code: str, ctx: CoreContext, kind: str,
           category: str, is_complex: bool = False) -> Ticket:
    """Thụ lý: the officer fixes the legal kind and category; the resolve clock starts."""
    ticket = load_ticket(session, caller, code)
    Kind(kind), Category(category)
    require_transition(ticket, Status.ACCEPTED)
    ticket.kind, ticket.category, ticket.is_complex = kind, category, is_complex
    ticket.confidential = ticket.confidential or kind == Kind.TO_CAO
    change_status(session, ticket, Status.ACCEPTED, caller.actor, ctx,
                  data={"kind": kind, "category": category, "complex": is_complex})
    return ticket


def assign(session: Session, caller: Caller, code: str, ctx: CoreContext,
           officer_id: int | None = None) -> Ticket:
    """Give the ticket to an officer of its unit (the least loaded one when none is named)."""
    ticket = load_ticket(session, caller, code)
    _require_open(ticket)
    officer = (session.get(Officer, officer_id) if officer_id is not None
               else least_loaded_officer(session, ticket.unit_id))
    if officer is None or not officer.active:
        raise NotAllowed("Không có cán bộ phù hợp để giao.")
    if officer.unit_id != ticket.unit_id or not officer_can_handle(session, officer, ticket):
        raise NotAllowed("Cán bộ được giao phải thuộc đơn vị xử lý đơn này.")
    previous = ticket.officer_id
    ticket.officer_id = officer.id
    if Status(ticket.status) == Status.ACCEPTED:
        change_status(session, ticket, Status.ASSIGNED, caller.actor, ctx, action="assigned",
                      data={"officer_id": officer.id, "previous": previous})
    else:
        update_fields(session, ticket, caller.actor, ctx, action="reassigned", notify=True,
                      officer_id=officer.id)
    return ticket


def start_work(session: Session, caller: Caller, code: str, ctx: CoreContext) -> Ticket:
    ticket = load_ticket(session, caller, code)
    change_status(session, ticket, Status.IN_PROGRESS, caller.actor, ctx)
    return ticket


def transfer_to_unit(session: Session, caller: Caller, code: str, ctx: CoreContext,
                     unit_code: str, reason: str) -> Ticket:
    """Move the ticket to another unit of this system; status and clocks continue."""
    ticket = load_ticket(session, caller, code)
    _require_open(ticket)
    unit = session.scalar(select(OrgUnit).where(OrgUnit.code == unit_code, OrgUnit.active))
    if unit is None:
        raise NotAllowed(f"Không có đơn vị {unit_code}.")
    _require_reason(reason)
    previous = ticket.unit_id
    officer = least_loaded_officer(session, unit.id)
    update_fields(session, ticket, caller.actor, ctx, action="transferred_unit", notify=True,
                  data={"from_unit": previous, "to_unit": unit.id, "reason": reason.strip()},
                  unit_id=unit.id, officer_id=officer.id if officer else None)
    return ticket


def transfer_outside(session: Session, caller: Caller, code: str, ctx: CoreContext,
                     body: str, reason: str) -> Ticket:
    """Vượt thẩm quyền: send it to a higher level or another body; it leaves this system."""
    ticket = load_ticket(session, caller, code)
    _require_reason(reason)
    require_transition(ticket, Status.TRANSFERRED)
    ticket.external_body = body.strip()
    change_status(session, ticket, Status.TRANSFERRED, caller.actor, ctx,
                  data={"body": ticket.external_body, "reason": reason})
    return ticket


def ask_for_information(session: Session, caller: Caller, code: str, ctx: CoreContext,
                        question: str) -> Ticket:
    ticket = load_ticket(session, caller, code)
    _require_reason(question)
    change_status(session, ticket, Status.NEED_INFO, caller.actor, ctx,
                  data={"question": question.strip()})
    return ticket


def resolve(session: Session, caller: Caller, code: str, ctx: CoreContext,
            answer: str) -> Ticket:
    ticket = load_ticket(session, caller, code)
    _require_reason(answer)
    require_transition(ticket, Status.RESOLVED)
    ticket.answer_text = answer.strip()
    change_status(session, ticket, Status.RESOLVED, caller.actor, ctx)
    return ticket


def reject(session: Session, caller: Caller, code: str, ctx: CoreContext, reason: str) -> Ticket:
    """Không thụ lý, with the reason and where to turn instead (told to the citizen)."""
    ticket = load_ticket(session, caller, code)
    _require_reason(reason)
    change_status(session, ticket, Status.REJECTED, caller.actor, ctx,
                  data={"reason": reason.strip()})
    return ticket


def reopen(session: Session, caller: Caller, code: str, ctx: CoreContext, reason: str) -> Ticket:
    """Back to in_progress from resolved/closed, with a fresh resolve period."""
    ticket = load_ticket(session, caller, code)
    change_status(session, ticket, Status.IN_PROGRESS, caller.actor, ctx, action="reopened",
                  data={"reason": reason.strip()})
    return ticket


def _require_open(ticket: Ticket) -> None:
    if Status(ticket.status) in FINAL_STATUSES:
        raise NotAllowed("Đơn này đã kết thúc.")


def _require_reason(text: str) -> None:
    if not text or len(text.strip()) < 3:
        raise NotAllowed("Vui lòng ghi rõ nội dung (lý do, câu hỏi hoặc trả lời).")


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
