"""The data of bench/figures.py: tickets with their clocks, archived clock periods and events,
generated as lives that run until NOW (a step that would come later has not happened: the
ticket is still open there), and written in bulk in the order production writes them.

The mix: 84% phản ánh, 9% kiến nghị, 5% khiếu nại, 2% tố cáo; most tickets are accepted within
about two weeks and answered within about two more, so some are late; 6% are rejected, 2%
transferred out, 2% withdrawn, 1% linked as duplicates, 3% reopened by the citizen and answered
again, 30% of tố cáo extended; 2% stall for good in an open status (the old backlog)."""

from __future__ import annotations

import json
import random
import sqlite3
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.core.org import load_demo
from bot.core.workdays import WorkCalendar
from bot.store.db import engine_for, session_scope
from bot.store.models import Area, Officer, OrgUnit, RoutingRule

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
FIRST = datetime(2025, 1, 2, 1, 0, tzinfo=UTC)
NOW = datetime(2026, 11, 30, 0, 30, tzinfo=UTC)  # Monday 30/11/2026 07:30 in Hanoi
CHUNK = 50_000
CALENDAR = WorkCalendar()
KINDS = [("phan_anh", 84), ("kien_nghi", 9), ("khieu_nai", 5), ("to_cao", 2)]
OUTCOMES = [("closed", 57), ("resolved", 13), ("rejected", 6), ("transferred", 2),
            ("withdrawn", 2), ("duplicate", 1), ("reopened", 3), ("stall_received", 0.5),
            ("stall_accepted", 0.5), ("stall_in_progress", 0.5), ("stall_need_info", 0.5)]
RATINGS = [(1, 4), (2, 6), (3, 15), (4, 35), (5, 40)]
TERMS = {"phan_anh": (("working_days", 10), ("working_days", 7)),
         "kien_nghi": (("working_days", 10), ("working_days", 7)),
         "khieu_nai": (("calendar_days", 10), ("calendar_days", 30)),
         "to_cao": (("working_days", 7), ("calendar_days", 30))}
TICKETS = ("id", "code", "channel", "kind", "category", "needs_triage", "text", "area_id",
           "status", "unit_id", "officer_id", "confidential", "received_at", "updated_at",
           "created_at", "is_complex", "urgent", "duplicate_of_id", "rating")
CLOCKS = ("ticket_id", "name", "unit", "length", "source", "started_at", "due_at", "paused_at",
          "stopped_at", "stopped_by", "extensions")
PERIODS = ("ticket_id", "name", "unit", "length", "started_at", "due_at", "stopped_at",
           "stopped_by", "extensions", "archived_at")
EVENTS = ("ticket_id", "at", "actor_type", "channel", "action", "from_status", "to_status",
          "data")
TABLES = ("tickets", "ticket_clocks", "ticket_clock_periods", "ticket_events")


def pick(rng: random.Random, weighted: list[tuple]) -> object:
    return rng.choices([v for v, _ in weighted], [w for _, w in weighted])[0]


def stamp(moment: datetime | None) -> str | None:
    """Naive UTC text as SQLAlchemy stores it on SQLite (always with microseconds)."""
    return None if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S.%f")


@cache
def _due_day(day: date, unit: str, days: int) -> date:
    if unit == "working_days":
        while days:
            day += timedelta(days=1)
            days -= CALENDAR.is_working_day(day)
        return day
    return day + timedelta(days=days)


def due(start: datetime, unit: str, days: int) -> datetime:
    """As bot.core.clocks.deadline: the end of the local day `days` (working) days later."""
    last = _due_day(start.astimezone(TZ).date(), unit, days)
    return datetime.combine(last, clock_time.max, TZ).astimezone(UTC)


class Rows:
    """One chunk of rows of each table."""

    def __init__(self) -> None:
        self.tickets: list[tuple] = []
        self.clocks: list[tuple] = []
        self.periods: list[tuple] = []
        self.events: list[tuple] = []


