"""One scheduler leader at a time, and period-keyed jobs: two processes on PostgreSQL run a
job for a period once; on SQLite the file lock admits one leader."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from sqlalchemy import func, select

from bot.jobs.leader import LeaderLock
from bot.jobs.periodic import period_key, run_once
from bot.store.db import session_scope
from bot.store.models import JobRun, OutboxMessage
from tests.conftest import BACKENDS
from tests.helpers import NOW

SCHEDULER = """
import json, sys, time
from pathlib import Path
from bot.jobs.leader import LeaderLock
from bot.jobs.scheduler import run_leader_jobs
from tests.helpers import context
url, lock_dir, when = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
from datetime import datetime
ctx = context(datetime.fromisoformat(when))
leader = LeaderLock(url, lock_dir)
result = run_leader_jobs(url, leader, ctx)
print(json.dumps({"leader": leader.held, "ran": bool(result.get("clock_checks"))}), flush=True)
time.sleep(3)  # hold the lock while the other process tries
leader.release()
"""


@pytest.mark.parametrize("empty_db_url", BACKENDS, indirect=True)
def test_two_scheduler_processes_run_a_period_once(db_url, tmp_path):
    from tests.helpers import make_ticket
    from tests.test_escalation import link

    for username, chat in (("kinhte", "101"), ("kinhte2", "102"), ("truongkt", "201"),
                           ("chutich", "301")):
        link(db_url, username, chat)
    for i in range(3):
        make_ticket(db_url, text=f"Đèn đường hỏng {i}", category="ha_tang")
    late = (NOW.replace(year=2027)).isoformat()  # every accept clock is overdue by then
    runs = [subprocess.Popen([sys.executable, "-c", SCHEDULER, db_url, str(tmp_path), late],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)]
    outputs = [run.communicate(timeout=120) for run in runs]
    assert all(run.returncode == 0 for run in runs), [err for _, err in outputs]
    reports = [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]
    assert sum(r["ran"] for r in reports) == 1  # whoever led, the period ran once
    with session_scope(db_url) as session:
        assert session.scalar(select(func.count()).select_from(JobRun).where(
            JobRun.job == "clock_checks")) == 1
        escalations = session.scalars(select(OutboxMessage).where(
            OutboxMessage.text.startswith("Quá hạn")))
        assert len(list(escalations)) == 3 * 2  # 3 tickets x (unit head, commune leader)


def test_period_keys_and_single_run(db_url):
    assert period_key(NOW.replace(minute=44), 15) == "2026-03-02T03:30"
    calls = []
    first = run_once(db_url, "digest", "2026-W10", NOW, lambda s: calls.append(1) or {"n": 1})
    again = run_once(db_url, "digest", "2026-W10", NOW, lambda s: calls.append(1) or {"n": 1})
    assert (first, again, calls) == ({"n": 1}, None, [1])


def test_failed_job_leaves_its_period_free(db_url):
    def boom(_session):
        raise RuntimeError("database hiccup")

    with pytest.raises(RuntimeError):
        run_once(db_url, "digest", "2026-W11", NOW, boom)
    assert run_once(db_url, "digest", "2026-W11", NOW, lambda s: {"ok": True}) == {"ok": True}


def test_sqlite_file_lock_admits_one_leader(tmp_path):
    url = f"sqlite:///{tmp_path / 'x.db'}"
    first, second = LeaderLock(url, tmp_path), LeaderLock(url, tmp_path)
    assert first.try_acquire() and not second.try_acquire()
    first.release()
    assert second.try_acquire()
    second.release()
