"""Small builders shared by tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.core.authz import Caller
from bot.core.context import CoreContext
from bot.core.taxonomy import ActorType
from bot.core.tickets import Actor, TicketDraft, create_ticket
from bot.store.db import session_scope
from bot.store.models import Officer, OutboxMessage, Ticket

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)  # Monday 10:00 in Hanoi
CITIZEN = Actor(ActorType.CITIZEN, None, "web")
OFFICER = Actor(ActorType.OFFICER, 1, "desk")


class TestClock:
    """A clock tests move by hand."""

    __test__ = False  # a helper, not a test class

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def context(now: datetime = NOW) -> CoreContext:
    return CoreContext.build(TZ, "KN", TestClock(now))


def make_ticket(url: str, text: str = "Đường thôn 3 ngập", key: str | None = None,
                now: datetime = NOW, **draft) -> str:
    with session_scope(url) as session:
        draft = TicketDraft(text=text, channel="web", idempotency_key=key, **draft)
        return create_ticket(session, draft, CITIZEN, context(now)).code


def officer(session, username: str) -> Caller:
    """The officer with this user name (demo commune), as a caller of core operations."""
    return Caller.officer(session.scalar(select(Officer.id).where(Officer.username == username)))


def ticket(url: str, code: str) -> Ticket:
    """The ticket as stored now (detached from its session)."""
    with session_scope(url) as session:
        found = session.scalar(select(Ticket).where(Ticket.code == code))
        session.expunge(found)
        return found


def told(url: str, recipient: str = "c1") -> list[str]:
    """The texts queued to this chat recipient (the citizen "web:c1" by default), in order."""
    with session_scope(url) as session:
        return list(session.scalars(select(OutboxMessage.text).where(
            OutboxMessage.recipient_external_id == recipient).order_by(OutboxMessage.id)))
