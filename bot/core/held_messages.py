"""Messages to a citizen the outbox holds back (status `held`: outside Zalo's messaging
window, bot/channels/zalo_oa_windows.py) until the citizen writes again; the desk shows them
on the ticket's conversation."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.store.models import OutboxMessage

HELD_LABEL = "đang chờ công dân nhắn lại (ngoài thời hạn nhắn tin của Zalo)"


def held_for_ticket(session: Session, ticket_id: int) -> list[OutboxMessage]:
    """The ticket's held messages to its citizen, oldest first."""
    return list(session.scalars(select(OutboxMessage).where(
        OutboxMessage.ticket_id == ticket_id, OutboxMessage.status == "held",
        OutboxMessage.officer_id.is_(None)).order_by(OutboxMessage.id)))
