"""Exactly one scheduler leader: a PostgreSQL advisory lock held on its own connection, or on
SQLite (one machine) an exclusive file lock beside the database."""

from __future__ import annotations

import fcntl
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Connection, make_url

from bot.store.db import engine_for

LOCK_KEY = 0x4E_47_48_45  # "NGHE": the advisory lock id of the scheduler


class LeaderLock:
    def __init__(self, db_url: str, lock_dir: Path) -> None:
        self.db_url = db_url
        self.lock_dir = lock_dir
        self._connection: Connection | None = None
        self._file = None

    @property
    def held(self) -> bool:
        return self._connection is not None or self._file is not None

    def try_acquire(self) -> bool:
        if self.held:
            return True
        if make_url(self.db_url).get_backend_name() == "postgresql":
            connection = engine_for(self.db_url).connect()
            if connection.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": LOCK_KEY}):
                connection.commit()
                self._connection = connection
                return True
            connection.close()
            return False
        self.lock_dir.mkdir(parents=True, exist_ok=True)
        handle = (self.lock_dir / "scheduler.lock").open("w")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        self._file = handle
        return True

    def release(self) -> None:
        if self._connection is not None:
            self._connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": LOCK_KEY})
            self._connection.close()
            self._connection = None
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None
