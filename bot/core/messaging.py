"""Inbox and outbox: every message is stored before it is acknowledged or sent.

The outbox is the one interface through which the core reaches people: channels deliver what
is due here and report back with `mark_sent` / `mark_failed`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.store.models import InboxMessage, OutboxMessage

MAX_SEND_ATTEMPTS = 8
BACKOFF_BASE_SECONDS = 2.0
BACKOFF_MAX_SECONDS = 600.0


@dataclass
class Inbound:
    channel: str
    platform_message_id: str
    sender_external_id: str
    text: str | None
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass
class Outbound:
    channel: str
    recipient_external_id: str
    text: str | None
    buttons: list[dict[str, str]] = field(default_factory=list)
    citizen_id: int | None = None
    officer_id: int | None = None
    ticket_id: int | None = None
    in_reply_to: int | None = None


def store_inbound(session: Session, message: Inbound, now: datetime) -> InboxMessage | None:
    """The stored row, or None when this platform message was stored before (a redelivery)."""
    row = InboxMessage(
        channel=message.channel,
        platform_message_id=message.platform_message_id,
        sender_external_id=message.sender_external_id,
        text=message.text,
        payload=message.payload,
        received_at=now,
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return None
    return row


def queue_outbound(
    session: Session, message: Outbound, dedupe_key: str, now: datetime
) -> OutboxMessage:
    """Store a message to send; the same dedupe key never makes a second message."""
    existing = session.scalar(select(OutboxMessage).where(OutboxMessage.dedupe_key == dedupe_key))
    if existing is not None:
        return existing
    row = OutboxMessage(
        dedupe_key=dedupe_key,
        channel=message.channel,
        recipient_external_id=message.recipient_external_id,
        text=message.text,
        buttons=message.buttons,
        citizen_id=message.citizen_id,
        officer_id=message.officer_id,
        ticket_id=message.ticket_id,
        in_reply_to=message.in_reply_to,
        created_at=now,
        next_attempt_at=now,
    )
    session.add(row)
    session.flush()
    return row


def due_outbound(
    session: Session, channel: str, now: datetime, recipient: str | None = None, limit: int = 100
) -> list[OutboxMessage]:
    query = select(OutboxMessage).where(
        OutboxMessage.channel == channel,
        OutboxMessage.status == "pending",
        OutboxMessage.next_attempt_at <= now,
    )
    if recipient is not None:
        query = query.where(OutboxMessage.recipient_external_id == recipient)
    return list(session.scalars(query.order_by(OutboxMessage.id).limit(limit)))


def mark_sent(row: OutboxMessage, now: datetime, platform_message_id: str | None = None) -> None:
    row.status = "sent"
    row.sent_at = now
    row.attempts += 1
    row.platform_message_id = platform_message_id
    row.last_error = None


def mark_failed(
    row: OutboxMessage, now: datetime, reason: str, permanent: bool,
    retry_after: float | None = None,
) -> None:
    """Permanent errors stop with the reason; temporary ones back off exponentially."""
    row.attempts += 1
    row.last_error = reason[:500]
    if permanent or row.attempts >= MAX_SEND_ATTEMPTS:
        row.status = "failed"
        return
    delay = retry_after or min(BACKOFF_BASE_SECONDS * 2 ** (row.attempts - 1), BACKOFF_MAX_SECONDS)
    row.next_attempt_at = now + timedelta(seconds=delay)


def mark_held(row: OutboxMessage, reason: str) -> None:
    """Not sent and not failed: waits (status `held`, the reason in `last_error`) until the
    recipient writes again."""
    row.status = "held"
    row.last_error = reason[:500]


def release_held(session: Session, channel: str, recipient: str, now: datetime) -> int:
    """The recipient wrote again: their held messages are due now; how many."""
    result = session.execute(update(OutboxMessage).where(
        OutboxMessage.channel == channel, OutboxMessage.recipient_external_id == recipient,
        OutboxMessage.status == "held").values(status="pending", next_attempt_at=now))
    return result.rowcount or 0
