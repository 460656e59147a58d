"""The citizens' side of the service API, as conversations call it (Rasa actions, channels):
each function opens its own session and names the citizen by channel sender key."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core import attachments, corrections
from bot.core.authz import Caller, NotAllowed
from bot.core.citizens import citizen_for, identity_for
from bot.core.clock import system_clock
from bot.core.context import CoreContext, context_from_settings
from bot.core.desk import load_ticket
from bot.core.erasure import Erased, erase_citizen
from bot.core.notify import notify_not_satisfied
from bot.core.routing import match_area
from bot.core.taxonomy import FINAL_STATUSES, STATUS_LABELS, Category, Kind, Status
from bot.core.templates import local
from bot.core.tickets import (
    TicketDraft,
    announce,
    change_status,
    create_ticket,
    record_event,
    require_transition,
    return_from_need_info,
)
from bot.core.urgent import detect as detect_urgency
from bot.settings import load_settings
from bot.store.db import session_scope
from bot.store.files import LocalFileStorage
from bot.store.models import Area, OrgUnit, OutboxMessage, Ticket, TicketNote


@dataclass(frozen=True)
class Receipt:
    code: str
    unit_name: str
    status_label: str
    accept_due_local: str
    attachments: int = 0
    urgent: bool = False  # danger now: the unit head and on-call officers were told at once
    life_at_risk: bool = False  # the citizen is given the emergency numbers


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


def _caller(session: Session, sender_key: str, ctx: CoreContext) -> Caller:
    channel, external_id = split_sender(sender_key)
    return Caller.citizen(citizen_for(session, channel, external_id, ctx.clock()).id, channel)


def _db_url() -> str:
    return load_settings().effective_database_url


REDIS_KEY_PREFIX = "nghedan"  # Rasa's Redis tracker keys: "<prefix>:tracker:<sender>"
CONSENT_VERSION = "2026-12"  # bump when the privacy notice (domain.yml) changes


def redis_tracker_key(sender_key: str) -> str:
    """Where Rasa's RedisTrackerStore keeps a conversation (rasa/core/tracker_store.py)."""
    return f"{REDIS_KEY_PREFIX}:tracker:{sender_key}"


def has_consented(sender_key: str) -> bool:
    """Whether this channel account's citizen agreed to the current privacy notice."""
    channel, external_id = split_sender(sender_key)
    with session_scope(_db_url()) as session:
        identity = identity_for(session, channel, external_id)
        citizen = identity.citizen if identity is not None else None
        return bool(citizen and citizen.consent_at and citizen.consent_version == CONSENT_VERSION)


def record_consent(sender_key: str, ctx: CoreContext | None = None) -> None:
    """The citizen agreed to the privacy notice; agreeing again changes nothing."""
    ctx = ctx or context_from_settings()
    channel, external_id = split_sender(sender_key)
    with session_scope(_db_url()) as session:
        citizen = citizen_for(session, channel, external_id, ctx.clock())
        if citizen.consent_version != CONSENT_VERSION:
            citizen.consent_at, citizen.consent_version = ctx.clock(), CONSENT_VERSION


def erase_personal_data(sender_key: str, ctx: CoreContext | None = None) -> Erased:
    """/xoadulieu, confirmed: bot.core.erasure, plus the Rasa trackers kept in Redis."""
    ctx = ctx or context_from_settings()
    settings = load_settings()
    channel, external_id = split_sender(sender_key)
    with session_scope(settings.effective_database_url) as session:
        erased = erase_citizen(session, channel, external_id, ctx,
                               LocalFileStorage(settings.storage_dir))
    if settings.redis_url and erased.conversations:
        import redis

        client = redis.Redis.from_url(settings.redis_url)
        client.delete(*[redis_tracker_key(sender) for sender in erased.conversations])
    if erased.tickets and corrections.export_path(settings).exists():
        corrections.rebuild_export(settings)  # their words leave the NLU export now
    return erased


