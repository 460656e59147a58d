"""Every setting, read from the environment or `.env` (pydantic-settings).

A missing or malformed setting stops the process with one clear line (see `load_settings`),
never a traceback.
"""

from __future__ import annotations

import secrets
from datetime import date
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SUPPORTED_DATABASES = ("sqlite", "postgresql")


class SettingsError(Exception):
    """A setting is missing or malformed; the message is meant for the operator."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)

    data_dir: Path = Field(PROJECT_ROOT / "var", description="Runtime data: SQLite file, files.")
    database_url: str = Field("", description="SQLAlchemy URL; default SQLite in DATA_DIR.")
    redis_url: str = Field("", description="Redis for Rasa trackers and locks (production).")
    timezone: str = Field("Asia/Ho_Chi_Minh", description="Shown times; storage is UTC.")
    ticket_code_prefix: str = Field("KN", pattern=r"^[A-Z]{2,4}$")
    clocks_file: Path | None = Field(None, description="Legal clock rules (default: built in).")
    extra_days_off: list[date] = Field(default_factory=list, description="JSON list of dates.")
    extra_working_days: list[date] = Field(default_factory=list)

    rasa_url: str = Field("http://127.0.0.1:5005", description="Rasa server (REST channel).")
    rasa_token: str = Field("", description="Rasa HTTP API token; generated if empty.")
    rasa_model_dir: Path = Field(PROJECT_ROOT / "models")
    action_server_port: int = Field(5055, ge=1, le=65535)

    web_host: str = Field("127.0.0.1")
    web_port: int = Field(8080, ge=1, le=65535)
    public_url: str = Field("", description="External https URL (webhooks); empty: local only.")

    telegram_token: str = Field("", description="Bot token from @BotFather; empty: channel off.")
    telegram_base_url: str = Field("https://api.telegram.org/bot")
    telegram_base_file_url: str = Field("https://api.telegram.org/file/bot")
    telegram_webhook_secret: str = Field("", description="Webhook mode when set with PUBLIC_URL.")

    # Zalo Bot Platform (bot/channels/zalo_bot.py, docs/channels.md); off without a token.
    zalo_bot_token: str = Field("", description="Zalo Bot token; empty: channel off.")
    zalo_bot_webhook_secret: str = Field("", description="Webhook mode when set with "
                                         "PUBLIC_URL (8-256 characters); else polling.")
    zalo_bot_base_url: str = Field("https://bot-api.zaloplatforms.com")

    # Zalo Official Account (bot/channels/zalo_oa.py, docs/channels.md); off unless all of
    # app id, app secret, OA secret key and a refresh or access token are set.
    zalo_app_id: str = Field("", description="Zalo app id (developers.zalo.me).")
    zalo_app_secret: str = Field("", description="The app's secret key (token refresh).")
    zalo_oa_secret_key: str = Field("", description="The OA secret key (webhook signature).")
    zalo_access_token: str = Field("", description="First OA access token (seeds the account).")
    zalo_refresh_token: str = Field("", description="First refresh token; the rotated one is "
                                    "kept in the database and wins from then on.")
    zalo_api_base_url: str = Field("https://openapi.zalo.me")
    zalo_oauth_base_url: str = Field("https://oauth.zaloapp.com")
    zalo_retry_horizon_seconds: int = Field(24 * 3600, ge=60, le=7 * 24 * 3600,
                                            description="Older webhook events are refused.")
    zalo_staff_pause_minutes: int = Field(30, ge=0, le=24 * 60, description="The bot stays "
                                          "quiet this long after staff write in the OA inbox.")
    # Zalo's messaging windows (bot/channels/zalo_oa_windows.py, docs/channels.md).
    zalo_cs_free_hours: int = Field(48, ge=0, le=7 * 24, description="Free consultation "
                                    "messages this long after the citizen's last message.")
    zalo_cs_free_messages: int = Field(8, ge=0, le=100, description="At most this many free "
                                       "consultation messages since the citizen's last message.")
    zalo_cs_paid_days: int = Field(7, ge=0, le=30, description="Paid consultation messages up "
                                   "to this many days after the citizen's last message.")
    zalo_paid_monthly_cap: int = Field(0, ge=0, description="Paid messages (paid consultation "
                                       "and ZNS) per month; 0: none.")
    zalo_zns_base_url: str = Field("https://business.openapi.zalo.me")
    zalo_zns_template_status: str = Field("", description="ZNS template of status pushes.")
    zalo_zns_template_rating: str = Field("", description="ZNS template of rating requests.")

    not_satisfied_action: str = Field("reopen", pattern=r"^(reopen|escalate)$",
                                      description="'Chưa hài lòng': reopen, or reopen and "
                                      "tell the unit head and leaders.")

    # The officers' desk
    desk_session_hours: int = Field(12, ge=1, le=24 * 30,
                                    description="A desk login lasts this long without use.")
    login_max_failures: int = Field(5, ge=1, le=100,
                                    description="Failed logins before the account waits.")
    login_lockout_minutes: int = Field(15, ge=1, le=24 * 60)
    duplicate_similarity: float = Field(0.35, gt=0, le=1,
                                        description="Text similarity of a likely duplicate.")
    relay_hours: int = Field(72, ge=0, le=24 * 30, description="After an officer's message, "
                             "the citizen's next messages go to that ticket this long.")
    urgent_accept_hours: int = Field(4, ge=1, le=72,
                                     description="Acceptance clock of an urgent report.")
    vapid_private_key: str = Field("", description="Web Push key (base64url raw EC P-256 "
                                   "private key); generated into DATA_DIR when empty.")
    vapid_subject: str = Field("mailto:admin@localhost")
    smtp_host: str = Field("", description="E-mail notices when set.")
    smtp_port: int = Field(587, ge=1, le=65535)
    smtp_user: str = Field("")
    smtp_password: str = Field("")
    smtp_from: str = Field("nghedan@localhost")
    smtp_starttls: bool = Field(True)

    # Leaders: the weekly digest, figures, the public board, operations
    digest_weekday: int = Field(0, ge=0, le=6, description="Day of the weekly digest "
                                "(0 = Monday), Asia/Ho_Chi_Minh; it covers the week before.")
    digest_time: str = Field("07:30", pattern=r"^([01]\d|2[0-3]):[0-5]\d$",
                             description="Local time (HH:MM) of the weekly digest.")
    public_board: bool = Field(True, description="The public board at /public/ (no login).")
    metrics_token: str = Field("", description="Bearer token /metrics asks for; empty: open "
                               "(keep the port internal).")

    log_level: str = Field("INFO", pattern=r"^(DEBUG|INFO|WARNING|ERROR)$")
    log_format: str = Field("json", pattern=r"^(json|console)$")

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        if not value:
            return value
        try:
            url = make_url(value)
        except ArgumentError:
            raise ValueError(
                "is not a database URL (expected e.g. sqlite:///var/nghedan.db or "
                "postgresql://user@host:5432/dbname)"
            ) from None
        if url.get_backend_name() not in SUPPORTED_DATABASES:
            raise ValueError(f"database '{url.get_backend_name()}' is not supported "
                             f"(use one of: {', '.join(SUPPORTED_DATABASES)})")
        return value

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone '{value}'") from None
        return value

    @field_validator("rasa_url", "telegram_base_url", "telegram_base_file_url",
                     "zalo_api_base_url", "zalo_oauth_base_url", "zalo_zns_base_url")
    @classmethod
    def _check_http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("zalo_bot_base_url")
    @classmethod
    def _check_zalo_bot_url(cls, value: str) -> str:
        return cls._check_http_url(value)

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'nghedan.db'}"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def storage_dir(self) -> Path:
        return self.data_dir / "files"

    @property
    def telegram_enabled(self) -> bool:
        return bool(self.telegram_token)

    @property
    def zalo_bot_enabled(self) -> bool:
        return bool(self.zalo_bot_token)

    @property
    def zalo_oa_enabled(self) -> bool:
        return bool(self.zalo_app_id and self.zalo_app_secret and self.zalo_oa_secret_key
                    and (self.zalo_refresh_token or self.zalo_access_token))

    @property
    def secure_cookies(self) -> bool:
        """Cookies get `Secure` when the public address is https."""
        return self.public_url.startswith("https://")

    @property
    def desk_base_url(self) -> str:
        """Where links in notices point: the public address, else the local web server."""
        return (self.public_url.rstrip("/") if self.public_url
                else f"http://{self.web_host}:{self.web_port}")

    @property
    def smtp_enabled(self) -> bool:
        return bool(self.smtp_host)

    def ensure_rasa_token(self) -> str:
        """The Rasa API token: the configured one, else one kept in DATA_DIR across restarts."""
        if self.rasa_token:
            return self.rasa_token
        path = self.data_dir / "rasa_token"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_hex(32))
            path.chmod(0o600)
        self.rasa_token = path.read_text().strip()
        return self.rasa_token


def describe_error(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        name = str(item["loc"][0]).upper() if item["loc"] else "setting"
        message = item["msg"].removeprefix("Value error, ")
        lines.append(f"Setting {name}: {message}.")
    return " ".join(lines)


@lru_cache(maxsize=1)
def load_settings() -> Settings:
    """Settings for this process; raises SettingsError with an operator-friendly message."""
    try:
        return Settings()
    except ValidationError as error:
        raise SettingsError(describe_error(error)) from None
