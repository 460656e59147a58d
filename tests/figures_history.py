"""A seeded history for the leaders' figures, made through the real core calls with a clock
moved by hand over April..September 2026 (Giỗ Tổ 26/4 with its nghỉ bù 27/4, 30/4-1/5, and
Quốc khánh 1-2/9), on the demo commune (the `db_url` fixture).

Besides the database, the builder (tests/figures_builder.py) keeps a plain-Python record of
what it did: each ticket's status events and its clock periods, derived by the rules of
clocks.yml written out again with the Python WorkCalendar (no SQL).
tests/figures_expected.py computes the expected figures from that record;
tests/test_figures_history.py checks the record against the stored clocks. Other parts'
tests reuse it:

    history = seed_history(db_url)          # ~25 tickets, a few seconds
    history.code("road")                    # KN-2026-...
    expected_figures(history, period, now)  # tests/figures_expected.py
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import create_engine, text

from bot.core import figures_rollup
from bot.core.context import CoreContext
from bot.core.org import load_demo
from bot.store.db import engine_for, session_scope
from bot.store.migrate import upgrade
from tests.conftest import POSTGRES_URL
from tests.figures_builder import (  # noqa: F401 (the record's types, for tests)
    END,
    WORKING,
    Builder,
    Clock,
    Event,
    History,
    Story,
    local,
)
from tests.helpers import NOW, TZ, TestClock


def seed_history(db_url: str) -> History:
    """The history (see the module docstring) in `db_url`, which has the demo commune."""
    clock = TestClock(local(date(2026, 4, 20), 7))
    ctx = CoreContext.build(TZ, "KN", clock)
    with session_scope(db_url) as session:
        figures_rollup.ensure(session, ctx)  # the sums exist from the start and follow
        builder = Builder(session, ctx, clock)
        _april(builder)
        _may(builder)
        _summer(builder)
    clock.now = END
    return History(db_url, ctx, END, builder.stories, ctx.clocks.calendar)


def _april(b: Builder) -> None:
    d = date
    b.when(d(2026, 4, 20), 8).file("urgent", "phan_anh", "an_ninh_trat_tu", "tdp-1", urgent=True)
    b.when(d(2026, 4, 20), 9).file("road", "phan_anh", "ha_tang", "thon-3")
    b.when(d(2026, 4, 20), 9, 30).file("trash", "phan_anh", "moi_truong", "thon-1")
    b.when(d(2026, 4, 20), 10).file("denounce", "to_cao", "can_bo", "thon-dong")
    b.when(d(2026, 4, 20), 10, 30).file("late_withdraw", "phan_anh", "dat_dai", "thon-2")
    b.when(d(2026, 4, 20), 11).file("late_dup", "phan_anh", "moi_truong", "thon-1")
    b.accept("urgent", "congan")  # 3 hours: in time on an hours clock
    b.when(d(2026, 4, 20), 14).file("triage", "phan_anh", "khac", None, needs_triage=True)
    b.when(d(2026, 4, 20), 15).file("urgent_late", "phan_anh", "an_ninh_trat_tu", "thon-2",
                                    urgent=True)
    b.when(d(2026, 4, 21), 8, 30).accept("road", "truongkt").assign("road", "truongkt")
    b.start("road", "kinhte")
    b.when(d(2026, 4, 21), 9).file("noise", "phan_anh", "an_ninh_trat_tu", "tdp-1")
    b.when(d(2026, 4, 21), 9, 30).file("dup", "phan_anh", "ha_tang", "thon-3")
    b.when(d(2026, 4, 21), 10).transfer("triage", "tiepnhan", "xa-an-binh-kinh-te")
    b.accept("urgent_late", "congan")  # 19 hours: late
    b.when(d(2026, 4, 22), 9).accept("trash", "truongkt").duplicate("dup", "road", "truongkt")
    b.when(d(2026, 4, 22), 9, 30).file("withdraw", "phan_anh", "ha_tang", "thon-1")
    b.when(d(2026, 4, 22), 10).accept("triage", "truongkt", category="ha_tang")
    b.when(d(2026, 4, 23), 9).file("land", "khieu_nai", "dat_dai", "thon-2")
    b.when(d(2026, 4, 23), 10).accept("withdraw", "truongkt")
    b.when(d(2026, 4, 24), 9).file("remote", "khieu_nai", "xay_dung_do_thi", "xom-bai")
    # Monday 27/4 is the nghỉ bù of Giỗ Tổ (Sunday 26/4): officers may still work.
    b.when(d(2026, 4, 27), 10).accept("remote", "truongkt", is_complex=True)
    b.when(d(2026, 4, 27), 10, 30).file("reject", "kien_nghi", "thu_tuc_hanh_chinh", "thon-1")
    b.when(d(2026, 4, 28), 9).accept("denounce", "chutich")
    b.when(d(2026, 4, 28), 10).withdraw("withdraw")  # before its resolve deadline: left out
    b.when(d(2026, 4, 28), 10, 30).file("outside", "phan_anh", "chinh_sach_xa_hoi", "thon-2")
    b.when(d(2026, 4, 29), 9).reject("reject", "motcua")
    b.when(d(2026, 4, 29), 10).accept("outside", "vanhoa")
    b.when(d(2026, 4, 29), 15).resolve("road", "kinhte")
    b.when(d(2026, 4, 30), 8).rate("road", 5)  # a holiday: citizens rate any day


def _may(b: Builder) -> None:
    d = date
    b.when(d(2026, 5, 4), 9).file("info", "phan_anh", "y_te_giao_duc", "thon-dong")
    b.when(d(2026, 5, 4), 9, 30).file("paused_late", "phan_anh", "moi_truong", "thon-3")
    b.when(d(2026, 5, 4), 10).accept("paused_late", "truongkt")
    b.when(d(2026, 5, 4), 10, 30).accept("land", "truongkt")  # calendar clock: 1 day late
    b.when(d(2026, 5, 5), 9).file("denounce2", "to_cao", "dat_dai", "tdp-1")
    b.accept("info", "vanhoa")
    b.when(d(2026, 5, 5), 11).file("proposal", "kien_nghi", "ha_tang", "xom-bai")
    b.when(d(2026, 5, 6), 9).ask("info", "vanhoa").accept("proposal", "truongkt")
    b.when(d(2026, 5, 6), 10).outside("outside", "vanhoa")
    b.when(d(2026, 5, 8), 16).resolve("proposal", "kinhte")
    b.when(d(2026, 5, 9), 8).rate("proposal", 5)
    b.when(d(2026, 5, 11), 9).answer("info")  # back to accepted: not a second acceptance
    b.when(d(2026, 5, 11), 9, 30).file("paused_ok", "phan_anh", "chinh_sach_xa_hoi", "thon-1")
    b.when(d(2026, 5, 11), 10).accept("paused_ok", "vanhoa")
    b.when(d(2026, 5, 11), 10, 30).file("info_first", "phan_anh", "ha_tang", "thon-2")
    b.when(d(2026, 5, 12), 9).withdraw("late_withdraw")  # after its accept deadline: late
    b.accept("noise", "congan")  # accept deadline 8/5: late
    b.when(d(2026, 5, 12), 9, 30).ask("paused_ok", "vanhoa")  # paused in time, never answered
    b.when(d(2026, 5, 12), 10).ask("info_first", "truongkt")  # asked before acceptance
    b.when(d(2026, 5, 13), 9).duplicate("late_dup", "trash", "truongkt")  # after its deadline
    b.when(d(2026, 5, 13), 10).answer("info_first")
    b.when(d(2026, 5, 14), 9).accept("info_first", "truongkt")
    b.when(d(2026, 5, 14), 10).resolve("noise", "congan")
    b.when(d(2026, 5, 14), 11).resolve("info", "vanhoa")  # deadline moved by the pause
    b.when(d(2026, 5, 15), 16).resolve("trash", "kinhte")  # late
    b.when(d(2026, 5, 15), 17).rate("noise", 3)
    b.when(d(2026, 5, 16), 9).not_satisfied("trash")  # "Chưa hài lòng": a new resolve period
    b.when(d(2026, 5, 18), 9).resolve("triage", "kinhte")  # late
    b.when(d(2026, 5, 18), 10).rate("info", 4)
    b.when(d(2026, 5, 20), 9).ask("paused_late", "truongkt")  # paused after its deadline
    b.when(d(2026, 5, 20), 10).resolve("land", "truongkt")
    b.when(d(2026, 5, 21), 9).rate("triage", 1)
    b.when(d(2026, 5, 22), 15).resolve("trash", "kinhte")  # the new period: in time
    b.when(d(2026, 5, 23), 9).rate("trash", 4)
    b.when(d(2026, 5, 25), 9).extend("denounce", "chutich", 30, especially_complex=True)
    b.when(d(2026, 5, 26), 10).reopen("road", "truongkt")  # by an officer, from closed
    b.when(d(2026, 5, 29), 10).resolve("road", "kinhte")


def _summer(b: Builder) -> None:
    d = date
    b.when(d(2026, 6, 20), 9).extend("denounce", "chutich", 20, especially_complex=True)
    b.when(d(2026, 7, 10), 9).resolve("denounce", "chutich")
    # Quốc khánh: 1/9 and 2/9 (Tuesday, Wednesday) are days off.
    b.when(d(2026, 8, 28), 9).file("holiday", "phan_anh", "ha_tang", "thon-1")
    b.when(d(2026, 8, 31), 9).accept("holiday", "truongkt")
    b.when(d(2026, 9, 3), 9).resolve("holiday", "kinhte")  # 1 working day, 3 calendar days
    b.when(d(2026, 9, 4), 9).file("plain", "phan_anh", "ha_tang", "thon-2")
    b.when(d(2026, 9, 7), 9).accept("plain", "truongkt")
    b.when(d(2026, 9, 10), 9).resolve("plain", "kinhte")  # 3 working days, 3 calendar days


@contextmanager
def seeded_database(backend: str, directory: Path) -> Iterator[History]:
    """A database of its own (SQLite in `directory`, or a fresh PostgreSQL schema), migrated,
    with the demo commune and the history: for module-scoped fixtures that only read."""
    if backend == "sqlite":
        url = f"sqlite:///{directory / 'figures.db'}"
        schema = None
    else:
        schema = f"t_{uuid.uuid4().hex[:12]}"
        admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        separator = "&" if "?" in POSTGRES_URL else "?"
        url = f"{POSTGRES_URL}{separator}options={quote(f'-csearch_path={schema}')}"
    try:
        upgrade(url)
        with session_scope(url) as session:
            load_demo(session, NOW)
        yield seed_history(url)
    finally:
        engine_for(url).dispose()
        if schema is not None:
            with admin.connect() as connection:
                connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()
