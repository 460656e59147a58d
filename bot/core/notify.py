"""Turns ticket events into messages for the people who must hear about them: citizens on the
channel they used last (outbox), officers through bot.core.notices (always on the desk, plus
push, e-mail and chat deliveries). The only way the core reaches anyone."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core import templates as t
from bot.core.messaging import Outbound, queue_outbound
from bot.core.notices import store_notice, ticket_buttons, ticket_link
from bot.core.taxonomy import CATEGORY_LABELS, ActorType, Category, Role, Status
from bot.store.desk_models import TicketDocument
from bot.store.models import (
    ChannelIdentity,
    Citizen,
    Officer,
    OfficerRole,
    OrgUnit,
    Ticket,
    TicketEvent,
    TicketNote,
)

# Event action -> (notice kind, headline). Every officer notice is stored on the desk
# (bot.core.notices), with or without a linked chat.
OFFICER_NOTICES = {"created": ("new", t.OFFICER_NEW), "assigned": ("assigned", t.OFFICER_ASSIGNED),
                   "reassigned": ("assigned", t.OFFICER_ASSIGNED),
                   "transferred_unit": ("assigned", t.OFFICER_TRANSFERRED),
                   "information_added": ("citizen_answered", t.OFFICER_INFO_ADDED),
                   "reopened": ("reopened", t.OFFICER_REOPENED)}
# Status messages the reporters of tickets linked to this one (duplicates) receive too; not a
# question (asked of the master's reporter) nor a withdrawal (the master's reporter's own).
LINKED_STATUSES = frozenset({Status.ACCEPTED, Status.ASSIGNED, Status.IN_PROGRESS,
                             Status.RESOLVED, Status.CLOSED, Status.REJECTED, Status.TRANSFERRED})


def citizen_address(session: Session, ticket: Ticket) -> ChannelIdentity | None:
    """The account the citizen wrote from last (one person may link several channels,
    bot.core.citizen_links); when none has written yet, the one on the ticket's channel."""
    citizen = session.get(Citizen, ticket.citizen_id) if ticket.citizen_id else None
    if citizen is None or citizen.erased_at is not None:
        return None
    seen = [i for i in citizen.identities if i.last_seen_at is not None]
    if seen:
        return max(seen, key=lambda i: (i.last_seen_at, i.id))
    identities = sorted(citizen.identities, key=lambda i: (i.channel != ticket.channel, i.id))
    return identities[0] if identities else None


def _queue(session: Session, address: ChannelIdentity | None, text: str, key: str,
           ticket: Ticket, now: datetime, buttons: list[dict[str, str]] | None = None,
           **person: int | None) -> None:
    if address is None:
        return  # an erased citizen, or no account to reach
    queue_outbound(session, Outbound(address.channel, address.external_id, text,
                                     buttons=buttons or [], ticket_id=ticket.id, **person),
                   key, now)


def _values(session: Session, ticket: Ticket, event: TicketEvent, tz: ZoneInfo) -> dict:
    unit = session.get(OrgUnit, ticket.unit_id) if ticket.unit_id else None
    running = [c for c in ticket.clocks if c.stopped_at is None]
    due = t.local(min(c.due_at for c in running), tz) if running else "—"
    data = event.data or {}
    # Officers' texts live in ticket_notes; the event names the note (internal ones never go out).
    note = session.get(TicketNote, data["note_id"]) if data.get("note_id") else None
    said = note.text if note is not None and not note.internal else ""
    return {"code": ticket.code, "unit": unit.name if unit else "bộ phận tiếp nhận", "due": due,
            "category": CATEGORY_LABELS[Category(ticket.category)], "place": _place(ticket),
            "question": said or data.get("question", ""),
            "answer": said or ticket.answer_text or "",
            "reason": said or data.get("reason", ""), "body": ticket.external_body or "",
            "text": said}


