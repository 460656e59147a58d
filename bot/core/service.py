"""The service API that channels, Rasa actions and the web call (plain Python, own sessions)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from bot.core.citizens import citizen_for, identity_for
from bot.core.clock import Clock, system_clock
from bot.core.taxonomy import STATUS_LABELS, ActorType, Status
from bot.core.tickets import Actor, TicketDraft, create_ticket
from bot.settings import load_settings
from bot.store.db import session_scope
from bot.store.models import OrgUnit, Ticket


@dataclass(frozen=True)
class Receipt:
    code: str
    unit_name: str
    status_label: str


@dataclass(frozen=True)
class TicketSummary:
    code: str
    status_label: str
    received_local: str


def split_sender(sender_key: str) -> tuple[str, str]:
    channel, _, external_id = sender_key.partition(":")
    if not external_id:
        raise ValueError("sender key must look like 'channel:external_id'")
    return channel, external_id


def submit_report(sender_key: str, text: str, location: str | None, idempotency_key: str,
                  clock: Clock = system_clock) -> Receipt:
    """File a report from a conversation; the same idempotency key returns the same ticket."""
    settings = load_settings()
    channel, external_id = split_sender(sender_key)
    now = clock()
    with session_scope(settings.effective_database_url) as session:
        citizen = citizen_for(session, channel, external_id, now)
        draft = TicketDraft(text=text, channel=channel, citizen_id=citizen.id,
                            location_text=location, idempotency_key=idempotency_key)
        actor = Actor(ActorType.CITIZEN, citizen.id, channel)
        ticket = create_ticket(session, draft, actor, now, settings.ticket_code_prefix,
                               settings.tz)
        unit = session.get(OrgUnit, ticket.unit_id) if ticket.unit_id else None
        return Receipt(ticket.code, unit.name if unit else "bộ phận tiếp nhận",
                       STATUS_LABELS[Status(ticket.status)])


def my_tickets(sender_key: str, code: str | None = None, limit: int = 5) -> list[TicketSummary]:
    """The caller's own tickets (never anyone else's), newest first."""
    settings = load_settings()
    channel, external_id = split_sender(sender_key)
    with session_scope(settings.effective_database_url) as session:
        identity = identity_for(session, channel, external_id)
        if identity is None or identity.citizen_id is None:
            return []
        query = select(Ticket).where(Ticket.citizen_id == identity.citizen_id)
        if code:
            query = query.where(Ticket.code == code.upper())
        tickets = session.scalars(query.order_by(Ticket.id.desc()).limit(limit))
        return [
            TicketSummary(t.code, STATUS_LABELS[Status(t.status)],
                          t.received_at.astimezone(settings.tz).strftime("%d/%m/%Y %H:%M"))
            for t in tickets
        ]
