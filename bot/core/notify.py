"""Turns ticket events into outbox messages for the people who must hear about them, on
their preferred channel. The only way the core reaches anyone."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core import templates as t
from bot.core.messaging import Outbound, queue_outbound
from bot.core.taxonomy import CATEGORY_LABELS, Category, Role, Status
from bot.store.models import (
    ChannelIdentity,
    Citizen,
    Officer,
    OfficerRole,
    OrgUnit,
    Ticket,
    TicketEvent,
)

OFFICER_NOTICES = {"created": t.OFFICER_NEW, "assigned": t.OFFICER_ASSIGNED,
                   "reassigned": t.OFFICER_ASSIGNED, "information_added": t.OFFICER_INFO_ADDED,
                   "reopened": t.OFFICER_REOPENED}


def citizen_address(session: Session, ticket: Ticket) -> ChannelIdentity | None:
    citizen = session.get(Citizen, ticket.citizen_id) if ticket.citizen_id else None
    if citizen is None or citizen.erased_at is not None:
        return None
    identities = sorted(citizen.identities, key=lambda i: (i.channel != ticket.channel, i.id))
    return identities[0] if identities else None


def officer_address(session: Session, officer: Officer) -> ChannelIdentity | None:
    identities = list(session.scalars(
        select(ChannelIdentity).where(ChannelIdentity.officer_id == officer.id)))
    identities.sort(key=lambda i: (i.channel != officer.preferred_channel, i.id))
    return identities[0] if identities else None


def _queue(session: Session, address: ChannelIdentity | None, text: str, key: str,
           ticket: Ticket, now: datetime, buttons: list[dict[str, str]] | None = None,
           **person: int | None) -> None:
    if address is None:
        return  # no linked channel: they see it on the web desk
    queue_outbound(session, Outbound(address.channel, address.external_id, text,
                                     buttons=buttons or [], ticket_id=ticket.id, **person),
                   key, now)


def _values(session: Session, ticket: Ticket, event: TicketEvent, tz: ZoneInfo) -> dict:
    unit = session.get(OrgUnit, ticket.unit_id) if ticket.unit_id else None
    running = [c for c in ticket.clocks if c.stopped_at is None]
    due = t.local(min(c.due_at for c in running), tz) if running else "—"
    data = event.data or {}
    return {"code": ticket.code, "unit": unit.name if unit else "bộ phận tiếp nhận", "due": due,
            "category": CATEGORY_LABELS[Category(ticket.category)],
            "question": data.get("question", ""), "answer": ticket.answer_text or "",
            "reason": data.get("reason", ""), "body": ticket.external_body or ""}


def notify_event(session: Session, ticket: Ticket, event: TicketEvent, now: datetime,
                 tz: ZoneInfo) -> None:
    values = _values(session, ticket, event, tz)
    # The conversation itself answers a new report (code, unit, deadline): no second message.
    if event.to_status and event.action != "created":
        text = (t.REOPENED.format(**values) if event.action == "reopened"
                else t.status_text(Status(event.to_status), **values))
        buttons = (t.rating_buttons(ticket.code) if event.to_status == Status.RESOLVED
                   else None)
        _queue(session, citizen_address(session, ticket), text, f"event:{event.id}:citizen",
               ticket, now, buttons=buttons, citizen_id=ticket.citizen_id)
    notice = OFFICER_NOTICES.get(event.action)
    officer = session.get(Officer, ticket.officer_id) if ticket.officer_id else None
    if notice and officer is not None:
        _queue(session, officer_address(session, officer), notice.format(**values),
               f"event:{event.id}:officer:{officer.id}", ticket, now, officer_id=officer.id)


def escalation_recipients(session: Session, ticket: Ticket) -> list[Officer]:
    """Unit heads of the ticket's unit and leaders of any unit above it."""
    ancestors, unit = [], session.get(OrgUnit, ticket.unit_id) if ticket.unit_id else None
    while unit is not None:
        ancestors.append(unit.id)
        unit = unit.parent
    heads = select(Officer).join(OfficerRole).where(
        Officer.active,
        ((OfficerRole.role == Role.UNIT_HEAD) & (Officer.unit_id == ticket.unit_id))
        | ((OfficerRole.role == Role.LEADER) & Officer.unit_id.in_(ancestors)))
    return list(session.scalars(heads).unique())


def notify_clock(session: Session, ticket: Ticket, clock_name: str, due: datetime,
                 level: str, now: datetime, tz: ZoneInfo) -> None:
    """A reminder (75%) to the officer, or an escalation (100%) to heads and leaders."""
    officer = session.get(Officer, ticket.officer_id) if ticket.officer_id else None
    values = {"code": ticket.code, "clock": t.CLOCK_NAMES.get(clock_name, clock_name),
              "due": t.local(due, tz), "officer": officer.full_name if officer else "chưa giao"}
    if level == "reminder":
        targets, text = ([officer] if officer else []), t.OFFICER_REMINDER.format(**values)
    else:
        targets, text = escalation_recipients(session, ticket), t.ESCALATION.format(**values)
    for person in targets:
        _queue(session, officer_address(session, person), text,
               f"clock:{ticket.id}:{clock_name}:{level}:{person.id}", ticket, now,
               officer_id=person.id)


def notify_not_satisfied(session: Session, ticket: Ticket, event_id: int, now: datetime) -> None:
    """NOT_SATISFIED_ACTION=escalate: the unit head and leaders hear of the reopened ticket."""
    officer = session.get(Officer, ticket.officer_id) if ticket.officer_id else None
    text = t.NOT_SATISFIED_ESCALATION.format(
        code=ticket.code, officer=officer.full_name if officer else "chưa giao")
    for person in escalation_recipients(session, ticket):
        _queue(session, officer_address(session, person), text,
               f"event:{event_id}:not_satisfied:{person.id}", ticket,
               now, officer_id=person.id)
