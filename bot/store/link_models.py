"""One person, several channels: one-time codes that link a citizen's channel accounts, and the
wrong tries that lock a sender out for a while (kept here, not in memory, so every process
counts them)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from bot.store.models import Base
from bot.store.types import utcnow


class CitizenLinkCode(Base):
    """A 6-digit code shown to a citizen on one channel and typed on another; only its hash is
    kept. Once used it records which account was linked and whose tickets moved (the audit of
    the link)."""

    __tablename__ = "citizen_link_codes"
    id: Mapped[int] = mapped_column(primary_key=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id"), index=True)
    identity_id: Mapped[int | None] = mapped_column(ForeignKey("channel_identities.id"))
    code_hash: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    used_by_identity_id: Mapped[int | None] = mapped_column(ForeignKey("channel_identities.id"))
    merged_citizen_id: Mapped[int | None] = mapped_column(ForeignKey("citizens.id"))
    moved_tickets: Mapped[int] = mapped_column(Integer, default=0)


class CitizenLinkFailure(Base):
    """A wrong or expired code typed by this sender; a few within an hour lock linking."""

    __tablename__ = "citizen_link_failures"
    __table_args__ = (Index("ix_citizen_link_failures_sender", "channel", "external_id", "at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    external_id: Mapped[str] = mapped_column(String(128))
    at: Mapped[datetime] = mapped_column(default=utcnow)
