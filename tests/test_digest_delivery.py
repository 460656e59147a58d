"""The weekly digest on its way out: the e-mail through a real local SMTP server (aiosmtpd)
carries the digest text and both files; an e-mail worker killed (SIGKILL) after the server got
its first message but before recording it resumes and repeats only that message; two scheduler
processes on PostgreSQL make each week's digests and notices once."""

from __future__ import annotations

import email.message
import io
import json
import os
import signal
import subprocess
import sys
from collections import Counter
from datetime import timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from bot.jobs.digests import JOB_NAME, run_weekly
from bot.jobs.notice_delivery import LEASE_SECONDS, deliver_notices
from bot.settings import load_settings
from bot.store.db import session_scope
from bot.store.desk_models import NoticeDelivery, OfficerNotice
from bot.store.models import JobRun, Officer, OutboxMessage
from bot.store.report_models import Digest
from tests.conftest import BACKENDS, POSTGRES_OK
from tests.helpers import TestClock, context
from tests.smtp_server import Inbox, give_email, local_smtp, smtp_env
from tests.test_digest import (
    ACCUSED,
    CITIZEN_NAME,
    CITIZEN_PHONE,
    DUE,
    ROOT,
    WEEK,
    confidential_codes,
    seed_history,
    stored_digest,
)
from tests.test_escalation import link

HEADS = {"chutich": "chutich@xa.example", "truongkt": "truongkt@xa.example",
         "chanhvp": "chanhvp@xa.example"}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class KillingInbox(Inbox):
    """Keeps every message; on the first one, kills the sending worker (`victim`) before
    the server answers, so the worker never learns it was accepted."""

    def __init__(self) -> None:
        super().__init__()
        self.victim: subprocess.Popen | None = None

    def handle_message(self, message) -> None:
        super().handle_message(message)
        if self.victim is not None and len(self.messages) == 1:
            os.kill(self.victim.pid, signal.SIGKILL)
            self.victim.wait(timeout=30)


@pytest.fixture
def smtp_server():
    with local_smtp(KillingInbox()) as controller:
        yield controller


def ready(url: str, monkeypatch, controller) -> None:
    """History seeded, SMTP configured, every head and leader with an address."""
    seed_history(url)
    smtp_env(monkeypatch, controller)
    with session_scope(url) as session:
        ids = dict(session.execute(select(Officer.username, Officer.id).where(
            Officer.username.in_(list(HEADS)))).all())
    for username, address in HEADS.items():
        give_email(url, ids[username], address)


def received(controller) -> list[email.message.EmailMessage]:
    return controller.inbox.messages


def email_deliveries(url: str) -> list[NoticeDelivery]:
    with session_scope(url) as session:
        rows = list(session.scalars(select(NoticeDelivery).join(
            OfficerNotice, OfficerNotice.id == NoticeDelivery.notice_id).where(
            OfficerNotice.kind == "digest", NoticeDelivery.via == "email")))
        session.expunge_all()
        return rows


@pytest.mark.parametrize("empty_db_url", BACKENDS, indirect=True)
def test_digest_email_carries_the_text_chart_and_workbook(app_env, smtp_server, monkeypatch):
    ready(app_env, monkeypatch, smtp_server)
    run_weekly(app_env, context(DUE), DUE)

    assert deliver_notices(app_env, load_settings(), TestClock(DUE)) == {"sent": 3}

    by_address = {m["To"]: m for m in received(smtp_server)}
    assert set(by_address) == set(HEADS.values())
    message = by_address["chutich@xa.example"]
    row = stored_digest(app_env, "xa-an-binh")
    assert message["Subject"] == "[Nghe Dân] Tổng hợp tuần 10/2026 – UBND xã An Bình"
    body = message.get_body(preferencelist=("plain",)).get_content()
    assert body.startswith(row.text) and body.count(f"/desk/digests/{WEEK}") == 1
    files = {part.get_filename(): part for part in message.iter_attachments()}
    assert set(files) == {"chart.png", "digest.xlsx"}
    assert files["chart.png"].get_content_type() == "image/png"
    assert files["chart.png"].get_content() == row.chart_png
    assert files["digest.xlsx"].get_content_type() == XLSX
    assert files["digest.xlsx"].get_content() == row.xlsx
    assert load_workbook(io.BytesIO(files["digest.xlsx"].get_content()))["Danh sách đơn"]
    # a unit head's e-mail is their unit's digest
    head = by_address["truongkt@xa.example"]
    assert "Phòng Kinh tế" in head["Subject"]
    assert head.get_body(preferencelist=("plain",)).get_content().startswith(
        stored_digest(app_env, "xa-an-binh-kinh-te").text)
    raw = "\n".join(m.get_body(preferencelist=("plain",)).get_content()
                    for m in received(smtp_server))
    for secret in confidential_codes(app_env) | {CITIZEN_NAME, CITIZEN_PHONE, ACCUSED}:
        assert secret not in raw
    assert {d.status for d in email_deliveries(app_env)} == {"sent"}


