"""Web Push (RFC 8030/8291/8292): the server's VAPID key and sending one encrypted push.

The private key is VAPID_PRIVATE_KEY when set (base64url raw P-256 key, or DER), else a PEM file
generated once into DATA_DIR/vapid_private.pem, created with mode 600 from the start and
published atomically, so every bot process signs with the same key. Errors are sorted the way
the outbox sorts them: `SubscriptionGone` (404/410: the browser dropped it; never retry),
other `PermanentError`s, and `TemporaryError` (429, 5xx, network) to retry later."""

from __future__ import annotations

import base64
import contextlib
import os
import secrets
import threading
from pathlib import Path

import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid, Vapid01
from pywebpush import WebPushException, webpush

from bot.channels.base import PermanentError, TemporaryError
from bot.settings import Settings
from bot.store.desk_models import PushSubscription

KEY_FILE = "vapid_private.pem"
PUSH_TTL_SECONDS = 24 * 3600  # a phone that is off gets the notice within a day
PUSH_TIMEOUT_SECONDS = 15
MAX_PAYLOAD_BYTES = 3000  # 4096 per push minus encryption overhead, with room to spare

_lock = threading.Lock()
_cache: dict[str, Vapid01] = {}


class SubscriptionGone(PermanentError):
    """The push service says the subscription no longer exists (404/410)."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _create_key_file(path: Path) -> None:
    """Write a new PEM key readable by the owner only; a second process racing here keeps the
    first one's key (the file appears whole, by a hard link, or not at all)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    temp = path.with_name(f".{path.name}.{secrets.token_hex(6)}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):  # the other process's key stays
            os.link(temp, path)
    finally:
        temp.unlink(missing_ok=True)


def vapid_key(settings: Settings) -> Vapid01:
    """The server's VAPID key (from the setting, else the key file, generated when missing)."""
    configured = settings.vapid_private_key.strip()
    path = settings.data_dir / KEY_FILE
    cache_key = f"setting:{configured}" if configured else f"file:{path}"
    with _lock:
        if cache_key not in _cache:
            if configured:
                _cache[cache_key] = Vapid.from_string(private_key=configured)
            else:
                if not path.exists():
                    _create_key_file(path)
                _cache[cache_key] = Vapid.from_pem(path.read_bytes())
        return _cache[cache_key]


def public_key(settings: Settings) -> str:
    """applicationServerKey for PushManager.subscribe: the uncompressed P-256 point (base64url)."""
    raw = vapid_key(settings).public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return b64url(raw)


def subscription_info(subscription: PushSubscription) -> dict:
    return {"endpoint": subscription.endpoint,
            "keys": {"p256dh": subscription.p256dh, "auth": subscription.auth}}


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None  # an HTTP date: our own back-off is close enough


def send_push(subscription: PushSubscription, payload_json: str, settings: Settings,
              timeout: float = PUSH_TIMEOUT_SECONDS) -> None:
    """Encrypt (aes128gcm) and send one push; raises SubscriptionGone, PermanentError or
    TemporaryError. The reason never carries the payload or the push service's body."""
    data = payload_json.encode()
    if len(data) > MAX_PAYLOAD_BYTES:
        raise PermanentError("nội dung thông báo quá dài")
    try:
        webpush(subscription_info(subscription), payload_json,
                vapid_private_key=vapid_key(settings),
                vapid_claims={"sub": settings.vapid_subject},
                content_encoding="aes128gcm", ttl=PUSH_TTL_SECONDS, timeout=timeout)
    except WebPushException as error:
        status = error.status_code
        if status is None:
            raise PermanentError("đăng ký nhận thông báo không hợp lệ") from None
        if status in (404, 410):
            raise SubscriptionGone(f"push {status}: trình duyệt đã huỷ đăng ký") from None
        if status == 429 or status >= 500:
            raise TemporaryError(f"push {status}: dịch vụ push tạm thời lỗi",
                                 _retry_after(error.retry_after)) from None
        raise PermanentError(f"push {status}: dịch vụ push từ chối") from None
    except requests.RequestException as error:
        raise TemporaryError(f"push: lỗi mạng ({type(error).__name__})") from None
