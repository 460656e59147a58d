"""The leaders' figures over 1,000,000 tickets, on PostgreSQL and on SQLite: seeds a database
of its own (PostgreSQL: a fresh schema, dropped afterwards; SQLite: a temporary file) with
tickets, their clocks, the periods reopens archived and their events in bulk (COPY on
PostgreSQL, executemany on SQLite; not through the core: speed matters), then times

- the weekly digest's figures: compute() for one ISO week (with its previous week),
  weekly_series() for 8 weeks and overdue_tickets() at the end of the week;
- the yearly report's compute() for 16/10/2025..15/10/2026 (with the year before),

for the commune's leaders (every unit) and for one department, as the median (and max) of N
runs after a warm-up, plus the time of each query family of one run (the profile).

Usage: .venv/bin/python bench/figures.py [--count 1000000] [--runs 5]
       [--postgres URL] [--no-sqlite] [--no-postgres] [--keep]"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote
from zoneinfo import ZoneInfo

from sqlalchemy import create_engine, select, text

from bot.core import figures
from bot.core import figures_sql as q
from bot.core.context import CoreContext
from bot.core.figures_model import Period
from bot.core.org import load_demo
from bot.core.workdays import WorkCalendar
from bot.store.db import engine_for, session_scope
from bot.store.migrate import upgrade
from bot.store.models import Area, Officer, OrgUnit, RoutingRule

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
FIRST = datetime(2025, 1, 2, 1, 0, tzinfo=UTC)
NOW = datetime(2026, 11, 30, 0, 30, tzinfo=UTC)  # Monday 30/11/2026 07:30 in Hanoi
WEEK = "2026-W48"  # the digest of that Monday
YEAR = Period(date(2025, 10, 16), date(2026, 10, 15))
CHUNK = 50_000
CALENDAR = WorkCalendar()
KINDS = [("phan_anh", 84), ("kien_nghi", 9), ("khieu_nai", 5), ("to_cao", 2)]
FINISHED = [("closed", 55), ("resolved", 12), ("rejected", 6), ("transferred", 2),
            ("withdrawn", 2), ("duplicate", 1), ("reopened", 3)]
OPEN = [("received", 9), ("accepted", 4), ("assigned", 5), ("in_progress", 9),
        ("need_info", 3)]
RATINGS = [(1, 4), (2, 6), (3, 15), (4, 35), (5, 40)]
TICKETS = ("id", "code", "channel", "kind", "category", "needs_triage", "text", "area_id",
           "status", "unit_id", "officer_id", "confidential", "received_at", "updated_at",
           "created_at", "is_complex", "urgent", "duplicate_of_id", "rating")
CLOCKS = ("ticket_id", "name", "unit", "length", "source", "started_at", "due_at", "paused_at",
          "stopped_at", "stopped_by", "extensions")
PERIODS = ("ticket_id", "name", "unit", "length", "started_at", "due_at", "stopped_at",
           "stopped_by", "extensions", "archived_at")
EVENTS = ("ticket_id", "at", "actor_type", "channel", "action", "from_status", "to_status",
          "data")


def pick(rng: random.Random, weighted: list[tuple]) -> object:
    return rng.choices([v for v, _ in weighted], [w for _, w in weighted])[0]


def stamp(moment: datetime | None) -> str | None:
    """Naive UTC text as SQLAlchemy stores it on SQLite (always with microseconds)."""
    return None if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S.%f")


@lru_cache(maxsize=None)
def _due_day(day: date, unit: str, days: int) -> date:
    if unit == "working_days":
        while days:
            day += timedelta(days=1)
            days -= CALENDAR.is_working_day(day)
        return day
    return day + timedelta(days=days)


def due(start: datetime, unit: str, days: int) -> datetime:
    """As bot.core.clocks.deadline: the end of the local day `days` (working) days later."""
    if unit == "hours":
        return start + timedelta(hours=days)
    last = _due_day(start.astimezone(TZ).date(), unit, days)
    return datetime.combine(last, clock_time.max, TZ).astimezone(UTC)


TERMS = {"phan_anh": (("working_days", 10), ("working_days", 7)),
         "kien_nghi": (("working_days", 10), ("working_days", 7)),
         "khieu_nai": (("calendar_days", 10), ("calendar_days", 30)),
         "to_cao": (("working_days", 7), ("calendar_days", 30))}


class Rows:
    """One chunk of rows of each table."""

    def __init__(self) -> None:
        self.tickets: list[tuple] = []
        self.clocks: list[tuple] = []
        self.periods: list[tuple] = []
        self.events: list[tuple] = []

    def event(self, ticket: int, at: datetime, action: str, before: str | None,
              after: str | None, data: dict | None = None, actor: str = "officer") -> None:
        self.events.append((ticket, stamp(at), actor, "desk" if actor == "officer" else "web",
                            action, before, after, json.dumps(data or {})))


def ticket_story(rows: Rows, i: int, rng: random.Random, org: dict) -> None:
    """One ticket with a consistent history: events, clocks, archived periods."""
    received = FIRST + timedelta(seconds=rng.randint(0, int((NOW - FIRST).total_seconds())))
    recent = NOW - received < timedelta(days=45)
    outcome = pick(rng, OPEN if recent and rng.random() < 0.5 else FINISHED)
    kind = pick(rng, KINDS)
    if kind == "khieu_nai" and outcome == "duplicate":
        outcome = "closed"
    category = rng.choice(org["categories"])
    triage = category == "khac" or rng.random() < 0.05
    unit_id = org["to_cao"] if kind == "to_cao" else org["routes"].get(category, org["triage"])
    (accept_unit, accept_days), (resolve_unit, resolve_days) = TERMS[kind]
    rating = None
    accept_due = due(received, accept_unit, accept_days)
    accepted = received + timedelta(days=rng.uniform(0.05, 15))
    status = "received"
    rows.event(i, received, "created", None, "received", actor="citizen")
    accept_stop: tuple[datetime | None, str | None] = (None, None)
    if outcome in ("rejected", "withdrawn", "duplicate") or (outcome == "received"):
        if outcome != "received":
            at = min(received + timedelta(days=rng.uniform(0.2, 15)), NOW)
            accept_stop = (at, outcome)
            if outcome == "duplicate":
                rows.event(i, at, "linked_duplicate", None, None)
            else:
                rows.event(i, at, outcome, status, outcome,
                           actor="citizen" if outcome == "withdrawn" else "officer")
                status = outcome
    else:
        if accepted >= NOW:
            accepted = received + (NOW - received) / 2
        accept_stop = (accepted, "accepted")
        rows.event(i, accepted, "accepted", status, "accepted")
        status = "accepted"
    rows.clocks.append((i, "accept", accept_unit, accept_days, "bench", stamp(received),
                        stamp(accept_due), None, stamp(accept_stop[0]), accept_stop[1], 0))
    if status == "accepted":
        resolve_story(rows, i, rng, kind, outcome, accepted, resolve_unit, resolve_days)
        status = {"closed": "closed", "reopened": "closed", "resolved": "resolved",
                  "transferred": "transferred"}.get(outcome, outcome)
        if status == "closed":
            rating = pick(rng, RATINGS)
    rows.tickets.append((
        i, f"KN-{received.astimezone(TZ).year}-{i:07d}", "telegram", kind, category,
        int(triage), "bench", rng.choice(org["areas"]), status,
        org["triage"] if triage and kind != "to_cao" else unit_id,
        rng.choice(org["officers"]), int(kind == "to_cao"), stamp(received), stamp(received),
        stamp(received), 0, 0, max(1, i - 1) if outcome == "duplicate" else None, rating))


def resolve_story(rows: Rows, i: int, rng: random.Random, kind: str, outcome: str,
                  accepted: datetime, unit: str, days: int) -> None:
    start, deadline, extensions = accepted, due(accepted, unit, days), 0
    if kind == "to_cao" and rng.random() < 0.3:
        at = min(accepted + timedelta(days=20), NOW)
        rows.event(i, at, "resolve_clock_extended", None, None,
                   {"days": 30, "especially_complex": rng.random() < 0.3})
        deadline, extensions = deadline + timedelta(days=30), 1
    if rng.random() < 0.5:
        rows.event(i, accepted + timedelta(hours=2), "assigned", "accepted", "assigned")
    if outcome in ("received", "accepted", "assigned", "in_progress", "need_info"):
        paused = None
        if outcome == "need_info":
            paused = min(accepted + timedelta(days=rng.uniform(0.5, 10)), NOW)
            rows.event(i, paused, "need_info", "accepted", "need_info")
        elif outcome == "in_progress":
            rows.event(i, accepted + timedelta(hours=3), "in_progress", "accepted",
                       "in_progress")
        rows.clocks.append((i, "resolve", unit, days, "bench", stamp(start), stamp(deadline),
                            stamp(paused), None, None, extensions))
        return
    end = min(accepted + timedelta(days=rng.uniform(0.5, 16)), NOW)
    stop = "transferred" if outcome == "transferred" else "resolved"
    rows.event(i, end, stop, "accepted", stop)
    if outcome == "reopened":
        again = min(end + timedelta(days=rng.uniform(0.1, 3)), NOW)
        rows.periods.append((i, "resolve", unit, days, stamp(start), stamp(deadline),
                             stamp(end), "resolved", extensions, stamp(again)))
        rows.event(i, again, "reopened", "resolved", "in_progress", {"by": "citizen"},
                   actor="citizen")
        start, deadline = again, due(again, unit, days)
        end = min(again + timedelta(days=rng.uniform(0.5, 8)), NOW)
        rows.event(i, end, "resolved", "in_progress", "resolved")
    rows.clocks.append((i, "resolve", unit, days, "bench", stamp(start), stamp(deadline),
                        None, stamp(end), stop, extensions))
    if outcome in ("closed", "reopened"):
        rows.event(i, min(end + timedelta(days=rng.uniform(0, 4)), NOW), "rated", "resolved",
                   "closed", {"rating": pick(rng, RATINGS)}, actor="citizen")


def organisation(url: str) -> dict:
    with session_scope(url) as session:
        load_demo(session, NOW)
        routes = {r.category: r.unit_id for r in session.scalars(
            select(RoutingRule).where(RoutingRule.category.is_not(None)))}
        return {
            "routes": routes,
            "categories": [*routes, "khac"],
            "to_cao": session.scalar(select(RoutingRule.unit_id).where(
                RoutingRule.kind == "to_cao")),
            "triage": session.scalar(select(OrgUnit.id).where(OrgUnit.is_triage.is_(True))),
            "areas": list(session.scalars(select(Area.id))),
            "officers": list(session.scalars(select(Officer.id))),
        }


def chunks(count: int, org: dict):
    rng = random.Random(11)
    rows = Rows()
    for i in range(1, count + 1):
        ticket_story(rows, i, rng, org)
        if i % CHUNK == 0 or i == count:
            yield rows
            rows = Rows()


def seed_postgres(url: str, count: int) -> None:
    org = organisation(url)
    raw = engine_for(url).raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("ALTER TABLE ticket_clocks DISABLE TRIGGER ticket_clocks_next_due")
        for rows in chunks(count, org):
            for table, columns, data in (("tickets", TICKETS, rows.tickets),
                                         ("ticket_clocks", CLOCKS, rows.clocks),
                                         ("ticket_clock_periods", PERIODS, rows.periods),
                                         ("ticket_events", EVENTS, rows.events)):
                with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in data:
                        copy.write_row(row)
        cursor.execute("ALTER TABLE ticket_clocks ENABLE TRIGGER ticket_clocks_next_due")
        for table in ("tickets", "ticket_clocks", "ticket_clock_periods", "ticket_events"):
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                           f"(SELECT max(id) FROM {table}))")
        raw.commit()
    finally:
        raw.close()
    with engine_for(url).connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in ("tickets", "ticket_clocks", "ticket_clock_periods", "ticket_events"):
            conn.exec_driver_sql(f"VACUUM ANALYZE {table}")


def seed_sqlite(url: str, path: Path, count: int) -> None:
    org = organisation(url)
    engine_for(url).dispose()
    connection = sqlite3.connect(path)
    # A throwaway database: the next_due_at triggers (the desk's queue order) are not needed
    # by the figures and would update a ticket per clock row.
    for (name,) in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' "
            "AND name LIKE 'ticket_clocks_next_due%'").fetchall():
        connection.execute(f"DROP TRIGGER {name}")
    connection.execute("PRAGMA synchronous=OFF")
    for rows in chunks(count, org):
        for table, columns, data in (("tickets", TICKETS, rows.tickets),
                                     ("ticket_clocks", CLOCKS, rows.clocks),
                                     ("ticket_clock_periods", PERIODS, rows.periods),
                                     ("ticket_events", EVENTS, rows.events)):
            marks = ", ".join("?" * len(columns))
            connection.executemany(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", data)
        connection.commit()
    connection.execute("ANALYZE")
    connection.commit()
    connection.close()


class Profile:
    """Wall time of each query family of bot.core.figures_sql (wrapped for one run)."""

    NAMES = ("received_rows", "status_rows", "clock_rows", "open_rows", "duration_rows",
             "extension_row", "rating_rows", "reopen_row")

    def __init__(self) -> None:
        self.spent: dict[str, float] = defaultdict(float)
        self.saved = {name: getattr(q, name) for name in self.NAMES}

    def __enter__(self) -> Profile:
        for name, function in self.saved.items():
            def timed(*args, _f=function, _n=name, **kwargs):
                started = time.perf_counter()
                try:
                    return _f(*args, **kwargs)
                finally:
                    self.spent[_n] += time.perf_counter() - started
            setattr(q, name, timed)
        return self

    def __exit__(self, *_exc) -> None:
        for name, function in self.saved.items():
            setattr(q, name, function)


def weekly_digest(session, scope, ctx: CoreContext) -> None:
    period = Period.iso_week(WEEK)
    figures.compute(session, scope, period, ctx, now=NOW)
    figures.weekly_series(session, scope, WEEK, 8, ctx, now=NOW)
    figures.overdue_tickets(session, scope, min(period.bounds(TZ)[1], NOW))


def yearly_report(session, scope, ctx: CoreContext) -> None:
    figures.compute(session, scope, YEAR, ctx, now=NOW)


def measure(url: str, runs: int, label: str) -> list[str]:
    ctx = CoreContext.build(TZ, "KN", lambda: NOW)
    lines = []
    with session_scope(url) as session:
        figures.ensure_calendar(session, ctx)
    for who, unit in (("commune leaders", "xa-an-binh"), ("one department",
                                                          "xa-an-binh-kinh-te")):
        for name, action in (("weekly digest", weekly_digest), ("yearly report", yearly_report)):
            samples = []
            with session_scope(url) as session:
                scope = figures.scope_for(session, unit_code=unit)
                action(session, scope, ctx)  # warm-up
                for _ in range(runs):
                    started = time.perf_counter()
                    action(session, scope, ctx)
                    samples.append(time.perf_counter() - started)
                with Profile() as profile:
                    action(session, scope, ctx)
            parts = ", ".join(f"{k} {v * 1000:.0f}" for k, v in sorted(
                profile.spent.items(), key=lambda kv: -kv[1]))
            lines.append(f"| {label} | {name} | {who} | {statistics.median(samples):.3f} s | "
                         f"{max(samples):.3f} s | {parts} |")
            print(lines[-1], flush=True)
    return lines


def sizes(url: str) -> str:
    with session_scope(url) as session:
        counts = [session.scalar(text(f"SELECT count(*) FROM {table}")) for table in
                  ("tickets", "ticket_clocks", "ticket_clock_periods", "ticket_events")]
    return ("tickets {:,}, clocks {:,}, archived periods {:,}, events {:,}".format(*counts))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the schema and the file")
    args = parser.parse_args()
    lines = ["| database | figures | scope | median | max | profile of one run (ms) |",
             "|---|---|---|---|---|---|"]
    if not args.no_postgres:
        admin = create_engine(args.postgres, isolation_level="AUTOCOMMIT")
        schema = f"bench_figures_{uuid.uuid4().hex[:8]}"
        with admin.connect() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        separator = "&" if "?" in args.postgres else "?"
        url = f"{args.postgres}{separator}options={quote(f'-csearch_path={schema}')}"
        try:
            upgrade(url)
            started = time.perf_counter()
            seed_postgres(url, args.count)
            print(f"PostgreSQL: seeded in {time.perf_counter() - started:.0f} s: {sizes(url)}"
                  f" (schema {schema})", flush=True)
            lines += measure(url, args.runs, "PostgreSQL")
        finally:
            engine_for(url).dispose()
            if not args.keep:
                with admin.connect() as connection:
                    connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()
    if not args.no_sqlite:
        directory = Path(tempfile.mkdtemp(prefix="bench-figures-"))
        path = directory / "figures.db"
        url = f"sqlite:///{path}"
        try:
            upgrade(url)
            started = time.perf_counter()
            seed_sqlite(url, path, args.count)
            print(f"SQLite: seeded in {time.perf_counter() - started:.0f} s: {sizes(url)}",
                  flush=True)
            lines += measure(url, args.runs, "SQLite")
        finally:
            engine_for(url).dispose()
            if not args.keep:
                path.unlink(missing_ok=True)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