def _place(ticket: Ticket) -> str:
    """Where, for an officer's notice (a tố cáo's place stays on the desk page)."""
    if ticket.confidential:
        return t.CONFIDENTIAL_PLACE
    place = (ticket.location_text or "").strip()
    return place[:120] if place else t.NO_PLACE


def notify_event(session: Session, ticket: Ticket, event: TicketEvent, now: datetime,
                 tz: ZoneInfo) -> None:
    values = _values(session, ticket, event, tz)
    # The conversation itself answers a new report (code, unit, deadline) and an answer to a
    # question ("đã bổ sung vào đơn"): no second message.
    if event.to_status and event.action not in ("created", "information_added"):
        text = (t.REOPENED.format(**values) if event.action == "reopened"
                else t.status_text(Status(event.to_status), **values))
        buttons = (t.rating_buttons(ticket.code) if event.to_status == Status.RESOLVED
                   else None)
        _queue(session, citizen_address(session, ticket), text, f"event:{event.id}:citizen",
               ticket, now, buttons=buttons, citizen_id=ticket.citizen_id)
        if event.to_status in LINKED_STATUSES or event.action == "reopened":
            _tell_linked(session, ticket, event, text, values, now)
    elif event.action == "replied" and values["text"]:  # an officer's message, no status change
        _queue(session, citizen_address(session, ticket), t.OFFICER_REPLY.format(**values),
               f"event:{event.id}:citizen", ticket, now, citizen_id=ticket.citizen_id)
    elif event.action == "resolve_clock_extended":  # the denouncer is told (art. 30)
        document = session.get(TicketDocument, (event.data or {}).get("document_id") or 0)
        _queue(session, citizen_address(session, ticket), t.EXTENDED.format(
                   code=ticket.code, due=values["due"],
                   number=document.number if document else "—"),
               f"event:{event.id}:citizen", ticket, now, citizen_id=ticket.citizen_id)
    elif event.action == "linked_duplicate" and ticket.duplicate_of_id:
        master = session.get(Ticket, ticket.duplicate_of_id)
        _queue(session, citizen_address(session, ticket),
               t.LINKED_TO_MASTER.format(code=ticket.code, master=master.code),
               f"event:{event.id}:citizen", ticket, now, citizen_id=ticket.citizen_id)
    _notify_officers(session, ticket, event, values, now)


def _tell_linked(session: Session, master: Ticket, event: TicketEvent, text: str,
                 values: dict, now: datetime) -> None:
    """The master's status message to each reporter of a ticket linked to it, about their own
    code (no rating buttons: they rate nothing of their own)."""
    for linked in session.scalars(select(Ticket).where(Ticket.duplicate_of_id == master.id)
                                  .order_by(Ticket.id)):
        if event.to_status == Status.RESOLVED:
            said = t.LINKED_RESOLVED.format(code=linked.code, master=master.code,
                                            answer=values["answer"])
        else:
            said = text.replace(master.code, linked.code)
        _queue(session, citizen_address(session, linked), said,
               f"event:{event.id}:citizen:{linked.id}", linked, now, citizen_id=linked.citizen_id)


def _notify_officers(session: Session, ticket: Ticket, event: TicketEvent, values: dict,
                     now: datetime) -> None:
    if event.action not in OFFICER_NOTICES:
        return
    kind, headline = OFFICER_NOTICES[event.action]
    if event.action in ("assigned", "reassigned"):
        people = [session.get(Officer, ticket.officer_id)] if ticket.officer_id else []
    else:
        people = handlers(session, ticket)
    if event.action in ("created", "transferred_unit") and ticket.urgent:  # a unit's new one
        kind = "urgent"
        headline = t.OFFICER_URGENT if event.action == "created" else t.OFFICER_URGENT_TRANSFERRED
        people = [*people, *urgent_recipients(session, ticket)]
    if event.action == "reopened" and (event.data or {}).get("by") == "citizen":
        headline = t.OFFICER_REOPENED_BY_CITIZEN
    by_officer = event.actor_id if event.actor_type == ActorType.OFFICER else None
    tell_officers(session, ticket, people, kind, headline.format(**values), values,
                  f"event:{event.id}:officer", now, skip=by_officer)


