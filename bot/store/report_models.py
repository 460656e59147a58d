"""Tables of the leaders' figures, digests and the public board: the working-day calendar as
a table (figures in SQL count working days with it), the past periods of clocks that a reopen
restarted (so on-time rates keep them), and the weekly digests with their files."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from bot.store.models import Base
from bot.store.types import utcnow


class WorkCalendarDay(Base):
    """One local (Asia/Ho_Chi_Minh) day: working or not, and `working_index`, the number of
    working days from the table's first day up to and including this one. Working days between
    two dates = index(later) - index(earlier). Built from bot.core.workdays and the settings
    (EXTRA_DAYS_OFF, EXTRA_WORKING_DAYS) by bot.core.figures."""

    __tablename__ = "work_calendar"
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    working: Mapped[bool] = mapped_column(Boolean)
    working_index: Mapped[int] = mapped_column(Integer)


class TicketClockPeriod(Base):
    """A finished period of a clock that a reopen started again (ticket_clocks keeps one row
    per clock name: the current period). Figures count these periods too."""

    __tablename__ = "ticket_clock_periods"
    __table_args__ = (Index("ix_ticket_clock_periods_due", "name", "due_at"),
                      Index("ix_ticket_clock_periods_stopped_at", "stopped_at"))  # 0007
    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"),
                                           index=True)
    name: Mapped[str] = mapped_column(String(20))
    unit: Mapped[str] = mapped_column(String(20))
    length: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime]
    due_at: Mapped[datetime]
    stopped_at: Mapped[datetime | None]
    stopped_by: Mapped[str | None] = mapped_column(String(20))
    extensions: Mapped[int] = mapped_column(Integer, default=0)
    archived_at: Mapped[datetime] = mapped_column(default=utcnow)


class Digest(Base):
    """The weekly digest of one scope (a unit and every unit below it) for one ISO week
    ("2026-W49"): its text, figures, chart and workbook, made once and kept, so every process
    and every delivery (desk page, e-mail, chat) uses the same files. No citizen data."""

    __tablename__ = "digests"
    __table_args__ = (UniqueConstraint("week", "unit_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    week: Mapped[str] = mapped_column(String(10))
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"))
    generated_at: Mapped[datetime] = mapped_column(default=utcnow)
    text: Mapped[str] = mapped_column(Text)
    figures: Mapped[dict[str, Any]] = mapped_column(default=dict)
    chart_png: Mapped[bytes] = mapped_column(LargeBinary)
    xlsx: Mapped[bytes] = mapped_column(LargeBinary)
