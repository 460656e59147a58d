"""Ticket creation throughput: sequential and concurrent, on SQLite and (when reachable)
PostgreSQL. Usage: .venv/bin/python bench/ticket_create.py [--count N] [--postgres URL]"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from urllib.parse import quote
from zoneinfo import ZoneInfo

from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from bot.core.context import CoreContext
from bot.core.org import load_demo
from bot.core.taxonomy import ActorType
from bot.core.tickets import Actor, TicketDraft, create_ticket
from bot.store.db import session_scope
from bot.store.migrate import upgrade

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
ACTOR = Actor(ActorType.CITIZEN, None, "web")
CTX = CoreContext.build(TZ)


def create_one(url: str, i: int) -> float:
    start = time.perf_counter()
    with session_scope(url) as session:
        draft = TicketDraft(text=f"Đường thôn {i} ngập", channel="web")
        create_ticket(session, draft, ACTOR, CTX)
    return time.perf_counter() - start


def measure(url: str, count: int, workers: int) -> str:
    upgrade(url)
    with session_scope(url) as session:
        load_demo(session, datetime.now(UTC))
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        latencies = sorted(pool.map(lambda i: create_one(url, i), range(count)))
    elapsed = time.perf_counter() - start
    p50 = statistics.median(latencies) * 1000
    p95 = latencies[int(0.95 * (len(latencies) - 1))] * 1000
    return f"| {workers} | {count} | {count / elapsed:.0f}/s | {p50:.1f} ms | {p95:.1f} ms |"


def in_postgres_schema(base: str, count: int, workers: int) -> str | None:
    """Measure in a schema of its own, dropped afterwards; None when PostgreSQL is down."""
    engine = create_engine(base, isolation_level="AUTOCOMMIT")
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    try:
        with engine.connect() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    except OperationalError:
        return None
    try:
        return measure(f"{base}?options={quote(f'-csearch_path={schema}')}", count, workers)
    finally:
        with engine.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    header = "| workers | tickets | throughput | p50 | p95 |\n|---|---|---|---|---|"
    with tempfile.TemporaryDirectory() as tmp:
        print("SQLite (WAL, file on local disk)\n" + header)
        for workers in (1, 8):
            print(measure(f"sqlite:///{tmp}/bench-{workers}.db", args.count, workers))
    print("\nPostgreSQL (local)\n" + header)
    for workers in (1, 8, 50):
        row = in_postgres_schema(args.postgres, args.count, workers)
        print(row or "PostgreSQL not reachable; skipped")
        if row is None:
            break


if __name__ == "__main__":
    main()
