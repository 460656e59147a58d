"""Citizens and their channel identities."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.store.models import ChannelIdentity, Citizen


def identity_for(session: Session, channel: str, external_id: str) -> ChannelIdentity | None:
    return session.scalar(
        select(ChannelIdentity).where(
            ChannelIdentity.channel == channel, ChannelIdentity.external_id == external_id
        )
    )


def citizen_for(session: Session, channel: str, external_id: str, now: datetime) -> Citizen:
    """The citizen behind a channel account, created on first contact (no personal data)."""
    identity = identity_for(session, channel, external_id)
    if identity is not None and identity.citizen is not None:
        identity.last_seen_at = now
        return identity.citizen
    citizen = Citizen(preferred_channel=channel, created_at=now)
    session.add(citizen)
    if identity is None:
        identity = ChannelIdentity(channel=channel, external_id=external_id, created_at=now)
        session.add(identity)
    identity.citizen = citizen
    identity.last_seen_at = now
    session.flush()
    return citizen


def mark_seen(session: Session, channel: str, external_id: str, at: datetime) -> None:
    """A message from this account was handled: its channel is the one the person used last
    (bot.core.notify sends their status pushes there). Never moves back in time."""
    identity = identity_for(session, channel, external_id)
    if identity is not None and (identity.last_seen_at is None or identity.last_seen_at < at):
        identity.last_seen_at = at
