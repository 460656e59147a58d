"""The audit invariant, enforced at flush: a ticket never changes without an event saying so."""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.orm import Session

from bot.store.models import Ticket, TicketEvent


class MissingAuditEvent(RuntimeError):
    pass


@event.listens_for(Session, "before_flush")
def _require_event_for_ticket_changes(session: Session, _context, _instances) -> None:
    changed = [t for t in session.new if isinstance(t, Ticket)]
    changed += [
        t for t in session.dirty
        if isinstance(t, Ticket) and session.is_modified(t, include_collections=False)
    ]
    if not changed:
        return
    events = [item for item in session.new if isinstance(item, TicketEvent)]
    explained_objects = {id(e.ticket) for e in events if e.ticket is not None}
    explained_ids = {e.ticket_id for e in events if e.ticket_id is not None}
    for ticket in changed:
        if id(ticket) not in explained_objects and ticket.id not in explained_ids:
            raise MissingAuditEvent(
                f"ticket {ticket.code or '(new)'} changed without a TicketEvent in the same flush"
            )
