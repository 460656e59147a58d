"""One person, several channels: a citizen asks for a one-time code on one channel (/lienket)
and types it on another; that account, with whatever it filed before, then belongs to the same
citizen, so their tickets follow them (status pushes go to the channel used last, see
bot.core.notify.citizen_address).

Codes are CODE_DIGITS digits, valid LINK_TTL, stored as sha256 hashes like the officers'
invites (bot.core.officers). MAX_FAILURES wrong or expired codes from one sender within
FAILURE_WINDOW lock linking for that sender, and ALL_MAX_FAILURES from everyone lock it for
everyone (counted in the database, so every process agrees): a new web chat session is a new
sender, so only the deployment-wide cap keeps guessing a live code out of reach (at most
ALL_MAX_FAILURES tries an hour against 10^8 codes). The used code
row is the audit of the link (who, which account, whose tickets moved); each moved ticket gets
a `citizen_linked` event."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from bot.core.authz import Caller
from bot.core.citizens import identity_for
from bot.core.service import CONSENT_VERSION
from bot.core.tickets import record_event
from bot.store.link_models import CitizenLinkCode, CitizenLinkFailure
from bot.store.models import ChannelIdentity, Citizen, Ticket

LINK_TTL = timedelta(minutes=10)
CODE_DIGITS = 8
MAX_FAILURES, FAILURE_WINDOW = 5, timedelta(hours=1)
ALL_MAX_FAILURES = 50  # wrong tries of every sender together within FAILURE_WINDOW


class LinkRefused(ValueError):
    """Why a code was not made or not accepted: consent | wrong | locked | same."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Linked:
    citizen_id: int
    other_channel: str  # where the code was asked for
    moved_tickets: int


def _hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def has_consented(citizen: Citizen | None) -> bool:
    return bool(citizen is not None and citizen.erased_at is None and citizen.consent_at
                and citizen.consent_version == CONSENT_VERSION)


def _active(session: Session, code_hash: str, now: datetime,
            lock: bool = False) -> CitizenLinkCode | None:
    """The live code with this hash; `lock`: held until commit, so two accounts typing the
    same code at once cannot both use it (PostgreSQL; SQLite writes one at a time)."""
    query = select(CitizenLinkCode).where(
        CitizenLinkCode.code_hash == code_hash, CitizenLinkCode.used_at.is_(None),
        CitizenLinkCode.expires_at > now).order_by(CitizenLinkCode.id.desc()).limit(1)
    return session.scalar(query.with_for_update() if lock else query)


def create_code(session: Session, channel: str, external_id: str, now: datetime) -> str:
    """A new code for the consenting citizen behind this account (shown once); their older
    unused codes stop working."""
    identity = identity_for(session, channel, external_id)
    citizen = identity.citizen if identity is not None else None
    if not has_consented(citizen):
        raise LinkRefused("consent")
    session.execute(update(CitizenLinkCode).where(
        CitizenLinkCode.citizen_id == citizen.id, CitizenLinkCode.used_at.is_(None),
        CitizenLinkCode.expires_at > now).values(expires_at=now))
    while True:  # never two live codes alike
        code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
        if _active(session, _hash(code), now) is None:
            break
    session.add(CitizenLinkCode(citizen_id=citizen.id, identity_id=identity.id,
                                code_hash=_hash(code), created_at=now,
                                expires_at=now + LINK_TTL, moved_tickets=0))
    session.flush()
    return code


def failures(session: Session, channel: str, external_id: str, now: datetime) -> int:
    """Wrong tries of this sender within the window (older ones are forgotten here)."""
    sender = (CitizenLinkFailure.channel == channel, CitizenLinkFailure.external_id == external_id)
    session.execute(delete(CitizenLinkFailure).where(
        *sender, CitizenLinkFailure.at <= now - FAILURE_WINDOW))
    return session.scalar(select(func.count()).select_from(CitizenLinkFailure).where(
        *sender, CitizenLinkFailure.at > now - FAILURE_WINDOW)) or 0


def all_failures(session: Session, now: datetime) -> int:
    """Wrong tries of every sender within the window."""
    return session.scalar(select(func.count()).select_from(CitizenLinkFailure).where(
        CitizenLinkFailure.at > now - FAILURE_WINDOW)) or 0


def redeem_code(session: Session, channel: str, external_id: str, code: str,
                now: datetime) -> Linked:
    """Link this account to the citizen who asked for `code`. A wrong try is stored before
    LinkRefused is raised: the caller commits it (catch the refusal inside the session)."""
    if (failures(session, channel, external_id, now) >= MAX_FAILURES
            or all_failures(session, now) >= ALL_MAX_FAILURES):
        raise LinkRefused("locked")
    row = _active(session, _hash(code), now, lock=True)
    target = session.get(Citizen, row.citizen_id) if row is not None else None
    if row is None or target is None or target.erased_at is not None:
        session.add(CitizenLinkFailure(channel=channel, external_id=external_id, at=now))
        session.flush()
        locked = failures(session, channel, external_id, now) >= MAX_FAILURES
        raise LinkRefused("locked" if locked else "wrong")
    identity = identity_for(session, channel, external_id)
    if identity is not None and identity.citizen_id == target.id:
        raise LinkRefused("same")
    if identity is None:
        identity = ChannelIdentity(channel=channel, external_id=external_id, created_at=now)
        session.add(identity)
    source = identity.citizen
    identity.citizen, identity.last_seen_at = target, now
    moved = _merge(session, source, target, channel, now) if source is not None else 0
    session.flush()
    row.used_at, row.used_by_identity_id = now, identity.id
    row.merged_citizen_id, row.moved_tickets = (source.id if source else None), moved
    session.execute(delete(CitizenLinkFailure).where(
        CitizenLinkFailure.channel == channel, CitizenLinkFailure.external_id == external_id))
    origin = session.get(ChannelIdentity, row.identity_id) if row.identity_id else None
    return Linked(target.id, origin.channel if origin else "", moved)


def _merge(session: Session, source: Citizen, target: Citizen, channel: str,
           now: datetime) -> int:
    """Everything of `source` becomes `target`'s: its accounts, its tickets (each with an
    event), its consent and contact details when `target` lacks them. `source` keeps nothing
    personal. Returns how many tickets moved."""
    for identity in list(source.identities):
        identity.citizen = target
    actor = Caller.citizen(target.id, channel).actor
    tickets = list(session.scalars(select(Ticket).where(Ticket.citizen_id == source.id)
                                   .order_by(Ticket.id)))
    for ticket in tickets:
        ticket.citizen_id = target.id
        record_event(session, ticket, actor, "citizen_linked", now,
                     data={"fields": ["citizen_id"]})
    if not has_consented(target) and has_consented(source):
        target.consent_at, target.consent_version = source.consent_at, source.consent_version
    if target.training_consent is None and source.training_consent is not None:
        target.training_consent = source.training_consent
        target.training_consent_at = source.training_consent_at
    target.phone = target.phone or source.phone
    target.display_name = target.display_name or source.display_name
    source.display_name = source.phone = source.consent_at = source.consent_version = None
    source.training_consent = source.training_consent_at = None
    return len(tickets)
