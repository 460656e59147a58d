"""What an officer records on a ticket besides its status: internal notes, duplicate links,
the tố cáo extension of the resolve clock, numbered documents, and clearing a wrong urgent flag.
(`bot.core.desk` re-exports these names.)"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core.authz import Caller, NotAllowed
from bot.core.clocks import HOURS, recompute_terms
from bot.core.context import CoreContext
from bot.core.desk_actions import (
    add_document_row,
    load_ticket,
    require_open,
    require_text,
    write_note,
)
from bot.core.taxonomy import Kind
from bot.core.tickets import record_event, update_fields
from bot.store.models import Attachment, Ticket

NO_MERGE_KINDS = (Kind.KHIEU_NAI, Kind.TO_CAO)
MAX_EXTENSION_DAYS = 30  # Luật Tố cáo 2018, art. 30


def add_note(session: Session, caller: Caller, code: str, ctx: CoreContext, text: str) -> Ticket:
    """An internal note: on the desk only, never shown to the citizen."""
    ticket = load_ticket(session, caller, code)
    require_text(text)
    note = write_note(session, ticket, caller, "note", text, ctx, internal=True)
    record_event(session, ticket, caller.actor, "note_added", ctx.clock(),
                 data={"note_id": note.id})
    return ticket


def link_duplicate(session: Session, caller: Caller, code: str, ctx: CoreContext,
                   of_code: str) -> Ticket:
    """This ticket reports the same problem as `of_code` (the master): its reporter then
    receives the master's updates, and its own clocks stop (the master's run). Never for
    khiếu nại or tố cáo, on either side: each of those is decided on its own."""
    ticket = load_ticket(session, caller, code)
    master = load_ticket(session, caller, of_code)
    require_open(ticket)
    require_open(master)
    if ticket.kind in NO_MERGE_KINDS or master.kind in NO_MERGE_KINDS:
        raise NotAllowed("Không gộp đơn khiếu nại hoặc tố cáo: mỗi đơn được giải quyết riêng.")
    while master.duplicate_of_id is not None:  # link to the root of a chain
        master = session.get(Ticket, master.duplicate_of_id)
    if master.id == ticket.id:
        raise NotAllowed("Không thể gộp một đơn vào chính nó.")
    if ticket.duplicate_of_id == master.id:
        return ticket
    if ticket.duplicate_of_id is not None:
        raise NotAllowed("Đơn này đã được gộp vào một đơn khác.")
    now = ctx.clock()
    for clock in ticket.clocks:
        if clock.stopped_at is None:
            clock.paused_at, clock.stopped_at, clock.stopped_by = None, now, "duplicate"
    for linked in session.scalars(select(Ticket).where(Ticket.duplicate_of_id == ticket.id)):
        linked.duplicate_of_id = master.id  # tickets linked to this one follow it
    update_fields(session, ticket, caller.actor, ctx, action="linked_duplicate", notify=True,
                  data={"master_id": master.id}, duplicate_of_id=master.id)
    record_event(session, master, caller.actor, "duplicate_linked", now,
                 data={"ticket_id": ticket.id})
    return ticket


def extend_resolve_clock(session: Session, caller: Caller, code: str, ctx: CoreContext,
                         days: int, decision_number: str, reason: str,
                         especially_complex: bool = False) -> Ticket:
    """Gia hạn giải quyết tố cáo (Luật Tố cáo 2018, art. 30): at most 30 days, once, or
    twice when the case is especially complex; with the decision's number and the reason."""
    ticket = load_ticket(session, caller, code)
    if ticket.kind != Kind.TO_CAO:
        raise NotAllowed("Chỉ gia hạn thời hạn giải quyết đối với đơn tố cáo.")
    if not 1 <= int(days) <= MAX_EXTENSION_DAYS:
        raise NotAllowed("Mỗi lần gia hạn không quá 30 ngày.")
    require_text(reason)
    clock = next((c for c in ticket.clocks if c.name == "resolve" and c.stopped_at is None), None)
    if clock is None:
        raise NotAllowed("Đơn chưa được thụ lý hoặc đã giải quyết xong, không thể gia hạn.")
    allowed = 2 if especially_complex else 1
    if (clock.extensions or 0) >= allowed:
        raise NotAllowed("Đã hết số lần gia hạn: một lần, hai lần nếu vụ việc đặc biệt phức tạp.")
    document = add_document_row(session, ticket, caller, "extension", decision_number, ctx)
    note = write_note(session, ticket, caller, "reason", reason, ctx, internal=True)
    clock.due_at = clock.due_at + timedelta(days=int(days))
    clock.length += int(days)
    clock.extensions = (clock.extensions or 0) + 1
    clock.reminded_at = clock.escalated_at = None  # the new period is reminded again
    update_fields(session, ticket, caller.actor, ctx, action="resolve_clock_extended",
                  notify=True,
                  data={"days": int(days), "extension": clock.extensions,
                        "especially_complex": bool(especially_complex),
                        "document_id": document.id, "note_id": note.id,
                        "due_at": clock.due_at.isoformat()})
    return ticket


def add_document(session: Session, caller: Caller, code: str, ctx: CoreContext, kind: str,
                 number: str, attachment_id: int | None = None) -> Ticket:
    """A numbered document of the procedure (acceptance notice, decision, extension, answer),
    with the signed PDF when it was uploaded to this ticket."""
    ticket = load_ticket(session, caller, code)
    if attachment_id is not None:
        attachment = session.get(Attachment, attachment_id)
        if attachment is None or attachment.ticket_id != ticket.id:
            raise NotAllowed("Tệp đính kèm không thuộc đơn này.")
    document = add_document_row(session, ticket, caller, kind, number, ctx, attachment_id)
    record_event(session, ticket, caller.actor, "document_added", ctx.clock(),
                 data={"document_id": document.id, "kind": kind})
    return ticket


def clear_urgent(session: Session, caller: Caller, code: str, ctx: CoreContext,
                 reason: str) -> Ticket:
    """A wrong urgent flag, cleared and recorded as a correction; a running acceptance clock
    in hours goes back to its legal length from the same start."""
    ticket = load_ticket(session, caller, code)
    if not ticket.urgent:
        raise NotAllowed("Đơn này không được đánh dấu khẩn cấp.")
    require_text(reason)
    note = write_note(session, ticket, caller, "reason", reason, ctx, internal=True)
    accept = next((c for c in ticket.clocks if c.name == "accept"), None)
    if accept is not None and accept.stopped_at is None and accept.unit == HOURS:
        recompute_terms(session, ticket, "accept", ctx.clocks)
    update_fields(session, ticket, caller.actor, ctx, action="urgent_cleared",
                  data={"note_id": note.id, "correction": "urgent"}, urgent=False)
    return ticket
