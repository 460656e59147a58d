"""Zalo's messaging rules for the OA (docs/channels.md, "Zalo's messaging windows"): how a
message may go out now, decided from stored data only.

A consultation message ("tin tư vấn") is free within `zalo_cs_free_hours` of the citizen's last
message and for at most `zalo_cs_free_messages` since then; paid up to `zalo_cs_paid_days`.
Outside the free window a status push or rating request goes as a ZNS template message when a
template is set and the citizen's phone is known; paid messages (ZNS and paid consultation)
stop at `zalo_paid_monthly_cap` a month. Otherwise the message is held (HeldError) until the
citizen writes again. The kind of a sent message is kept in its platform id's prefix (`zns:`,
`paid:`), so the month's paid messages are counted from the outbox itself."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from bot.channels.base import HeldError
from bot.core.taxonomy import STATUS_LABELS, Status
from bot.settings import Settings
from bot.store.models import Citizen, InboxMessage, OutboxMessage, Ticket, TicketEvent

CHANNEL = "zalo"
FREE, PAID, ZNS = "free", "paid", "zns"
PAID_PREFIX, ZNS_PREFIX = "paid:", "zns:"
PUSH_KEY = re.compile(r"^event:(\d+):citizen")  # status pushes (bot/core/notify.py)
NOT_THE_CITIZEN = ("staff", "echo")  # inbox rows written by the OA's side


@dataclass(frozen=True)
class Route:
    """How to send: a free or paid consultation message, or a ZNS template."""

    kind: str
    template_id: str = ""
    phone: str = ""
    data: dict[str, str] = field(default_factory=dict)


def route(session: Session, settings: Settings, message: OutboxMessage, now: datetime) -> Route:
    """The way `message` may go out now; HeldError (with the reason) when none."""
    last_in = last_citizen_message(session, message.recipient_external_id)
    if last_in is None:
        raise HeldError("Zalo window: the citizen has not written to the OA")
    since = now - last_in
    if (since < timedelta(hours=settings.zalo_cs_free_hours)
            and sent_since(session, message.recipient_external_id, last_in)
            < settings.zalo_cs_free_messages):
        return Route(FREE)
    under_cap = paid_this_month(session, settings, now) < settings.zalo_paid_monthly_cap
    template = zns_template(session, settings, message) if under_cap else None
    if template is not None:
        return template
    if under_cap and since < timedelta(days=settings.zalo_cs_paid_days):
        return Route(PAID)
    raise HeldError(_reason(settings, since, under_cap))


def _reason(settings: Settings, since: timedelta, under_cap: bool) -> str:
    window = (f"Zalo window: over {settings.zalo_cs_free_hours} h or "
              f"{settings.zalo_cs_free_messages} messages since the citizen's last message")
    if not under_cap:
        return f"{window}; monthly cap of {settings.zalo_paid_monthly_cap} paid messages reached"
    return f"{window}; past {settings.zalo_cs_paid_days} days, no ZNS template or phone"


def last_citizen_message(session: Session, user: str) -> datetime | None:
    """When the citizen last wrote to the OA (their inbox rows; staff and echoes excluded)."""
    last = session.scalar(select(func.max(InboxMessage.received_at)).where(
        InboxMessage.channel == CHANNEL, InboxMessage.sender_external_id == user,
        InboxMessage.status.not_in(NOT_THE_CITIZEN),
        InboxMessage.platform_message_id.not_like("unfollow:%")))
    return _aware(last) if last is not None else None


def sent_since(session: Session, user: str, since: datetime) -> int:
    """Consultation messages sent to the citizen since `since` (ZNS messages do not count)."""
    return session.scalar(select(func.count()).select_from(OutboxMessage).where(
        OutboxMessage.channel == CHANNEL, OutboxMessage.recipient_external_id == user,
        OutboxMessage.status == "sent", OutboxMessage.sent_at >= since,
        or_(OutboxMessage.platform_message_id.is_(None),
            OutboxMessage.platform_message_id.not_like(f"{ZNS_PREFIX}%")))) or 0


def paid_this_month(session: Session, settings: Settings, now: datetime) -> int:
    """Paid messages sent since the start of this month (local time), on every OA."""
    local = now.astimezone(settings.tz)
    start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return session.scalar(select(func.count()).select_from(OutboxMessage).where(
        OutboxMessage.channel == CHANNEL, OutboxMessage.status == "sent",
        OutboxMessage.sent_at >= start,
        or_(OutboxMessage.platform_message_id.like(f"{ZNS_PREFIX}%"),
            OutboxMessage.platform_message_id.like(f"{PAID_PREFIX}%")))) or 0


def zns_template(session: Session, settings: Settings, message: OutboxMessage) -> Route | None:
    """A ZNS route for a status push or rating request when a template is set and the
    citizen's phone is known."""
    match = PUSH_KEY.match(message.dedupe_key or "")
    event = session.get(TicketEvent, int(match[1])) if match else None
    ticket = session.get(Ticket, message.ticket_id) if message.ticket_id else None
    if event is None or ticket is None or not event.to_status:
        return None
    rating = event.to_status == Status.RESOLVED
    template = ((settings.zalo_zns_template_rating if rating else "")
                or settings.zalo_zns_template_status)
    phone = zns_phone(session, message)
    if not template or phone is None:
        return None
    status = STATUS_LABELS.get(Status(event.to_status), event.to_status)
    return Route(ZNS, template, phone, {"ticket_code": ticket.code, "status": status})


def zns_phone(session: Session, message: OutboxMessage) -> str | None:
    """The citizen's phone as ZNS wants it (84xxxxxxxxx), or None."""
    citizen = session.get(Citizen, message.citizen_id) if message.citizen_id else None
    if citizen is None or citizen.erased_at is not None or not citizen.phone:
        return None
    digits = re.sub(r"\D", "", citizen.phone)
    if digits.startswith("0"):
        digits = "84" + digits[1:]
    return digits if digits.startswith("84") and 10 <= len(digits) <= 12 else None


def _aware(value: datetime) -> datetime:
    """Stored times are UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