class Life:
    """One ticket's life: each step happens only before NOW, and the status, clocks and
    rating written are those it has at NOW."""

    def __init__(self, rows: Rows, ticket: int, received: datetime, kind: str) -> None:
        self.rows, self.id, self.kind = rows, ticket, kind
        self.status, self.rating = "received", None
        self.clocks: dict[str, list] = {}
        self.event(received, "created", "received", actor="citizen")
        self.start("accept", received)

    def event(self, at: datetime, action: str, to: str | None, data: dict | None = None,
              actor: str = "officer") -> bool:
        if at >= NOW:
            return False
        self.rows.events.append((self.id, stamp(at), actor, "desk" if actor == "officer"
                                 else "web", action, self.status if to else None, to,
                                 json.dumps(data or {})))
        self.status = to or self.status
        return True

    def start(self, name: str, at: datetime) -> None:
        unit, days = TERMS[self.kind][0 if name == "accept" else 1]
        # unit, length, started, due, paused, stopped, stopped_by, extensions
        self.clocks[name] = [unit, days, at, due(at, unit, days), None, None, None, 0]

    def stop(self, name: str, at: datetime, by: str) -> None:
        clock = self.clocks[name]
        if clock[4] is not None:  # resumed at the stop: the wait for the citizen is added
            clock[3] += at - clock[4]
            clock[4] = None
        clock[5], clock[6] = at, by

    def move(self, at: datetime, to: str, clock: str | None = None, action: str | None = None,
             data: dict | None = None, actor: str = "officer") -> bool:
        """A status change at `at` (if before NOW) that stops `clock`."""
        if not self.event(at, action or to, to, data, actor):
            return False
        if clock:
            self.stop(clock, at, to)
        return True


def ticket_life(rows: Rows, i: int, received: datetime, rng: random.Random,
                org: dict) -> None:
    kind = pick(rng, KINDS)
    outcome = pick(rng, OUTCOMES)
    if kind in ("khieu_nai", "to_cao") and outcome == "duplicate":
        outcome = "closed"  # never linked (desk_records.NO_MERGE_KINDS)
    category = rng.choice(org["categories"])
    life = Life(rows, i, received, kind)
    duplicate_of = None
    _steps(life, rng, kind, outcome, received)
    if outcome == "duplicate" and life.clocks["accept"][6] == "duplicate":
        duplicate_of = max(1, i - 1)
    for name, (unit, days, started, deadline, paused, stopped, by, extended) in (
            life.clocks.items()):
        rows.clocks.append((i, name, unit, days, "bench", stamp(started), stamp(deadline),
                            stamp(paused), stamp(stopped), by, extended))
    triage = category == "khac" or rng.random() < 0.05
    unit_id = org["to_cao"] if kind == "to_cao" else org["routes"].get(category, org["triage"])
    rows.tickets.append((
        i, f"KN-{received.astimezone(TZ).year}-{i:07d}", "telegram", kind, category,
        int(triage), "bench", rng.choice(org["areas"]), life.status,
        org["triage"] if triage and kind != "to_cao" else unit_id,
        rng.choice(org["officers"]), int(kind == "to_cao"), stamp(received), stamp(received),
        stamp(received), 0, 0, duplicate_of, life.rating))


