"""What every channel adapter provides to deliver the outbox."""

from __future__ import annotations

from typing import Protocol

import structlog

from bot.core.clock import Clock, system_clock
from bot.core.messaging import due_outbound, mark_failed, mark_held, mark_sent
from bot.store.db import session_scope
from bot.store.models import OutboxMessage

log = structlog.get_logger(__name__)


class TemporaryError(Exception):
    """Try again later (network, 5xx, 429); `retry_after` seconds when the platform says."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class PermanentError(Exception):
    """Never retry (blocked by the user, chat not found, bad request); the reason is recorded."""


class HeldError(Exception):
    """Not allowed to send now (e.g. outside Zalo's messaging window): kept, with the reason,
    until the recipient writes again (bot.core.messaging.release_held)."""


def already_delivered(db_url: str | None, outbox_id: int) -> bool:
    """Another delivery run finished this message while this one waited its turn (a sender
    without a database, in tests of the sender alone, never skips)."""
    if db_url is None:
        return False
    with session_scope(db_url) as session:
        row = session.get(OutboxMessage, outbox_id)
        return row is None or row.status != "pending"


class Sender(Protocol):
    channel: str

    async def send(self, message: OutboxMessage) -> str | None:
        """Deliver one message; returns the platform's message id."""


async def deliver_due(sender: Sender, db_url: str, clock: Clock = system_clock,
                      recipient: str | None = None) -> int:
    """Send what is due on one channel; returns how many were sent now."""
    with session_scope(db_url) as session:
        due = due_outbound(session, sender.channel, clock(), recipient=recipient)
        session.expunge_all()
    sent = 0
    for message in due:
        platform_id, error = None, None
        try:
            platform_id = await sender.send(message)
        except (TemporaryError, PermanentError, HeldError) as failure:
            error = failure
        with session_scope(db_url) as session:
            row = session.get(OutboxMessage, message.id)
            if row is None or row.status != "pending":
                continue
            if error is None:
                mark_sent(row, clock(), platform_id)
                sent += 1
            elif isinstance(error, HeldError):
                mark_held(row, str(error))
                log.info("outbox_held", outbox_id=row.id, channel=row.channel,
                         reason=str(error))
            else:
                permanent = isinstance(error, PermanentError)
                mark_failed(row, clock(), str(error), permanent,
                            getattr(error, "retry_after", None))
                log.warning("outbox_send_failed", outbox_id=row.id, channel=row.channel,
                            permanent=permanent, reason=str(error))
    return sent
