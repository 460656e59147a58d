"""Officers' desk passwords: argon2id (argon2-cffi), and the one-time invite link that lets an
officer set one. Only hashes are stored; setting a password ends the officer's desk sessions."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.store.desk_models import DeskSession
from bot.store.models import Officer, OfficerInvite

MIN_LENGTH = 10
MAX_LENGTH = 200
_hasher = PasswordHasher()
# Verified when the username is unknown, so both answers take the same time.
_DUMMY_HASH = _hasher.hash("not-a-password-of-anyone")


class PasswordError(ValueError):
    """The password cannot be set; the message is safe to show (Vietnamese)."""


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when the password matches; False for no hash, a wrong password or a bad hash."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def check_strength(password: str) -> None:
    if len(password) < MIN_LENGTH:
        raise PasswordError(f"Mật khẩu cần ít nhất {MIN_LENGTH} ký tự.")
    if len(password) > MAX_LENGTH:
        raise PasswordError(f"Mật khẩu dài quá (tối đa {MAX_LENGTH} ký tự).")
    if password.strip() != password or not password.strip():
        raise PasswordError("Mật khẩu không được bắt đầu hoặc kết thúc bằng khoảng trắng.")


def _store(session: Session, officer: Officer, password: str, now: datetime | None) -> None:
    check_strength(password)
    officer.password_hash = hash_password(password)
    # Every open desk session of this officer ends: a changed password locks out old devices.
    session.execute(update(DeskSession)
                    .where(DeskSession.officer_id == officer.id,
                           DeskSession.revoked_at.is_(None))
                    .values(revoked_at=now or datetime.now(UTC)))
    session.flush()


def set_password(session: Session, username: str, password: str,
                 now: datetime | None = None) -> Officer:
    """Raises PasswordError (unknown or inactive officer, weak password)."""
    officer = session.scalar(select(Officer).where(Officer.username == username))
    if officer is None or not officer.active:
        raise PasswordError(f"Không có cán bộ đang hoạt động tên đăng nhập '{username}'.")
    _store(session, officer, password, now)
    return officer


def _invite_hash(code: str) -> str:
    # The same hash as bot/core/officers.py, so one code works in chat (/moi) or on the web.
    return hashlib.sha256(code.upper().replace("-", "").strip().encode()).hexdigest()


def invite_officer(session: Session, code: str, now: datetime) -> Officer | None:
    """The active officer an unused, unexpired invite code belongs to; None otherwise."""
    if not code or len(code) > 20:
        return None
    invite = session.scalar(select(OfficerInvite)
                            .where(OfficerInvite.code_hash == _invite_hash(code)))
    if invite is None or invite.used_at is not None or invite.expires_at <= now:
        return None
    officer = session.get(Officer, invite.officer_id)
    return officer if officer is not None and officer.active else None


def set_password_by_invite(session: Session, code: str, password: str,
                           now: datetime) -> Officer:
    """Set the password and use up the invite (once). Raises PasswordError."""
    officer = invite_officer(session, code, now)
    if officer is None:
        raise PasswordError("Liên kết mời không hợp lệ, đã dùng hoặc đã hết hạn.")
    check_strength(password)
    # Claim the invite first (a second request racing this one finds it used).
    claimed = session.execute(update(OfficerInvite)
                              .where(OfficerInvite.code_hash == _invite_hash(code),
                                     OfficerInvite.used_at.is_(None))
                              .values(used_at=now))
    if claimed.rowcount != 1:
        raise PasswordError("Liên kết mời không hợp lệ, đã dùng hoặc đã hết hạn.")
    _store(session, officer, password, now)
    return officer