WORKER = """
import json, sys
from datetime import datetime
from bot.jobs.notice_delivery import deliver_notices
from bot.settings import load_settings
from tests.helpers import TestClock
print(json.dumps(deliver_notices(sys.argv[1], load_settings(),
                                 TestClock(datetime.fromisoformat(sys.argv[2])))))
"""


@pytest.mark.parametrize("empty_db_url", BACKENDS, indirect=True)
def test_worker_killed_mid_send_resumes_and_repeats_only_the_message_in_flight(
        app_env, smtp_server, monkeypatch):
    ready(app_env, monkeypatch, smtp_server)
    link(app_env, "chutich", "301")
    run_weekly(app_env, context(DUE), DUE)

    worker = subprocess.Popen([sys.executable, "-c", WORKER, app_env, DUE.isoformat()],
                              cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    smtp_server.inbox.victim = worker
    worker.communicate(timeout=120)
    assert worker.returncode == -signal.SIGKILL  # killed while waiting for the server's reply
    assert len(received(smtp_server)) == 1
    assert [d.status for d in email_deliveries(app_env)] == ["pending"] * 3  # none recorded

    smtp_server.inbox.victim = None
    # the dead worker's lease runs out; a worker then sends what it had claimed
    resumed = TestClock(DUE + timedelta(seconds=LEASE_SECONDS + 1))
    assert deliver_notices(app_env, load_settings(), resumed) == {"sent": 3}

    per_address = Counter(m["To"] for m in received(smtp_server))
    assert set(per_address) == set(HEADS.values())
    assert sorted(per_address.values()) == [1, 1, 2]  # only the message in flight, once more
    assert deliver_notices(app_env, load_settings(), TestClock(resumed() + timedelta(days=1))
                           ) == {}
    assert len(received(smtp_server)) == 4
    with session_scope(app_env) as session:  # the chat part was never touched by the crash
        assert session.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.recipient_external_id == "301")) == 1


SCHEDULER = """
import json, sys, time
from datetime import datetime
from pathlib import Path
from bot.jobs import digests
from bot.jobs.leader import LeaderLock
from bot.jobs.scheduler import run_leader_jobs
from tests.helpers import context
url, lock_dir, when, mode = sys.argv[1], Path(sys.argv[2]), sys.argv[3], sys.argv[4]
ctx = context(datetime.fromisoformat(when))
if mode == "leader":
    leader = LeaderLock(url, lock_dir)
    result = run_leader_jobs(url, leader, ctx)
    print(json.dumps({"ran": bool(result.get(digests.JOB_NAME))}), flush=True)
    time.sleep(2)  # hold the lock while the other process tries
    leader.release()
else:  # no leader lock at all: only the week's job_runs row keeps it to one run
    print(json.dumps({"ran": bool(digests.run_weekly(url, ctx))}), flush=True)
"""


def _two_schedulers(url: str, lock_dir: str, when, mode: str) -> list[dict]:
    runs = [subprocess.Popen([sys.executable, "-c", SCHEDULER, url, lock_dir, when.isoformat(),
                              mode], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True) for _ in range(2)]
    outputs = [run.communicate(timeout=180) for run in runs]
    assert all(run.returncode == 0 for run in runs), [err for _, err in outputs]
    return [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]


@pytest.mark.skipif(not POSTGRES_OK, reason="PostgreSQL not reachable")
@pytest.mark.parametrize("empty_db_url", ["postgresql"], indirect=True)
def test_two_scheduler_processes_on_postgresql_make_each_weekly_digest_once(app_env, tmp_path):
    seed_history(app_env)
    for username, chat in (("chutich", "301"), ("truongkt", "201")):
        link(app_env, username, chat)

    leaders = _two_schedulers(app_env, str(tmp_path), DUE, "leader")
    assert sorted(r["ran"] for r in leaders) == [False, True]
    # even two processes that both think they lead make the next week's digests once
    racing = _two_schedulers(app_env, str(tmp_path), DUE + timedelta(days=7), "direct")
    assert sorted(r["ran"] for r in racing) == [False, True]

    with session_scope(app_env) as session:
        def total(model, *where) -> int:
            return session.scalar(select(func.count()).select_from(model).where(*where))

        assert total(JobRun, JobRun.job == JOB_NAME) == 2
        for week in (WEEK, "2026-W11"):
            assert total(Digest, Digest.week == week) == 3
            assert total(OfficerNotice, OfficerNotice.dedupe_key.like(f"digest:{week}:%")) == 3
        for chat in ("301", "201"):  # one chat text per person and week
            assert total(OutboxMessage, OutboxMessage.recipient_external_id == chat,
                         OutboxMessage.dedupe_key.like("digest:%")) == 2