def submit_report(sender_key: str, text: str, location: str | None, idempotency_key: str,
                  category: str = Category.KHAC, kind: str = Kind.PHAN_ANH,
                  needs_triage: bool = False, ctx: CoreContext | None = None,
                  latitude: float | None = None, longitude: float | None = None,
                  phone: str | None = None, predicted_category: str | None = None,
                  predicted_kind: str | None = None,
                  nlu_confidence: float | None = None, urgent: bool = False) -> Receipt:
    """File a report from a conversation with the files sent while drafting it; the same
    idempotency key returns the same ticket. `kind` is what the citizen intends (or what the
    NLU read); the officer fixes the legal kind on acceptance. `predicted_*` and
    `nlu_confidence`: what the NLU read from the report message (None when it read nothing),
    kept so an acceptance that fixes them records an NLU correction. `urgent`: the NLU read
    danger now; the rules on the words (bot.core.urgent) may flag it too."""
    ctx = ctx or context_from_settings()
    danger = detect_urgency(text)
    with session_scope(_db_url()) as session:
        caller = _caller(session, sender_key, ctx)
        draft = TicketDraft(text=text, channel=caller.channel, citizen_id=caller.id,
                            category=category, kind=kind, kind_intended=kind,
                            location_text=location, latitude=latitude, longitude=longitude,
                            needs_triage=needs_triage, idempotency_key=idempotency_key,
                            predicted_category=predicted_category, predicted_kind=predicted_kind,
                            nlu_confidence=nlu_confidence, urgent=urgent or danger.urgent)
        ticket = create_ticket(session, draft, caller.actor, ctx)
        channel, external_id = split_sender(sender_key)
        attachments.assign(attachments.staged(session, channel, external_id, ctx.clock()), ticket)
        if phone:
            citizen_for(session, channel, external_id, ctx.clock()).phone = phone
        unit = session.get(OrgUnit, ticket.unit_id) if ticket.unit_id else None
        accept = next((c for c in ticket.clocks if c.name == "accept"), None)
        return Receipt(ticket.code, unit.name if unit else "bộ phận tiếp nhận",
                       STATUS_LABELS[Status(ticket.status)],
                       local(accept.due_at, ctx.tz) if accept else "",
                       attachments.count_for(session, ticket), urgent=bool(ticket.urgent),
                       life_at_risk=bool(ticket.urgent) and danger.life_at_risk)


def draft_attachments(sender_key: str) -> int:
    """How many files this account sent for the report it is drafting."""
    channel, external_id = split_sender(sender_key)
    with session_scope(_db_url()) as session:
        return len(attachments.staged(session, channel, external_id, system_clock()))


def discard_draft_attachments(sender_key: str) -> int:
    """A cancelled or refused draft: its files are not kept."""
    channel, external_id = split_sender(sender_key)
    settings = load_settings()
    with session_scope(settings.effective_database_url) as session:
        files = attachments.staged(session, channel, external_id, system_clock())
        return attachments.discard(session, LocalFileStorage(settings.storage_dir), files)


def known_phone(sender_key: str) -> str | None:
    channel, external_id = split_sender(sender_key)
    with session_scope(_db_url()) as session:
        identity = identity_for(session, channel, external_id)
        return identity.citizen.phone if identity is not None and identity.citizen else None


def area_names(limit: int = 8) -> list[str]:
    """The configured areas (thôn, tổ dân phố) offered as buttons when asking where."""
    with session_scope(_db_url()) as session:
        return list(session.scalars(select(Area.name).order_by(Area.unit_id, Area.id)
                                    .limit(limit)))


def area_named_in(text: str) -> str | None:
    """A configured area the text names (when the NLU found no place in it)."""
    with session_scope(_db_url()) as session:
        area = match_area(session, text)
        return area.name if area is not None else None


def ticket_waiting_for_information(session: Session, channel: str,
                                   external_id: str) -> str | None:
    """The account's newest ticket in need_info: their next message belongs to it."""
    identity = identity_for(session, channel, external_id)
    if identity is None or identity.citizen_id is None:
        return None
    return session.scalar(select(Ticket.code).where(
        Ticket.citizen_id == identity.citizen_id, Ticket.status == Status.NEED_INFO)
        .order_by(Ticket.updated_at.desc(), Ticket.id.desc()).limit(1))


