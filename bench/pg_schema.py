"""A PostgreSQL schema of its own for one benchmark run: created, its URL yielded (every
connection's search_path set to it), and dropped afterwards unless kept."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from urllib.parse import quote

from sqlalchemy import create_engine, text

from bot.store.db import engine_for


@contextlib.contextmanager
def bench_schema(base_url: str, prefix: str, keep: bool = False) -> Iterator[tuple[str, str]]:
    """(url, schema name) of a new schema in the database at `base_url`."""
    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    schema = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in base_url else "?"
    url = f"{base_url}{separator}options={quote(f'-csearch_path={schema}')}"
    try:
        yield url, schema
    finally:
        engine_for(url).dispose()
        if not keep:
            with admin.connect() as connection:
                connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
