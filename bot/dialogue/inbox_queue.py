"""The inbox as one queue per sender, shared by every bot process.

A sender's pending messages are handled one at a time, oldest first, and one goes to the
dialogue only when no older one from the same sender is still pending (`earlier_pending`);
what needs no dialogue (a button answered by a hook, an invite code, a sticker) is answered at
once. A process handling a message holds a lease on its row (`processed_at` set while the row
is still pending; nothing else reads it then), taken with a conditional update, so two
processes never handle one message at once. A process that dies mid-way leaves the lease to
expire after LEASE."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from bot.core import attachments
from bot.store.models import InboxMessage

LEASE = timedelta(minutes=5)  # longer than any turn: Rasa's timeout is 30 s
FILE_GRACE = timedelta(minutes=5)  # a channel's downloads finish (or fail) well within this
SWEEP_ROWS = 500


@dataclass(frozen=True)
class Queued:
    id: int
    channel: str
    sender_external_id: str


@dataclass
class Drained:
    """One pass over a sender's queue: messages due, replies queued, and whether one of them
    is still pending (the rest wait behind it)."""

    due: int
    replies: list[int] = field(default_factory=list)
    stuck: bool = False


def files_expected(session: Session, row: InboxMessage) -> bool:
    """Files announced by the channel, none kept and none failed yet: still downloading."""
    payload = row.payload or {}
    return bool(payload.get("media")) and not payload.get("media_failed") and not (
        attachments.of_inbox(session, row.id))


def queued(session: Session, inbox_id: int) -> Queued | None:
    row = session.get(InboxMessage, inbox_id)
    if row is None or row.status != "pending":
        return None
    return Queued(row.id, row.channel, row.sender_external_id)


def _pending_before(session: Session, channel: str, external_id: str,
                    last: int) -> list[InboxMessage]:
    return list(session.scalars(
        select(InboxMessage).where(
            InboxMessage.channel == channel, InboxMessage.sender_external_id == external_id,
            InboxMessage.status == "pending", InboxMessage.id <= last)
        .order_by(InboxMessage.id)))


def _downloading(session: Session, row: InboxMessage, now: datetime) -> bool:
    return row.received_at > now - FILE_GRACE and files_expected(session, row)


def ready_ids(session: Session, sender: Queued, now: datetime, current: int | None) -> list[int]:
    """The sender's pending messages up to `sender.id`, oldest first, stopping before one that
    another process is handling; `current` (the message a channel hands over, with its files)
    last in any case. One whose files are still downloading is left out, not waited for: its
    channel hands it over when they are in, or the sweep after FILE_GRACE."""
    ready = []
    for row in _pending_before(session, sender.channel, sender.sender_external_id, sender.id):
        if row.id == current:
            continue
        if row.processed_at is not None and row.processed_at > now - LEASE:
            break
        if not _downloading(session, row, now):
            ready.append(row.id)
    return [*ready, current] if current is not None else ready


def earlier_pending(session: Session, row: InboxMessage, now: datetime) -> bool:
    """An older message from the same sender still waits (other than for its files): this one
    must not reach the dialogue before it."""
    return any(not _downloading(session, older, now) for older in _pending_before(
        session, row.channel, row.sender_external_id, row.id - 1))


def senders_waiting(session: Session, before: datetime) -> list[Queued]:
    """Each sender with messages pending since `before`: their newest such message, senders
    in the order of their oldest one."""
    rows = session.execute(
        select(InboxMessage.id, InboxMessage.channel, InboxMessage.sender_external_id)
        .where(InboxMessage.status == "pending", InboxMessage.received_at <= before)
        .order_by(InboxMessage.id).limit(SWEEP_ROWS)).all()
    newest: dict[tuple[str, str], int] = {}
    for inbox_id, channel, external_id in rows:
        newest[(channel, external_id)] = inbox_id  # dicts keep the first insertion's place
    return [Queued(inbox_id, channel, external_id)
            for (channel, external_id), inbox_id in newest.items()]


def claim(session: Session, inbox_id: int, now: datetime) -> bool:
    """Take the lease on a pending row; False when it is done or another process holds it."""
    taken = session.execute(
        update(InboxMessage).where(
            InboxMessage.id == inbox_id, InboxMessage.status == "pending",
            or_(InboxMessage.processed_at.is_(None), InboxMessage.processed_at <= now - LEASE))
        .values(processed_at=now))
    return taken.rowcount == 1


def release(row: InboxMessage, reason: str | None) -> None:
    """Still pending after this attempt: counted, the reason kept, the lease given back."""
    row.attempts += 1
    row.processed_at = None
    if reason is not None:
        row.last_error = reason[:500]
