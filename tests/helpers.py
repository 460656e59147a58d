"""Small builders shared by tests."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from bot.core.taxonomy import ActorType
from bot.core.tickets import Actor, TicketDraft, create_ticket
from bot.store.db import session_scope

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)
CITIZEN = Actor(ActorType.CITIZEN, None, "web")
OFFICER = Actor(ActorType.OFFICER, 1, "desk")


def make_ticket(url: str, text: str = "Đường thôn 3 ngập", key: str | None = None,
                now: datetime = NOW) -> str:
    with session_scope(url) as session:
        draft = TicketDraft(text=text, channel="web", idempotency_key=key)
        return create_ticket(session, draft, CITIZEN, now, "KN", TZ).code
