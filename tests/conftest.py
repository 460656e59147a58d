"""Shared fixtures: a migrated database on SQLite always and on PostgreSQL when reachable
(required under CI=true)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from bot.core.org import load_demo
from bot.settings import load_settings
from bot.store.db import session_scope
from bot.store.migrate import upgrade
from tests.fake_telegram import FakeTelegram
from tests.helpers import NOW

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() == "true"


def _postgres_reachable() -> bool:
    try:
        engine = create_engine(POSTGRES_URL)
        with engine.connect():
            pass
        engine.dispose()
        return True
    except OperationalError:
        return False


POSTGRES_OK = _postgres_reachable()
if IN_CI and not POSTGRES_OK:
    raise RuntimeError(f"CI needs PostgreSQL at {POSTGRES_URL}")

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def reachable_redis():
    """A client of the test Redis, or None when it is not running (under CI=true it must be)."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        if IN_CI:
            raise
        return None
    return client


BACKENDS = [
    "sqlite",
    pytest.param("postgresql", marks=pytest.mark.skipif(
        not POSTGRES_OK, reason=f"PostgreSQL not reachable at {POSTGRES_URL}")),
]


@pytest.fixture
def empty_db_url(request, tmp_path) -> Iterator[str]:
    """A database with nothing in it, of the backend named by the test's `backend` param."""
    backend = getattr(request, "param", "sqlite")
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in POSTGRES_URL else "?"
    yield f"{POSTGRES_URL}{separator}options={quote(f'-csearch_path={schema}')}"
    with admin.connect() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def db_url(empty_db_url) -> str:
    """Migrated, with the demo commune (units, triage desk, areas, officers) loaded."""
    upgrade(empty_db_url)
    with session_scope(empty_db_url) as session:
        load_demo(session, NOW)
    return empty_db_url


@pytest.fixture
def app_env(db_url, tmp_path, monkeypatch) -> Iterator[str]:
    """Settings of this process pointed at the test database."""
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "var"))
    load_settings.cache_clear()
    yield db_url
    load_settings.cache_clear()


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    """The fake Telegram Bot API (tests/fake_telegram.py), running for one test."""
    with FakeTelegram() as server:
        yield server
