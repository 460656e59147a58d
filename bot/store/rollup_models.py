"""Tables of the pre-aggregated figures (bot/core/figures_rollup.py, docs/figures.md): every
ticket's dated facts, their sums by day and by month, and the tickets changed since the sums
were last brought up to date (marked by database triggers, so no code path can skip it)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, SmallInteger, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.store.models import Base
from bot.store.types import utcnow


class FigureDirty(Base):
    """A ticket whose facts may have changed: written by triggers on tickets, ticket_events,
    ticket_clocks and ticket_clock_periods (migration 0008); taken by the catch-up."""

    __tablename__ = "figure_dirty"
    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(Integer)


class TicketFact(Base):
    """One dated fact of a ticket (a receipt, a status reached, a clock decided, a duration, a
    rating, +1/-1 to "open" or "overdue"...), with the ticket's groups when it was computed, so
    the catch-up can take exactly this contribution out of the sums again. `day` is the local
    date as days since 2000-01-01; `value` depends on the measure (docs/figures.md)."""

    __tablename__ = "ticket_facts"
    __table_args__ = (Index("ix_ticket_facts_ticket", "ticket_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(Integer)
    unit_id: Mapped[int] = mapped_column(Integer)  # 0: none
    area_id: Mapped[int] = mapped_column(Integer)  # 0: none
    category: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(20))
    day: Mapped[int] = mapped_column(Integer)
    measure: Mapped[str] = mapped_column(String(20))
    key: Mapped[str] = mapped_column(String(40))
    value: Mapped[int] = mapped_column(Integer)
    count: Mapped[int] = mapped_column(Integer)


class FigureRollup(Base):
    """Sum of the facts of every ticket by grain (0: a day, 1: a month, `day` being its first
    day), measure and groups. A period's figures read whole months here and the days at its
    ends, so a year is a few thousand rows whatever the number of tickets."""

    __tablename__ = "figure_rollup"
    __table_args__ = (UniqueConstraint("grain", "measure", "day", "unit_id", "area_id",
                                       "category", "kind", "key", "value",
                                       name="uq_figure_rollup"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    grain: Mapped[int] = mapped_column(SmallInteger)
    measure: Mapped[str] = mapped_column(String(20))
    day: Mapped[int] = mapped_column(Integer)
    unit_id: Mapped[int] = mapped_column(Integer)
    area_id: Mapped[int] = mapped_column(Integer)
    category: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(20))
    key: Mapped[str] = mapped_column(String(40))
    value: Mapped[int] = mapped_column(Integer)
    count: Mapped[int] = mapped_column(Integer)


class FigureRollupState(Base):
    """One row: which work calendar the sums were built with (working-day durations depend on
    it), and when. No row, or another calendar: the figures read the live tables until a
    rebuild."""

    __tablename__ = "figure_rollup_state"
    id: Mapped[int] = mapped_column(primary_key=True)
    calendar: Mapped[str] = mapped_column(String(64))
    built_at: Mapped[datetime] = mapped_column(default=utcnow)
