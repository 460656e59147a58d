"""The desk's queue with 100,000 tickets on PostgreSQL: seeds a schema of its own (dropped
afterwards) with a realistic mix of units, kinds, statuses and clocks by COPY, then times
(1) `load_queue` alone for several tabs and filters and (2) the whole queue page, GET /desk/
through the bot's aiohttp app on 127.0.0.1 with a logged-in officer's session cookie (session
check, tabs, counts, the page of rows, the change token, the filter choices and the Jinja2
template), each as p50/p95 over N runs after two warm-ups.

Usage: .venv/bin/python bench/desk.py [--count 100000] [--runs 30] [--postgres URL] [--keep]"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import os
import random
import socket
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

from bench.pg_schema import bench_schema  # noqa: E402
from bot.core.authz import Caller  # noqa: E402
from bot.core.org import load_demo  # noqa: E402
from bot.core.queue import QueueFilter, latest_change, load_queue, tabs_for  # noqa: E402
from bot.core.routing import OPEN_STATUSES  # noqa: E402
from bot.core.text import fold  # noqa: E402
from bot.store.db import engine_for, session_scope  # noqa: E402
from bot.store.migrate import upgrade  # noqa: E402
from bot.store.models import Area, Officer, OrgUnit, RoutingRule  # noqa: E402

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)  # the app under test runs on this clock too
QUEUE_TEMPLATE = (Path(__file__).resolve().parent.parent / "bot" / "web" / "templates" / "desk"
                  / "queue.html")
# The same statement as migration 0005's back-fill of tickets.next_due_at.
NEXT_DUE_BACKFILL = (
    "UPDATE tickets SET next_due_at = (SELECT min(c.due_at) FROM ticket_clocks c "
    "WHERE c.ticket_id = tickets.id AND c.stopped_at IS NULL "
    "AND (c.paused_at IS NULL OR c.paused_at > c.due_at))")
PROBLEMS = {
    "ha_tang": ["Đường bê tông bị nứt, ổ gà lớn", "Đèn đường hỏng cả tuần", "Cống thoát nước tắc",
                "Cột điện nghiêng", "Mất nước sinh hoạt nhiều ngày", "Đường ngập sâu sau mưa"],
    "moi_truong": ["Rác thải đổ trộm ven sông", "Khói đốt rơm rạ", "Trại lợn xả thải hôi thối"],
    "dat_dai": ["Lấn chiếm đất công làm quán", "Tranh chấp ranh giới đất với hàng xóm"],
    "xay_dung_do_thi": ["Xây nhà không phép lấn ra đường", "Vật liệu xây dựng chắn lối đi"],
    "an_ninh_trat_tu": ["Karaoke ồn ào đến khuya", "Thanh niên tụ tập đua xe"],
    "thu_tuc_hanh_chinh": ["Hồ sơ cấp sổ đỏ quá hạn chưa trả", "Làm khai sinh bị hẹn nhiều lần"],
    "chinh_sach_xa_hoi": ["Chưa nhận trợ cấp người cao tuổi", "Xét hộ nghèo chưa đúng"],
    "y_te_giao_duc": ["Trường học thu tiền ngoài quy định", "Quán ăn mất vệ sinh"],
    "khac": ["Hỏi lịch họp dân", "Đề nghị tổ chức lớp học nghề"],
}
KINDS = [("phan_anh", 84), ("kien_nghi", 9), ("khieu_nai", 5), ("to_cao", 2)]
# 70% finished (a year of history), 30% open, as a commune desk looks after a year
STATUSES = [("closed", 52), ("resolved", 10), ("rejected", 5), ("transferred", 2),
            ("withdrawn", 1), ("received", 9), ("accepted", 4), ("assigned", 5),
            ("in_progress", 9), ("need_info", 3)]
TICKET_COLUMNS = ("id", "code", "channel", "kind", "category", "needs_triage", "text",
                  "location_text", "area_id", "status", "unit_id", "officer_id", "confidential",
                  "received_at", "updated_at", "created_at", "is_complex", "urgent",
                  "search_text", "nlu_confidence")
CLOCK_COLUMNS = ("ticket_id", "name", "unit", "length", "source", "started_at", "due_at",
                 "paused_at", "stopped_at", "extensions")


def pick(rng: random.Random, weighted: list[tuple[str, int]]) -> str:
    return rng.choices([v for v, _ in weighted], [w for _, w in weighted])[0]


def seed(url: str, count: int, rng: random.Random) -> None:
    """Tickets and their clocks by COPY (ids given, sequences moved past them)."""
    started = time.perf_counter()
    with session_scope(url) as session:
        load_demo(session, NOW)
        routes = {r.category: (r.unit_id, r.officer_id) for r in session.scalars(
            select(RoutingRule).where(RoutingRule.category.is_not(None)))}
        to_cao = session.scalar(select(RoutingRule).where(RoutingRule.kind == "to_cao"))
        triage = session.scalar(select(OrgUnit).where(OrgUnit.is_triage.is_(True)))
        officers: dict[int, list[int]] = {}
        for officer in session.scalars(select(Officer)):
            officers.setdefault(officer.unit_id, []).append(officer.id)
        areas = [(a.id, a.name) for a in session.scalars(select(Area))]
    tickets, clocks = io.StringIO(), io.StringIO()
    tw, cw = csv.writer(tickets), csv.writer(clocks)
    for i in range(1, count + 1):
        kind, status = pick(rng, KINDS), pick(rng, STATUSES)
        open_ = status in OPEN_STATUSES  # open ones are recent; finished ones span a year
        received = NOW - timedelta(seconds=rng.randint(0, (30 if open_ else 365) * 86400))
        category = rng.choice(list(PROBLEMS))
        if kind == "to_cao":
            unit_id, officer_id = to_cao.unit_id, to_cao.officer_id
        elif category == "khac" or rng.random() < 0.05:
            unit_id, officer_id = triage.id, rng.choice(officers[triage.id])
        else:
            unit_id, officer_id = routes[category]
            officer_id = officer_id or rng.choice(officers[unit_id])
        area_id, area_name = rng.choice(areas)
        words = f"{rng.choice(PROBLEMS[category])} ở {area_name}, đề nghị xã kiểm tra xử lý"
        code = f"KN-{received.astimezone(TZ).year}-{i:06d}"
        urgent = open_ and rng.random() < 0.01
        updated = received + timedelta(days=rng.uniform(0, 20)) if not open_ else received
        tw.writerow([i, code, rng.choice(["telegram", "web", "zalo"]), kind, category,
                     int(category == "khac"), words, area_name, area_id, status, unit_id,
                     officer_id, int(kind == "to_cao"), received, min(updated, NOW), received,
                     0, int(urgent), fold(f"{code} {words} {area_name}"),
                     round(rng.uniform(0.3, 0.99), 2)])
        accept_days = 10 if kind != "to_cao" else 7
        accept_due = (received + timedelta(hours=4) if urgent
                      else received + timedelta(days=accept_days * 7 // 5))
        before_accept = status == "received" or (status == "need_info" and rng.random() < 0.5)
        accepted_at = received + timedelta(days=rng.uniform(0.1, 6))
        cw.writerow([i, "accept", "hours" if urgent else "working_days",
                     4 if urgent else accept_days, "bench", received, accept_due,
                     received + timedelta(days=1) if before_accept and status == "need_info"
                     else "", "" if before_accept else accepted_at, 0])
        if not before_accept and status not in ("rejected", "withdrawn"):
            stopped = "" if status in OPEN_STATUSES else accepted_at + timedelta(
                days=rng.uniform(1, 30))
            cw.writerow([i, "resolve", "working_days", 7, "bench", accepted_at,
                         accepted_at + timedelta(days=10),
                         accepted_at + timedelta(days=2) if status == "need_info" else "",
                         stopped, 0])
    generated = time.perf_counter()
    engine = engine_for(url)
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        # Row triggers would keep next_due_at one clock at a time; the back-fill does it at once.
        cursor.execute("ALTER TABLE ticket_clocks DISABLE TRIGGER ticket_clocks_next_due")
        for table, columns, buffer in (("tickets", TICKET_COLUMNS, tickets),
                                       ("ticket_clocks", CLOCK_COLUMNS, clocks)):
            sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv, NULL '')"
            if hasattr(cursor, "copy"):  # psycopg 3 (SQLAlchemy 2.1's default driver)
                with cursor.copy(sql) as copy:
                    copy.write(buffer.getvalue())
            else:  # psycopg2
                buffer.seek(0)
                cursor.copy_expert(sql, buffer)
        for table in ("tickets", "ticket_clocks"):
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                           f"(SELECT max(id) FROM {table}))")
        raw.commit()
        cursor.execute("ANALYZE ticket_clocks")
        copied = time.perf_counter()
        cursor.execute(NEXT_DUE_BACKFILL)
        cursor.execute("ALTER TABLE ticket_clocks ENABLE TRIGGER ticket_clocks_next_due")
        raw.commit()
    finally:
        raw.close()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        filled = time.perf_counter()
        for table in ("tickets", "ticket_clocks"):  # as autovacuum would after a day
            connection.exec_driver_sql(f"VACUUM ANALYZE {table}")
    print(f"seed phases: rows generated {generated - started:.1f} s, COPY {copied - generated:.1f}"
          f" s, next_due_at back-fill {filled - copied:.1f} s, VACUUM ANALYZE "
          f"{time.perf_counter() - filled:.1f} s")


def timed(runs: int, action) -> tuple[float, float]:
    for _ in range(2):
        action()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(0.95 * (len(samples) - 1))]


SCENARIOS = [
    ("officer, tab mine", "kinhte", {"tab": "mine"}),
    ("officer, tab unit", "kinhte", {"tab": "unit"}),
    ("unit head, tab overdue", "truongkt", {"tab": "overdue"}),
    ("triage officer, tab triage", "tiepnhan", {"tab": "triage"}),
    ("leader + handler, all units", "chutich", {"tab": "unit"}),
    ("admin, search 'duong ngap'", "quantri", {"tab": "unit", "q": "đường ngập"}),
    ("admin, all statuses + category + 3 months", "quantri",
     {"tab": "unit", "status": "all", "category": "ha_tang", "received_from": "2026-08-01",
      "received_to": "2026-10-31"}),
    ("admin, due within 3 days", "quantri", {"tab": "unit", "due_within_days": "3"}),
    ("admin, page 20", "quantri", {"tab": "unit", "page": "20"}),
]


def measure(url: str, runs: int) -> list[str]:
    lines = ["| scenario | rows on page | total | p50 | p95 |", "|---|---|---|---|---|"]
    with Session(engine_for(url)) as session:
        def caller(username: str) -> Caller:
            return Caller.officer(session.scalar(
                select(Officer.id).where(Officer.username == username)))

        for label, username, query in SCENARIOS:
            who, filt = caller(username), QueueFilter.from_query(query)
            result = load_queue(session, who, filt, NOW, tz=TZ)
            p50, p95 = timed(runs, lambda who=who, filt=filt: (
                load_queue(session, who, filt, NOW, tz=TZ), tabs_for(session, who)))
            lines.append(f"| {label} | {len(result.rows)} | {result.total} | {p50:.1f} ms "
                         f"| {p95:.1f} ms |")
        who = caller("quantri")
        p50, p95 = timed(runs, lambda: latest_change(session, who))
        lines.append(f"| latest_change (polling), admin | - | - | {p50:.1f} ms | {p95:.1f} ms |")
        try:  # the page also shows the triage figures to heads, leaders and admins (part NLU)
            from bot.core.corrections import weekly_shares
        except ImportError:
            return lines
        p50, p95 = timed(runs, lambda: weekly_shares(session, who, weeks=8, now=NOW))
        lines.append(f"| corrections.weekly_shares (8 weeks), admin | - | - | {p50:.1f} ms "
                     f"| {p95:.1f} ms |")
    return lines


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def measure_pages(url: str, runs: int) -> list[str]:
    """GET /desk/ through the bot's own app (aiohttp on 127.0.0.1), logged in by cookie."""
    from aiohttp.test_utils import TestClient, TestServer

    from bot.dialogue.pipeline import Pipeline
    from bot.dialogue.rasa_client import RasaClient
    from bot.settings import load_settings
    from bot.web.app import create_app
    from bot.web.desk.auth_store import create_session
    from bot.web.desk.security import SESSION_COOKIE

    os.environ.update(DATABASE_URL=url, DATA_DIR=tempfile.mkdtemp(prefix="bench-desk-"))
    load_settings.cache_clear()
    settings = load_settings()
    tokens = {}
    with session_scope(url) as session:
        for username in {u for _, u, _ in SCENARIOS}:
            officer_id = session.scalar(select(Officer.id).where(Officer.username == username))
            tokens[username] = create_session(session, officer_id, NOW, 24)
    rasa = RasaClient(f"http://127.0.0.1:{free_port()}", "bench", timeout=2)
    app = create_app(settings, Pipeline(url, rasa, clock=lambda: NOW))
    lines = ["| page | bytes | p50 | p95 |", "|---|---|---|---|"]

    async def run() -> None:
        client = TestClient(TestServer(app, host="127.0.0.1"))
        await client.start_server()
        try:
            for label, username, query in SCENARIOS:
                headers = {"Cookie": f"{SESSION_COOKIE}={tokens[username]}"}
                samples, size = [], 0
                for i in range(runs + 2):
                    start = time.perf_counter()
                    response = await client.get("/desk/", params=query, headers=headers)
                    body = await response.read()
                    elapsed = (time.perf_counter() - start) * 1000
                    if response.status != 200:
                        raise RuntimeError(f"{label}: HTTP {response.status}")
                    size = len(body)
                    if i >= 2:
                        samples.append(elapsed)
                samples.sort()
                lines.append(f"| GET /desk/ {label} | {size} | {statistics.median(samples):.1f}"
                             f" ms | {samples[int(0.95 * (len(samples) - 1))]:.1f} ms |")
        finally:
            await client.close()

    asyncio.run(run())
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--keep", action="store_true", help="do not drop the schema")
    args = parser.parse_args()
    with bench_schema(args.postgres, "bench_desk", args.keep) as (url, schema):
        upgrade(url)
        start = time.perf_counter()
        seed(url, args.count, random.Random(10))
        print(f"seeded {args.count} tickets in {time.perf_counter() - start:.1f} s "
              f"(schema {schema})")
        for line in measure(url, args.runs):
            print(line)
        if QUEUE_TEMPLATE.exists():
            for line in measure_pages(url, args.runs):
                print(line)
        else:
            print("desk/queue.html not found: the figures above are the core query alone")

if __name__ == "__main__":
    main()
