"""The audit invariant, enforced at commit: a ticket never changes without an event saying so.

Flushes collect what changed and which tickets got events (a query may autoflush between a
change and its event); the commit is refused if any changed ticket has none."""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.orm import Session

from bot.store.models import Ticket, TicketEvent

CHANGED, EXPLAINED = "audit_changed_tickets", "audit_explained_tickets"


class MissingAuditEvent(RuntimeError):
    pass


@event.listens_for(Session, "before_flush")
def _collect(session: Session, _context, _instances) -> None:
    changed = session.info.setdefault(CHANGED, {})
    explained = session.info.setdefault(EXPLAINED, set())
    for item in session.new:
        if isinstance(item, Ticket):
            changed[id(item)] = item
        elif isinstance(item, TicketEvent):
            explained.add(id(item.ticket) if item.ticket is not None else item.ticket_id)
    for item in session.dirty:
        if isinstance(item, Ticket) and session.is_modified(item, include_collections=False):
            changed[id(item)] = item


@event.listens_for(Session, "before_commit")
def _verify(session: Session) -> None:
    session.flush()
    explained = session.info.get(EXPLAINED, set())
    for key, ticket in session.info.get(CHANGED, {}).items():
        if key not in explained and ticket.id not in explained:
            _forget(session)
            raise MissingAuditEvent(
                f"ticket {ticket.code or '(new)'} changed without a TicketEvent")
    _forget(session)


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(CHANGED, None)
    session.info.pop(EXPLAINED, None)
