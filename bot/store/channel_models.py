"""Tables of the chat channels' own state: the accounts a deployment talks through (a Zalo
Official Account today, with its rotating tokens, attached to a unit) and the citizens the bot
keeps quiet for while staff write to them in the platform's own inbox."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.store.models import Base
from bot.store.types import utcnow


class ChannelAccount(Base):
    """One account of a channel (a Zalo OA): webhooks are routed to it by `external_id` (the
    OA id, learnt from the first event when the settings seeded the row without it). Only one
    process refreshes its tokens at a time: it locks this row (bot/channels/zalo_oa_tokens.py).
    `seed_hash` is the hash of the ZALO_REFRESH_TOKEN the row was seeded from: a different one
    in the settings means the OA was authorised again, and the settings' tokens win once."""

    __tablename__ = "channel_accounts"
    __table_args__ = (UniqueConstraint("channel", "external_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))  # zalo_oa
    external_id: Mapped[str | None] = mapped_column(String(64))  # the OA id, a string
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"))
    access_token: Mapped[str | None] = mapped_column(Text)
    access_expires_at: Mapped[datetime | None]  # None: unknown (a token from the settings)
    refresh_token: Mapped[str | None] = mapped_column(Text)
    seed_hash: Mapped[str | None] = mapped_column(String(64))
    refreshed_at: Mapped[datetime | None]
    refresh_failed_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ChannelPause(Base):
    """The bot does not answer this account until `paused_until`: staff are writing to the
    citizen from the platform's own inbox (a Zalo `oa_send_*` event)."""

    __tablename__ = "channel_pauses"
    __table_args__ = (UniqueConstraint("channel", "external_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    external_id: Mapped[str] = mapped_column(String(128))
    paused_until: Mapped[datetime]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