def ticket_in_relay(session: Session, channel: str, external_id: str,
                    now: datetime) -> str | None:
    """The account's ticket an officer wrote about lately (relay_until still ahead) and not
    finished: the citizen's next messages belong to it."""
    identity = identity_for(session, channel, external_id)
    if identity is None or identity.citizen_id is None:
        return None
    return session.scalar(select(Ticket.code).where(
        Ticket.citizen_id == identity.citizen_id, Ticket.relay_until > now,
        Ticket.status.not_in([s.value for s in FINAL_STATUSES]))
        .order_by(Ticket.relay_until.desc(), Ticket.id.desc()).limit(1))


def end_relay(session: Session, channel: str, external_id: str, now: datetime) -> int:
    """The citizen pressed a button or typed a command: they chose where to go, so their next
    messages are no longer relayed to a ticket. Returns how many relays ended."""
    identity = identity_for(session, channel, external_id)
    if identity is None or identity.citizen_id is None:
        return 0
    relayed = session.scalars(select(Ticket).where(Ticket.citizen_id == identity.citizen_id,
                                                   Ticket.relay_until > now)).all()
    for ticket in relayed:
        ticket.relay_until = None
        record_event(session, ticket, Caller.citizen(identity.citizen_id, channel).actor,
                     "relay_ended", now)
    return len(relayed)


def ticket_of_message(session: Session, channel: str, external_id: str,
                      platform_message_id: str) -> str | None:
    """The ticket a message we sent to this account was about (a citizen replying to it)."""
    return session.scalar(
        select(Ticket.code).join(OutboxMessage, OutboxMessage.ticket_id == Ticket.id)
        .where(OutboxMessage.channel == channel,
               OutboxMessage.recipient_external_id == external_id,
               OutboxMessage.platform_message_id == platform_message_id).limit(1))


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
            query = query.where(Ticket.code == code.strip().upper())
        tickets = session.scalars(query.order_by(Ticket.id.desc()).limit(limit))
        return [TicketSummary(t.code, STATUS_LABELS[Status(t.status)],
                              local(t.received_at, settings.tz)) for t in tickets]


def withdraw(sender_key: str, code: str, ctx: CoreContext | None = None) -> str:
    """Rút đơn; withdrawing twice is a no-op. Returns the status label."""
    ctx = ctx or context_from_settings()
    with session_scope(_db_url()) as session:
        caller = _caller(session, sender_key, ctx)
        ticket = load_ticket(session, caller, code)
        if ticket.status != Status.WITHDRAWN:
            change_status(session, ticket, Status.WITHDRAWN, caller.actor, ctx)
        return STATUS_LABELS[Status(ticket.status)]


def add_information(sender_key: str, code: str, text: str, idempotency_key: str,
                    ctx: CoreContext | None = None, inbox_id: int | None = None) -> str:
    """Attach what the citizen adds (text, and the files of message `inbox_id`); an answer to
    `need_info` puts the ticket back to work."""
    ctx = ctx or context_from_settings()
    with session_scope(_db_url()) as session:
        caller = _caller(session, sender_key, ctx)
        ticket = load_ticket(session, caller, code)
        if session.scalar(select(TicketNote).where(TicketNote.idempotency_key == idempotency_key)):
            return STATUS_LABELS[Status(ticket.status)]
        if Status(ticket.status) in (Status.CLOSED, Status.REJECTED, Status.TRANSFERRED,
                                     Status.WITHDRAWN):
            raise NotAllowed("Dạ, đơn này đã kết thúc, Ông/Bà vui lòng gửi phản ánh mới.")
        files = attachments.assign(attachments.of_inbox(session, inbox_id), ticket) \
            if inbox_id is not None else 0
        session.add(TicketNote(ticket_id=ticket.id, idempotency_key=idempotency_key,
                               author_type=caller.type, author_id=caller.id,
                               text=text or f"(gửi kèm {files} tệp)", created_at=ctx.clock()))
        if ticket.status == Status.NEED_INFO:  # back to the status the question interrupted
            return_from_need_info(session, ticket, caller.actor, ctx,
                                  data={"attachments": files})
        else:
            announce(session, ticket,
                     record_event(session, ticket, caller.actor, "information_added", ctx.clock(),
                                  data={"attachments": files}),
                     ctx)
        return STATUS_LABELS[Status(ticket.status)]


