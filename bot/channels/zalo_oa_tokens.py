"""The Zalo OA's tokens: the access token (about 25 hours) is refreshed before it expires, or
when Zalo says it is no longer valid, with the refresh token (about 3 months, works once).

The tokens live in channel_accounts, seeded from ZALO_ACCESS_TOKEN / ZALO_REFRESH_TOKEN; the
rotated refresh token in the row wins from then on. One process refreshes at a time: the row is
locked for the refresh (PostgreSQL `SELECT ... FOR UPDATE`; SQLite's transactions here take the
one write lock at BEGIN), and whoever waited reads the new token instead of refreshing again.
A failed refresh is recorded on the row and notified to the admins on the desk."""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core.clock import Clock, system_clock
from bot.core.notices import store_notice
from bot.core.taxonomy import Role
from bot.settings import Settings
from bot.store.channel_models import ChannelAccount
from bot.store.db import session_scope
from bot.store.models import Officer, OfficerRole

ACCOUNT_CHANNEL = "zalo_oa"
REFRESH_PATH = "/v4/oa/access_token"
REFRESH_MARGIN = timedelta(hours=2)  # refreshed this long before the access token expires
DEFAULT_LIFE_SECONDS = 90_000  # Zalo's documented 25 hours, when expires_in is missing
HTTP_TIMEOUT = 15.0
ALERT_TEXT = ("Kênh Zalo OA: không làm mới được mã truy cập ({reason}). Tin nhắn gửi qua Zalo "
              "đang chờ. Quản trị viên vui lòng cấp quyền lại cho ứng dụng trên Zalo và đặt "
              "ZALO_REFRESH_TOKEN mới.")
log = structlog.get_logger(__name__)


class TokenError(Exception):
    """No usable access token: the refresh failed (reason recorded, admins told)."""


@dataclass(frozen=True)
class Outcome:
    token: str | None
    error: str | None = None
    permanent: bool = False


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def seed_account(session: Session, settings: Settings, now: datetime) -> ChannelAccount:
    """The settings' account: made on first start; when ZALO_REFRESH_TOKEN changed since (the
    OA was authorised again), the settings' tokens replace the stored ones once."""
    seed = _hash(settings.zalo_refresh_token or settings.zalo_access_token)
    account = session.scalar(select(ChannelAccount).where(
        ChannelAccount.channel == ACCOUNT_CHANNEL).order_by(ChannelAccount.id).limit(1))
    if account is None:
        account = ChannelAccount(channel=ACCOUNT_CHANNEL, created_at=now)
        session.add(account)
    elif account.seed_hash == seed:
        return account
    account.access_token = settings.zalo_access_token or None
    account.refresh_token = settings.zalo_refresh_token or None
    account.access_expires_at, account.seed_hash = None, seed
    session.flush()
    return account


def account_for_oa(session: Session, oa_id: str | None) -> ChannelAccount | None:
    """The account of this OA id; an account seeded without one learns it from the first
    event; else the first account (one OA per deployment today)."""
    accounts = list(session.scalars(select(ChannelAccount).where(
        ChannelAccount.channel == ACCOUNT_CHANNEL).order_by(ChannelAccount.id)))
    if oa_id:
        if (known := next((a for a in accounts if a.external_id == oa_id), None)) is not None:
            return known
        if (unlearnt := next((a for a in accounts if a.external_id is None), None)) is not None:
            unlearnt.external_id = oa_id
            return unlearnt
    return accounts[0] if accounts else None


def _needs_refresh(account: ChannelAccount, now: datetime, stale: str | None,
                   unknown_is_due: bool = False) -> bool:
    """`stale`: Zalo refused this token, so refresh unless someone already did. An unknown
    expiry (a token from the settings) is used as it is, but the job refreshes it."""
    if not account.access_token:
        return True
    if stale is not None:
        return account.access_token == stale
    expires = account.access_expires_at
    if expires is None:
        return unknown_is_due
    return expires - REFRESH_MARGIN <= now


