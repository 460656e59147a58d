"""Ticket codes like KN-2026-000123: one atomic upsert per code, so concurrent creations on
PostgreSQL (row lock on the counter) and SQLite (IMMEDIATE transactions) never collide."""

from __future__ import annotations

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bot.store.models import TicketCodeCounter


def next_ticket_code(session: Session, prefix: str, year: int) -> str:
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(TicketCodeCounter)
        .values(prefix=prefix, year=year, last_value=1)
        .on_conflict_do_update(
            index_elements=["prefix", "year"],
            set_={"last_value": TicketCodeCounter.last_value + 1},
        )
        .returning(TicketCodeCounter.last_value)
    )
    value = session.execute(statement).scalar_one()
    return f"{prefix}-{year}-{value:06d}"
