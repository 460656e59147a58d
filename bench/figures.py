"""The leaders' figures over 1,000,000 tickets, on PostgreSQL and on SQLite: seeds a database
of its own (PostgreSQL: a fresh schema, dropped afterwards; SQLite: a temporary file) with
tickets, their clocks, the periods reopens archived and their events in bulk (COPY on
PostgreSQL, executemany on SQLite; not through the core: speed matters; the data:
bench/figures_data.py), then times

- the weekly digest's figures: compute() for one ISO week (with its previous week),
  weekly_series() for 8 weeks and overdue_tickets() at the end of the week;
- the yearly report's compute() for 16/10/2025..15/10/2026 (with the year before),

for the commune's leaders (every unit) and for one department, as the median (and max) of N
runs after a warm-up, plus the time of each query family of one run (the profile).

The figures are read from the pre-aggregated sums (bot/core/figures_rollup.py): after the
seed (whose rows the triggers mark, as a restore would) the bench times their rebuild, then
the figures, then a catch-up after CHANGED tickets changed. `--live` also times the figures
read from the live tables.

Usage: .venv/bin/python bench/figures.py [--count 1000000] [--runs 5]
       [--postgres URL] [--no-sqlite] [--no-postgres] [--keep] [--live]"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from datetime import date
from pathlib import Path

from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

from bench.figures_data import NOW, TZ, seed_postgres, seed_sqlite  # noqa: E402
from bench.pg_schema import bench_schema  # noqa: E402
from bot.core import figures, figures_rollup  # noqa: E402
from bot.core import figures_daily as daily  # noqa: E402
from bot.core import figures_sql as q  # noqa: E402
from bot.core.context import CoreContext  # noqa: E402
from bot.core.figures_model import Period  # noqa: E402
from bot.store.db import engine_for, session_scope  # noqa: E402
from bot.store.migrate import upgrade  # noqa: E402

WEEK = "2026-W48"  # the digest of Monday 30/11/2026 (NOW)
YEAR = Period(date(2025, 10, 16), date(2026, 10, 15))
CHANGED = 1000  # tickets changed before the catch-up is timed


class Profile:
    """Wall time of each query family (wrapped for one run), from the sums or the live
    tables, and of the catch-up before reading."""

    NAMES = ("received_rows", "status_rows", "clock_rows", "open_rows", "duration_rows",
             "extension_row", "rating_rows", "reopen_row")

    def __init__(self) -> None:
        self.spent: dict[str, float] = defaultdict(float)
        self.saved = [(module, name, getattr(module, name))
                      for module in (q, daily) for name in self.NAMES
                      if hasattr(module, name)] + [(figures_rollup, "ensure",
                                                    figures_rollup.ensure)]

    def __enter__(self) -> Profile:
        for module, name, function in self.saved:
            label = name if module is not q else f"live {name}"

            def timed(*args, _f=function, _n=label, **kwargs):
                started = time.perf_counter()
                try:
                    return _f(*args, **kwargs)
                finally:
                    self.spent[_n] += time.perf_counter() - started
            setattr(module, name, timed)
        return self

    def __exit__(self, *_exc) -> None:
        for module, name, function in self.saved:
            setattr(module, name, function)


def weekly_digest(session, scope, ctx: CoreContext, rollup: bool = True) -> None:
    period = Period.iso_week(WEEK)
    figures.compute(session, scope, period, ctx, now=NOW, use_rollup=rollup)
    figures.weekly_series(session, scope, WEEK, 8, ctx, now=NOW, use_rollup=rollup)
    figures.overdue_tickets(session, scope, min(period.bounds(TZ)[1], NOW))


def yearly_report(session, scope, ctx: CoreContext, rollup: bool = True) -> None:
    figures.compute(session, scope, YEAR, ctx, now=NOW, use_rollup=rollup)


def live_digest(session, scope, ctx: CoreContext) -> None:
    weekly_digest(session, scope, ctx, rollup=False)


def live_report(session, scope, ctx: CoreContext) -> None:
    yearly_report(session, scope, ctx, rollup=False)


def rebuild(url: str, ctx: CoreContext, label: str) -> str:
    """Rebuild the sums from the seeded tables; then time a catch-up after CHANGED tickets
    were moved to another area and back (each marked twice by the triggers)."""
    started = time.perf_counter()
    with session_scope(url) as session:
        figures.ensure_calendar(session, ctx)
        facts = figures_rollup.rebuild(session, ctx)
    built = time.perf_counter() - started
    if url.startswith("postgresql"):
        # The seed marked ~8 million rows in figure_dirty, which the rebuild deleted: vacuum
        # them as autovacuum soon would (a deployment's figure_dirty holds a few rows).
        with engine_for(url).connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT").execute(
                text("VACUUM ANALYZE figure_dirty"))
    with session_scope(url) as session:
        rows = session.scalar(text("SELECT count(*) FROM figure_rollup"))
        session.execute(text(
            "UPDATE tickets SET area_id = area_id + 0 * id, confidential = NOT confidential "
            "WHERE id IN (SELECT id FROM tickets ORDER BY id DESC LIMIT :n)"), {"n": CHANGED})
    started = time.perf_counter()
    with session_scope(url) as session:
        done = figures_rollup.ensure(session, ctx)
    caught = time.perf_counter() - started
    line = (f"{label}: rebuilt the sums in {built:.1f} s ({facts:,} facts, {rows:,} sum rows);"
            f" caught up {done:,} changed tickets in {caught:.2f} s")
    print(line, flush=True)
    return line


def measure(url: str, runs: int, label: str, live: bool) -> list[str]:
    ctx = CoreContext.build(TZ, "KN", lambda: NOW)
    lines = [rebuild(url, ctx, label)]
    actions = [("weekly digest", weekly_digest), ("yearly report", yearly_report)]
    if live:
        actions += [("weekly digest, live tables", live_digest),
                    ("yearly report, live tables", live_report)]
    for who, unit in (("commune leaders", "xa-an-binh"), ("one department",
                                                          "xa-an-binh-kinh-te")):
        for name, action in actions:
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
    parser.add_argument("--live", action="store_true",
                        help="also time the figures read from the live tables")
    args = parser.parse_args()
    lines = []
    if not args.no_postgres:
        with bench_schema(args.postgres, "bench_figures", args.keep) as (url, schema):
            upgrade(url)
            started = time.perf_counter()
            seed_postgres(url, args.count)
            print(f"PostgreSQL: seeded in {time.perf_counter() - started:.0f} s: {sizes(url)}"
                  f" (schema {schema})", flush=True)
            lines += measure(url, args.runs, "PostgreSQL", args.live)
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
            lines += measure(url, args.runs, "SQLite", args.live)
        finally:
            engine_for(url).dispose()
            if not args.keep:
                path.unlink(missing_ok=True)
    header = ["| database | figures | scope | median | max | profile of one run (ms) |",
              "|---|---|---|---|---|---|"]
    print("\n".join([line for line in lines if not line.startswith("|")] + header
                    + [line for line in lines if line.startswith("|")]))


if __name__ == "__main__":
    main()
