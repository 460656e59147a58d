"""Ticket codes stay unique under concurrency: 50 creations at once on PostgreSQL, two
processes writing one SQLite file at once."""

from __future__ import annotations

import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from bot.store.db import session_scope
from bot.store.models import Ticket, TicketEvent
from tests.conftest import BACKENDS
from tests.helpers import make_ticket

CODE = re.compile(r"^KN-2026-\d{6}$")


@pytest.mark.parametrize("empty_db_url", BACKENDS, indirect=True)
def test_codes_follow_format_and_year_in_vietnam_time(db_url):
    first = make_ticket(db_url)
    assert CODE.match(first) and first.endswith("000001")
    # 31/12 18:00 UTC is already 1/1 in Hanoi: the code takes the local year.
    new_year = make_ticket(db_url, now=datetime(2026, 12, 31, 18, 0, tzinfo=UTC))
    assert new_year == "KN-2027-000001"


@pytest.mark.parametrize("empty_db_url", BACKENDS[1:], indirect=True)
def test_fifty_concurrent_creations_on_postgresql_get_unique_codes(db_url):
    with ThreadPoolExecutor(max_workers=50) as pool:
        codes = list(pool.map(lambda i: make_ticket(db_url, text=f"Phản ánh {i}"), range(50)))
    assert len(set(codes)) == 50
    assert sorted(int(c[-6:]) for c in codes) == list(range(1, 51))
    with session_scope(db_url) as session:
        assert session.scalar(select(func.count()).select_from(Ticket)) == 50
        assert session.scalar(select(func.count()).select_from(TicketEvent)) == 50


WRITER = """
import sys
from tests.helpers import make_ticket
url, tag, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
for i in range(count):
    print(make_ticket(url, text=f"{tag} {i}", key=f"{tag}-{i}"), flush=True)
"""


def test_two_processes_write_sqlite_at_once(db_url):
    count = 40
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, db_url, tag, str(count)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for tag in ("a", "b")
    ]
    outputs = [w.communicate(timeout=120) for w in writers]
    for writer, (_, err) in zip(writers, outputs, strict=True):
        assert writer.returncode == 0, err
    codes = [line for out, _ in outputs for line in out.split()]
    assert len(codes) == len(set(codes)) == 2 * count
    with session_scope(db_url) as session:
        assert session.scalar(select(func.count()).select_from(Ticket)) == 2 * count
