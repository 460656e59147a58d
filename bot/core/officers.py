"""Officers and the one-time invite codes that link their Telegram/Zalo accounts. Nothing else
turns a chat account into an officer."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core.citizens import identity_for
from bot.core.taxonomy import Role
from bot.store.models import ChannelIdentity, Officer, OfficerInvite, OfficerRole, OrgUnit

INVITE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: codes use only these
# Only in their own format: "ABCD-EFGH" (with the dash), or after /moi ("/moi ABCDEFGH"); an
# 8-letter word ("thankyou") is the citizen's, not an invite.
CODE_PART = "([A-HJ-NP-Z2-9]{4})"  # four letters of INVITE_ALPHABET ("good-luck" has an O)
INVITE_PATTERN = re.compile(
    rf"^(?:/moi(?:@\w+)?\s+{CODE_PART}-?{CODE_PART}|{CODE_PART}-{CODE_PART})$", re.IGNORECASE)
INVITE_TTL = timedelta(days=3)


class InviteError(ValueError):
    """The code is unknown, used or expired; the message is safe to show."""


def add_officer(session: Session, username: str, full_name: str, unit_code: str,
                roles: list[str], now: datetime) -> Officer:
    unit = session.scalar(select(OrgUnit).where(OrgUnit.code == unit_code))
    if unit is None:
        raise ValueError(f"unknown unit {unit_code}")
    if session.scalar(select(Officer).where(Officer.username == username)):
        raise ValueError(f"officer {username} exists")
    officer = Officer(username=username, full_name=full_name, unit=unit, created_at=now)
    officer.roles = [OfficerRole(role=Role(r), unit_id=unit.id) for r in roles]
    session.add(officer)
    session.flush()
    return officer


def _hash(code: str) -> str:
    return hashlib.sha256(code.upper().replace("-", "").encode()).hexdigest()


def create_invite(session: Session, officer: Officer, now: datetime) -> str:
    """A new one-time code (shown once; only its hash is stored)."""
    raw = "".join(secrets.choice(INVITE_ALPHABET) for _ in range(8))
    session.add(OfficerInvite(officer_id=officer.id, code_hash=_hash(raw), created_at=now,
                              expires_at=now + INVITE_TTL))
    session.flush()
    return f"{raw[:4]}-{raw[4:]}"


def looks_like_invite(text: str | None) -> str | None:
    match = INVITE_PATTERN.match((text or "").strip())
    if match is None:
        return None
    return "".join(part for part in match.groups() if part).upper()


def redeem_invite(session: Session, channel: str, external_id: str, code: str,
                  now: datetime) -> Officer:
    invite = session.scalar(select(OfficerInvite).where(OfficerInvite.code_hash == _hash(code)))
    if invite is None or invite.used_at is not None or invite.expires_at <= now:
        raise InviteError("Mã mời không hợp lệ, đã dùng hoặc đã hết hạn.")
    officer = session.get(Officer, invite.officer_id)
    if officer is None or not officer.active:
        raise InviteError("Tài khoản cán bộ không còn hiệu lực.")
    identity = identity_for(session, channel, external_id)
    if identity is None:
        identity = ChannelIdentity(channel=channel, external_id=external_id, created_at=now)
        session.add(identity)
    identity.officer_id = officer.id
    identity.last_seen_at = now
    officer.preferred_channel = officer.preferred_channel or channel
    session.flush()
    invite.used_at, invite.used_by_identity_id = now, identity.id
    return officer
