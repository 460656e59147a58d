"""Desk sessions and login throttles, kept in the database so every bot process sees the same
ones (a login, a logout or a lock-out in one process holds in all of them)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.store.desk_models import DeskSession, LoginThrottle
from bot.store.models import Officer

SLIDE_AFTER = timedelta(minutes=1)  # extend a session at most once a minute (fewer writes)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def csrf_token_of(secret: str) -> str:
    """The form token of a session: an HMAC of its secret (the secret never leaves the DB)."""
    return hmac.new(secret.encode(), b"nghedan-desk-csrf", hashlib.sha256).hexdigest()


def create_session(session: Session, officer_id: int, now: datetime, hours: int) -> str:
    """A new session; returns the cookie's token (only its hash is stored)."""
    token = secrets.token_urlsafe(32)
    # The officer's ended sessions are of no more use: keep the table small.
    session.execute(delete(DeskSession).where(
        DeskSession.officer_id == officer_id,
        or_(DeskSession.expires_at <= now, DeskSession.revoked_at.is_not(None))))
    session.add(DeskSession(token_hash=token_hash(token), officer_id=officer_id,
                            csrf_secret=secrets.token_hex(32), created_at=now,
                            last_seen_at=now, expires_at=now + timedelta(hours=hours)))
    session.flush()
    return token


def load_session(session: Session, token: str | None, now: datetime,
                 hours: int) -> tuple[DeskSession, Officer] | None:
    """The live session of this token and its active officer; the expiry slides with use."""
    if not token or len(token) > 200:
        return None
    row = session.get(DeskSession, token_hash(token))
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        return None
    officer = session.get(Officer, row.officer_id)
    if officer is None or not officer.active:
        return None
    if now - row.last_seen_at >= SLIDE_AFTER:
        row.last_seen_at, row.expires_at = now, now + timedelta(hours=hours)
    return row, officer


def revoke_session(session: Session, token: str | None, now: datetime) -> None:
    if token and len(token) <= 200:
        row = session.get(DeskSession, token_hash(token))
        if row is not None and row.revoked_at is None:
            row.revoked_at = now


@dataclass(frozen=True)
class Throttle:
    max_failures: int
    lockout: timedelta


def throttle_keys(username: str, address: str | None) -> list[str]:
    keys = [f"user:{username.strip().lower()[:150]}"]
    if address:
        keys.append(f"addr:{address[:150]}")
    return keys


def locked_until(session: Session, keys: list[str], now: datetime) -> datetime | None:
    """The latest lock of any of the keys still running, else None."""
    rows = session.scalars(select(LoginThrottle).where(LoginThrottle.key.in_(keys)))
    locks = [r.locked_until for r in rows if r.locked_until is not None and r.locked_until > now]
    return max(locks) if locks else None


def _row_for_update(session: Session, key: str) -> LoginThrottle:
    row = session.scalar(select(LoginThrottle).where(LoginThrottle.key == key).with_for_update())
    if row is not None:
        return row
    try:
        with session.begin_nested():  # another process may insert the same key right now
            row = LoginThrottle(key=key, failures=0)
            session.add(row)
    except IntegrityError:
        row = session.scalar(select(LoginThrottle).where(LoginThrottle.key == key)
                             .with_for_update())
    return row


def record_failure(session: Session, keys: list[str], now: datetime,
                   throttle: Throttle) -> datetime | None:
    """Count a failed login against every key; returns the lock's end when one starts now."""
    started = None
    # Old entries of any key (typos, guessed names) go once their lock-out window has passed.
    session.execute(delete(LoginThrottle).where(
        LoginThrottle.key.not_in(keys), LoginThrottle.last_failure_at < now - throttle.lockout,
        or_(LoginThrottle.locked_until.is_(None), LoginThrottle.locked_until <= now)))
    for key in keys:
        row = _row_for_update(session, key)
        stale = row.last_failure_at is None or now - row.last_failure_at > throttle.lockout
        expired_lock = row.locked_until is not None and row.locked_until <= now
        if stale or expired_lock:
            row.failures, row.locked_until = 0, None
        row.failures += 1
        row.last_failure_at = now
        if row.failures >= throttle.max_failures and row.locked_until is None:
            row.locked_until = now + throttle.lockout
            started = row.locked_until
    session.flush()
    return started


def clear_failures(session: Session, key: str) -> None:
    row = session.get(LoginThrottle, key)
    if row is not None:
        session.delete(row)