def handlers(session: Session, ticket: Ticket) -> list[Officer]:
    """Who works on the ticket now: its officer, or, when it has none, every active officer of
    its unit (the triage desk included)."""
    officer = session.get(Officer, ticket.officer_id) if ticket.officer_id else None
    if officer is not None and officer.active:
        return [officer]
    if ticket.unit_id is None:
        return []
    return list(session.scalars(select(Officer).where(
        Officer.unit_id == ticket.unit_id, Officer.active).order_by(Officer.id)))


def urgent_recipients(session: Session, ticket: Ticket) -> list[Officer]:
    """At once, day or night: the unit head(s) and the on-call officers of the ticket's unit."""
    if ticket.unit_id is None:
        return []
    heads = select(Officer.id).join(OfficerRole).where(OfficerRole.role == Role.UNIT_HEAD)
    return list(session.scalars(select(Officer).where(
        Officer.unit_id == ticket.unit_id, Officer.active,
        Officer.on_call | Officer.id.in_(heads)).order_by(Officer.id)))


def tell_officers(session: Session, ticket: Ticket, people: list[Officer], kind: str,
                  headline: str, values: dict, key: str, now: datetime,
                  skip: int | None = None) -> None:
    """One stored notice per officer (dedupe key `<key>:<officer id>`), with the ticket's
    category, place, deadline and desk link, and its chat quick actions. A tố cáo reaches only
    those allowed to see it; the officer who acted is not told of their own step."""
    from bot.core.authz import officer_can_handle  # authz imports tickets, which imports us

    link = ticket_link(ticket.code)
    details = t.NOTICE_DETAILS.format(
        category=values.get("category") or CATEGORY_LABELS[Category(ticket.category)],
        place=values.get("place") or _place(ticket), due=values.get("due") or "—", link=link)
    told: set[int] = set()
    for person in people:
        if (person is None or person.id in told or person.id == skip or not person.active
                or (ticket.confidential and not officer_can_handle(session, person, ticket))):
            continue
        told.add(person.id)
        store_notice(session, person, ticket, kind, f"{headline}\n{details}",
                     f"{key}:{person.id}", now, link, ticket_buttons(ticket.code))


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
                 level: str, now: datetime, tz: ZoneInfo, period: str = "") -> None:
    """A reminder (75%) to the officer, or an escalation (100%) to heads and leaders. `period`
    names the clock's period (a reopened ticket's new period is reminded again)."""
    officer = session.get(Officer, ticket.officer_id) if ticket.officer_id else None
    values = {"code": ticket.code, "clock": t.CLOCK_NAMES.get(clock_name, clock_name),
              "due": t.local(due, tz), "officer": officer.full_name if officer else "chưa giao"}
    if level == "reminder":
        kind, targets, text = "reminder", handlers(session, ticket), t.OFFICER_REMINDER
    else:
        kind, targets, text = "escalated", escalation_recipients(session, ticket), t.ESCALATION
    tell_officers(session, ticket, targets, kind, text.format(**values), values,
                  f"clock:{ticket.id}:{clock_name}:{period}:{level}", now)


def notify_not_satisfied(session: Session, ticket: Ticket, event_id: int, now: datetime) -> None:
    """NOT_SATISFIED_ACTION=escalate: the unit head and leaders hear of the reopened ticket."""
    officer = session.get(Officer, ticket.officer_id) if ticket.officer_id else None
    text = t.NOT_SATISFIED_ESCALATION.format(
        code=ticket.code, officer=officer.full_name if officer else "chưa giao")
    tell_officers(session, ticket, escalation_recipients(session, ticket), "escalated", text,
                  {}, f"event:{event_id}:not_satisfied", now)