def _steps(life: Life, rng: random.Random, kind: str, outcome: str,
           received: datetime) -> None:
    days = timedelta(days=1)
    if outcome in ("rejected", "withdrawn", "duplicate"):
        at = received + rng.uniform(0.2, 15) * days
        if outcome == "duplicate":
            if life.event(at, "linked_duplicate", None):
                life.stop("accept", at, "duplicate")
        else:
            life.move(at, outcome, "accept", actor="citizen" if outcome == "withdrawn"
                      else "officer")
        return
    accepted = received + rng.uniform(0.05, 15) * days
    if outcome == "stall_received" or not life.move(accepted, "accepted", "accept"):
        return
    life.start("resolve", accepted)
    if kind == "to_cao" and rng.random() < 0.3 and life.event(
            accepted + 20 * days, "resolve_clock_extended", None,
            {"days": 30, "especially_complex": rng.random() < 0.3}):
        life.clocks["resolve"][3] += 30 * days
        life.clocks["resolve"][7] = 1
    if rng.random() < 0.5:
        life.move(accepted + timedelta(hours=2), "assigned")
    if outcome == "stall_accepted":
        return
    if outcome == "stall_need_info":
        paused = accepted + rng.uniform(0.5, 10) * days
        if life.move(paused, "need_info"):
            life.clocks["resolve"][4] = paused
        return
    life.move(accepted + timedelta(hours=3), "in_progress")
    if outcome == "stall_in_progress":
        return
    end = accepted + rng.uniform(0.5, 16) * days
    stop = "transferred" if outcome == "transferred" else "resolved"
    if not life.move(end, stop, "resolve"):
        return
    if outcome == "reopened":
        again = end + rng.uniform(0.1, 3) * days
        if not life.move(again, "in_progress", action="reopened", data={"by": "citizen"},
                         actor="citizen"):
            return
        unit, length, started, deadline, _, stopped, by, extended = life.clocks["resolve"]
        life.rows.periods.append((life.id, "resolve", unit, length, stamp(started),
                                  stamp(deadline), stamp(stopped), by, extended, stamp(again)))
        life.start("resolve", again)
        end = again + rng.uniform(0.5, 8) * days
        if not life.move(end, "resolved", "resolve"):
            return
    if outcome in ("closed", "reopened"):
        rating = pick(rng, RATINGS)
        if life.move(end + rng.uniform(0, 4) * days, "closed", action="rated",
                     data={"rating": rating}, actor="citizen"):
            life.rating = rating


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
    """Rows in the order production writes them: tickets (and their clocks) by time of
    receipt, events by time (an event is written when it happens, so the events of a week
    lie together in the table, as time-range queries find them in production)."""
    rng = random.Random(11)
    span = int((NOW - FIRST).total_seconds())
    moments = sorted(rng.randint(0, span) for _ in range(count))
    rows, later = Rows(), []
    for i, offset in enumerate(moments, 1):
        ticket_life(rows, i, FIRST + timedelta(seconds=offset), rng, org)
        if i % CHUNK == 0 or i == count:
            # Every ticket received after this one has its events after this moment too.
            until = stamp(FIRST + timedelta(seconds=offset)) if i < count else "9999"
            pending = sorted(later + rows.events, key=lambda event: event[1])
            split = next((n for n, event in enumerate(pending) if event[1] >= until),
                         len(pending))
            rows.events, later = pending[:split], pending[split:]
            yield rows
            rows = Rows()


def _tables(rows: Rows):
    return (("tickets", TICKETS, rows.tickets), ("ticket_clocks", CLOCKS, rows.clocks),
            ("ticket_clock_periods", PERIODS, rows.periods),
            ("ticket_events", EVENTS, rows.events))


def seed_postgres(url: str, count: int) -> None:
    """COPY into the migrated, empty schema of `url` (with the demo commune)."""
    org = organisation(url)
    raw = engine_for(url).raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("ALTER TABLE ticket_clocks DISABLE TRIGGER ticket_clocks_next_due")
        for rows in chunks(count, org):
            for table, columns, data in _tables(rows):
                with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in data:
                        copy.write_row(row)
        cursor.execute("ALTER TABLE ticket_clocks ENABLE TRIGGER ticket_clocks_next_due")
        for table in TABLES:
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                           f"(SELECT max(id) FROM {table}))")
        raw.commit()
    finally:
        raw.close()
    with engine_for(url).connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in TABLES:  # as autovacuum does after bulk inserts
            conn.exec_driver_sql(f"VACUUM ANALYZE {table}")


def seed_sqlite(url: str, path: Path, count: int) -> None:
    """executemany into the migrated, empty SQLite file (with the demo commune)."""
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
        for table, columns, data in _tables(rows):
            marks = ", ".join("?" * len(columns))
            connection.executemany(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", data)
        connection.commit()
    connection.execute("ANALYZE")
    connection.commit()
    connection.close()