def rate(sender_key: str, code: str, rating: int, comment: str | None = None,
         ctx: CoreContext | None = None) -> str:
    """1-5 stars on a resolved ticket, which closes it; a second rating changes nothing."""
    if not 1 <= int(rating) <= 5:
        raise NotAllowed("Dạ, Ông/Bà vui lòng chọn từ 1 đến 5.")
    ctx = ctx or context_from_settings()
    with session_scope(_db_url()) as session:
        caller = _caller(session, sender_key, ctx)
        ticket = load_ticket(session, caller, code)
        if ticket.status != Status.RESOLVED:
            raise NotAllowed("Dạ, đơn này chưa có kết quả để đánh giá.")
        require_transition(ticket, Status.CLOSED)
        ticket.rating, ticket.rating_comment = int(rating), comment
        change_status(session, ticket, Status.CLOSED, caller.actor, ctx, action="rated",
                      data={"rating": int(rating)})
        return STATUS_LABELS[Status.CLOSED]


def add_rating_comment(sender_key: str, code: str, comment: str,
                       ctx: CoreContext | None = None) -> None:
    """The optional comment after a rating; the first one is kept, a retry changes nothing."""
    ctx = ctx or context_from_settings()
    with session_scope(_db_url()) as session:
        caller = _caller(session, sender_key, ctx)
        ticket = load_ticket(session, caller, code)
        if ticket.rating is None:
            raise NotAllowed("Dạ, đơn này chưa được đánh giá.")
        if not ticket.rating_comment and comment.strip():
            ticket.rating_comment = comment.strip()[:2000]
            record_event(session, ticket, caller.actor, "rating_commented", ctx.clock())


def reopen_not_satisfied(sender_key: str, code: str, reason: str,
                         ctx: CoreContext | None = None, escalate: bool | None = None) -> str:
    """The citizen is not satisfied with the answer: back to work with a fresh resolve period;
    with NOT_SATISFIED_ACTION=escalate the unit head and leaders are told as well."""
    ctx = ctx or context_from_settings()
    if escalate is None:
        escalate = load_settings().not_satisfied_action == "escalate"
    with session_scope(_db_url()) as session:
        caller = _caller(session, sender_key, ctx)
        ticket = load_ticket(session, caller, code)
        if ticket.status not in (Status.RESOLVED, Status.CLOSED):
            raise NotAllowed("Dạ, đơn này chưa có kết quả nên chưa thể mở lại.")
        ticket.relay_until = None  # the reason is asked in the conversation, not relayed
        event = change_status(session, ticket, Status.IN_PROGRESS, caller.actor, ctx,
                              action="reopened", data={"by": "citizen", "escalated": escalate})
        if escalate:
            session.flush()
            notify_not_satisfied(session, ticket, event.id, ctx.clock())
        if reason.strip():
            add_note(session, ticket, caller, reason.strip(), ctx)
        return STATUS_LABELS[Status(ticket.status)]


def add_reason(sender_key: str, code: str, reason: str, ctx: CoreContext | None = None) -> None:
    """Why the citizen is not satisfied, told after pressing "Chưa hài lòng"."""
    ctx = ctx or context_from_settings()
    with session_scope(_db_url()) as session:
        caller = _caller(session, sender_key, ctx)
        add_note(session, load_ticket(session, caller, code), caller, reason.strip(), ctx)


def add_note(session: Session, ticket: Ticket, caller: Caller, text: str,
             ctx: CoreContext) -> None:
    session.add(TicketNote(ticket_id=ticket.id, author_type=caller.type, author_id=caller.id,
                           text=text[:4000], created_at=ctx.clock()))