class ZaloTokens:
    """Access tokens for the sender and the refresh job of one process."""

    def __init__(self, settings: Settings, db_url: str, clock: Clock = system_clock) -> None:
        self.settings, self.db_url, self.clock = settings, db_url, clock

    async def current(self, account_id: int) -> str:
        """A usable access token, refreshed first when it is (nearly) expired."""
        with session_scope(self.db_url) as session:
            account = session.get(ChannelAccount, account_id)
            if not _needs_refresh(account, self.clock(), None):
                return account.access_token
        return await self.refresh(account_id)

    async def refresh(self, account_id: int, stale: str | None = None) -> str:
        """Refresh (once across processes) and return the new token; TokenError if it failed."""
        outcome = await asyncio.to_thread(self._refresh_locked, account_id, stale)
        if outcome.token is None:
            raise TokenError(outcome.error or "refresh failed")
        return outcome.token

    async def refresh_due(self) -> int:
        """The job: refresh every account whose token expires soon; returns how many did."""
        with session_scope(self.db_url) as session:
            ids = list(session.scalars(select(ChannelAccount.id).where(
                ChannelAccount.channel == ACCOUNT_CHANNEL)))
        done = 0
        for account_id in ids:
            outcome = await asyncio.to_thread(self._refresh_locked, account_id, None, True)
            done += outcome.error is None and outcome.token is not None
        return done

    def _refresh_locked(self, account_id: int, stale: str | None,
                        only_due: bool = False) -> Outcome:
        with session_scope(self.db_url) as session:
            account = session.scalar(select(ChannelAccount).where(
                ChannelAccount.id == account_id).with_for_update())
            now = self.clock()
            if not _needs_refresh(account, now, stale, unknown_is_due=only_due):
                return Outcome(None if only_due else account.access_token)
            outcome = self._call(account)
            if outcome.token is not None:
                return outcome
            account.refresh_failed_at, account.last_error = now, (outcome.error or "")[:500]
            if outcome.permanent or stale is not None or not account.access_token:
                _alert_admins(session, account, outcome.error or "", now)
        log.warning("zalo_token_refresh_failed", account_id=account_id, reason=outcome.error)
        return outcome

    def _call(self, account: ChannelAccount) -> Outcome:
        """POST the refresh token; on success the row holds the new pair (still locked)."""
        if not account.refresh_token:
            return Outcome(None, "no refresh token", permanent=True)
        try:
            response = httpx.post(
                self.settings.zalo_oauth_base_url + REFRESH_PATH,
                headers={"secret_key": self.settings.zalo_app_secret},
                data={"refresh_token": account.refresh_token, "app_id": self.settings.zalo_app_id,
                      "grant_type": "refresh_token"}, timeout=HTTP_TIMEOUT)
        except httpx.HTTPError as error:
            return Outcome(None, f"network: {type(error).__name__}")
        if response.status_code >= 500:
            return Outcome(None, f"HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError:
            return Outcome(None, f"HTTP {response.status_code}: not JSON")
        if not isinstance(body, dict) or not body.get("access_token"):
            code = body.get("error") if isinstance(body, dict) else None
            about = body.get("error_description") or body.get("message") if isinstance(
                body, dict) else None
            return Outcome(None, f"Zalo error {code}: {about}", permanent=True)
        return Outcome(self._store(account, body))

    def _store(self, account: ChannelAccount, body: dict) -> str:
        now = self.clock()
        try:
            life = int(body.get("expires_in") or DEFAULT_LIFE_SECONDS)
        except (TypeError, ValueError):
            life = DEFAULT_LIFE_SECONDS
        account.access_token = str(body["access_token"])
        account.refresh_token = str(body.get("refresh_token") or account.refresh_token)
        account.access_expires_at = now + timedelta(seconds=life)
        account.refreshed_at, account.last_error = now, None
        log.info("zalo_token_refreshed", account_id=account.id, expires_in=life)
        return account.access_token


def _alert_admins(session: Session, account: ChannelAccount, reason: str,
                  now: datetime) -> None:
    """A notice to every active admin, once a day per account."""
    admins = session.scalars(select(Officer).join(OfficerRole).where(
        OfficerRole.role == Role.ADMIN.value, Officer.active).distinct())
    for admin in admins:
        key = f"zalo_token:{account.id}:{now:%Y-%m-%d}:{admin.id}"
        store_notice(session, admin, None, "channel", ALERT_TEXT.format(reason=reason[:200]),
                     key, now, link=None)
