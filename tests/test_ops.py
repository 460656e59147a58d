"""/metrics and /health over real HTTP (aiohttp's test server on 127.0.0.1) on a real database:
the figures read at scrape time equal what was seeded (counted again here in Python), the token
is enforced, and /health tells a reachable database, action server and scheduler from dead
ones. Rasa is a closed port unless a test says otherwise."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from bot.core import desk_actions as desk
from bot.core.authz import Caller
from bot.core.messaging import (
    Inbound,
    Outbound,
    mark_failed,
    mark_sent,
    queue_outbound,
    store_inbound,
)
from bot.core.routing import OPEN_STATUSES
from bot.core.taxonomy import Status
from bot.jobs import clock_checks
from bot.jobs.leader import LeaderLock
from bot.jobs.periodic import period_key, run_once
from bot.settings import load_settings
from bot.store.db import session_scope
from bot.store.desk_models import NoticeDelivery
from bot.store.models import InboxMessage, OrgUnit, OutboxMessage, Ticket, TicketClock
from tests.conftest import BACKENDS, POSTGRES_URL
from tests.e2e import free_port
from tests.helpers import NOW, context, make_ticket
from tests.test_pipeline import closed_port
from tests.test_web_chat import chat as serve  # the whole web app, Rasa a closed port

backends = pytest.mark.parametrize("empty_db_url", BACKENDS, indirect=True)


@asynccontextmanager
async def stand_in(port: int, routes: dict[str, web.Response]) -> AsyncIterator[None]:
    """A tiny HTTP server answering GET/POST paths with fixed answers (the action server's
    /health; Rasa's /status and REST webhook)."""
    app = web.Application()
    for path, response in routes.items():
        async def answer(_request: web.Request, response: web.Response = response):
            return web.Response(body=response.body, status=response.status,
                                content_type=response.content_type)
        app.router.add_route("*", path, answer)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield
    finally:
        await runner.cleanup()


def parse(text: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """sample name -> {sorted labels: value}"""
    out: dict[str, dict] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return out


def by(samples: dict, label: str) -> dict[str, float]:
    return {dict(key)[label]: value for key, value in samples.items()}


async def scrape(client: TestClient, **headers: str) -> dict:
    response = await client.get("/metrics", headers=headers)
    assert response.status == 200, await response.text()
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    return parse(await response.text())


def seed(url: str) -> None:
    """Inbox and outbox in every state, old and new tickets (with clocks), a clock-check run."""
    with session_scope(url) as session:
        for channel, n in (("web", 3), ("telegram", 2)):
            for i in range(n):
                row = store_inbound(session, Inbound(channel, f"m{i}", f"u{i}", "chào", {}),
                                    NOW - timedelta(minutes=i))
                if i == 0:
                    row.status = "done"
        rows = [queue_outbound(session, Outbound("telegram", f"t{i}", "Dạ"), f"t{i}",
                               NOW - timedelta(minutes=10 * i)) for i in range(6)]
        mark_sent(rows[0], NOW, "1")
        mark_sent(rows[1], NOW, "2")
        mark_failed(rows[2], NOW - timedelta(hours=1), "blocked by the user", permanent=True)
        mark_failed(rows[3], NOW, "timeout", permanent=False)  # pending, retried later
        # rows[4] (40 min old) and rows[5] (50 min old) pending and due
        old = queue_outbound(session, Outbound("telegram", "t9", "Dạ"), "t9",
                             NOW - timedelta(days=2))
        mark_failed(old, NOW - timedelta(days=2), "blocked by the user", permanent=True)
        for i in range(2):  # the web page has not fetched these yet
            queue_outbound(session, Outbound("web", f"w{i}", "Dạ"), f"w{i}", NOW)
    old_codes = [make_ticket(url, f"Đèn đường hỏng {i}", now=NOW - timedelta(days=60),
                             category="ha_tang", needs_triage=True) for i in range(3)]
    for i in range(4):
        make_ticket(url, f"Rác thải {i}", now=NOW - timedelta(days=i), category="moi_truong",
                    needs_triage=i == 0)
    system, asked = Caller.system(), NOW - timedelta(days=45)
    with session_scope(url) as session:  # accepted: the accept clock stops, resolve starts
        desk.accept(session, system, old_codes[0], context(NOW), kind="phan_anh",
                    category="ha_tang")
        desk.accept(session, system, old_codes[1], context(NOW - timedelta(days=50)),
                    kind="phan_anh", category="ha_tang")
        # need_info pauses the resolve clock; it is past due but paused, so not overdue
        desk.ask_for_information(session, system, old_codes[1], context(asked),
                                 "Ông/Bà cho biết cột đèn số mấy ạ?")
    run_once(url, clock_checks.JOB_NAME, period_key(NOW - timedelta(minutes=5), 15),
             NOW - timedelta(minutes=5), lambda _session: {})


def expected(url: str) -> dict:
    """The same figures counted again, row by row, in Python."""
    with session_scope(url) as session:
        inbox = list(session.scalars(select(InboxMessage)))
        outbox = list(session.scalars(select(OutboxMessage)))
        tickets = list(session.scalars(select(Ticket)))
        clocks = list(session.scalars(select(TicketClock)))
        units = dict(session.execute(select(OrgUnit.id, OrgUnit.code)).all())
        notices = list(session.scalars(select(NoticeDelivery)))
        recent = [t for t in tickets if t.received_at >= NOW - timedelta(days=30)]
        pending = [r for r in outbox if r.status == "pending"]
        return {
            "in": Counter(r.channel for r in inbox),
            "in_pending": Counter(r.channel for r in inbox if r.status == "pending"),
            "out": Counter((r.channel, r.status) for r in outbox if r.status != "pending"),
            "pending": Counter(r.channel for r in pending),
            "backlog": Counter(r.channel for r in pending if r.next_attempt_at <= NOW),
            "oldest": {c: max((NOW - r.created_at).total_seconds() for r in pending
                              if r.channel == c) for c in {r.channel for r in pending}},
            "tickets": {**{s.value: 0 for s in Status}, **Counter(t.status for t in tickets)},
            "open": Counter(units[t.unit_id] for t in tickets if t.status in OPEN_STATUSES),
            "overdue": Counter(c.name for c in clocks if c.stopped_at is None
                               and c.paused_at is None and c.due_at < NOW),
            "paused_past_due": sum(c.paused_at is not None and c.due_at < NOW for c in clocks),
            "received_30d": len(recent),
            "triage": sum(t.needs_triage for t in recent) / len(recent),
            "notices": Counter((d.via, d.status) for d in notices),
        }


@backends
def test_metrics_equal_the_seeded_rows_counted_again(app_env):
    seed(app_env)
    want = expected(app_env)
    # The seed is what the test means it to be (so the equalities below test something).
    assert want["in"] == {"web": 3, "telegram": 2} and want["in_pending"] == {"web": 2,
                                                                              "telegram": 1}
    assert want["backlog"]["telegram"] == 2 and want["pending"]["telegram"] == 3
    assert want["overdue"] == {"accept": 1} and want["triage"] == 0.25
    assert want["paused_past_due"] == 1

    async def scenario(client: TestClient) -> None:
        got = await scrape(client)
        assert got["nghedan_database_up"][()] == 1
        assert by(got["nghedan_messages_in_total"], "channel") == want["in"]
        assert by(got["nghedan_inbox_pending"], "channel") == want["in_pending"]
        assert {(dict(k)["channel"], dict(k)["status"]): v for k, v in
                got["nghedan_messages_out_total"].items()} == want["out"]
        assert by(got["nghedan_outbox_pending"], "channel") == want["pending"]
        assert by(got["nghedan_outbox_backlog"], "channel") == want["backlog"]
        assert by(got["nghedan_outbox_oldest_pending_seconds"], "channel") == want["oldest"]
        assert got["nghedan_outbox_oldest_pending_seconds"][(("channel", "telegram"),)] == 3000
        assert by(got["nghedan_tickets"], "status") == want["tickets"]
        assert by(got["nghedan_open_tickets"], "unit") == want["open"]
        assert by(got["nghedan_overdue_clocks"], "clock") == {"resolve": 0, **want["overdue"]}
        assert got["nghedan_tickets_received_30d"][()] == want["received_30d"] == 4
        assert got["nghedan_triage_share"][()] == want["triage"]
        assert {(dict(k)["via"], dict(k)["status"]): v for k, v in
                got["nghedan_notice_deliveries"].items()} == want["notices"]
        runs = by(got["nghedan_job_last_run_timestamp_seconds"], "job")
        assert runs == {"clock_checks": (NOW - timedelta(minutes=5)).timestamp()}

    serve(scenario)


def test_metrics_ask_for_the_token_when_one_is_set(app_env, monkeypatch):
    monkeypatch.setenv("METRICS_TOKEN", "s3cret-token")
    load_settings.cache_clear()

    async def scenario(client: TestClient) -> None:
        for headers in ({}, {"Authorization": "Bearer wrong"},
                        {"Authorization": "Basic s3cret-token"}, {"Authorization": "s3cret-token"}):
            response = await client.get("/metrics", headers=headers)
            assert response.status == 401, headers
            assert "nghedan" not in await response.text()
        got = await scrape(client, Authorization="Bearer s3cret-token")
        assert got["nghedan_database_up"][()] == 1

    serve(scenario)


def test_nlu_turns_are_timed_per_process_by_outcome(app_env):
    rasa_port = free_port()

    def counts(got: dict) -> dict[str, float]:
        return by(got["nghedan_nlu_turn_seconds_count"], "outcome")

    async def down(client: TestClient) -> None:
        before = counts(await scrape(client))
        response = await client.post("/api/chat/messages", json={"text": "Đường thôn 3 ngập"})
        assert response.status == 200
        after = counts(await scrape(client))
        assert after["unavailable"] == before.get("unavailable", 0) + 1
        assert after.get("answered", 0) == before.get("answered", 0)

    async def answering(client: TestClient) -> None:
        reply = web.json_response([{"recipient_id": "x", "text": "Dạ, xin chào ạ."}])
        async with stand_in(rasa_port, {"/webhooks/rest/webhook": reply}):
            before = counts(await scrape(client))
            response = await client.post("/api/chat/messages", json={"text": "xin chào"})
            assert "Dạ, xin chào ạ." in [m["text"] for m in (await response.json())["messages"]]
            after = counts(await scrape(client))
        assert after["answered"] == before.get("answered", 0) + 1

    serve(down)
    serve(answering, rasa_url=f"http://127.0.0.1:{rasa_port}")


def test_metrics_and_health_say_when_the_database_is_down(app_env, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"postgresql://postgres@127.0.0.1:{closed_port()}/test")
    load_settings.cache_clear()

    async def scenario(client: TestClient) -> None:
        got = await scrape(client)
        assert got["nghedan_database_up"][()] == 0 and "nghedan_tickets" not in got
        response = await client.get("/health")
        assert response.status == 503
        body = await response.json()
        assert body["database"]["state"] == "down" and body["ok"] is False
        assert body["rasa"] == "starting" and "database" in body["degraded"]

    serve(scenario)


def test_health_answers_200_while_rasa_actions_and_scheduler_are_not_up(app_env, monkeypatch):
    monkeypatch.setenv("ACTION_SERVER_PORT", str(closed_port()))
    load_settings.cache_clear()

    async def scenario(client: TestClient) -> None:
        response = await client.get("/health")
        assert response.status == 200
        body = await response.json()
        assert body["database"]["state"] == "up" and body["database"]["backend"] == "sqlite"
        assert body["rasa"] == "starting" and body["action_server"]["state"] == "down"
        assert body["scheduler"]["state"] == "never"
        assert body["ok"] is False
        assert set(body["degraded"]) == {"rasa", "action_server", "scheduler"}
        assert body["channels"] == {"web": "on", "telegram": "off", "zalo": "off",
                                    "zalo_bot": "off", "public_board": "on"}
        assert body["outbox"] == {"state": "ok", "stuck_channels": [], "backlog": {},
                                  "oldest_pending_seconds": {}, "failed_24h": 0}

    serve(scenario)


def test_health_is_ok_with_every_part_up_and_reports_a_stuck_outbox(app_env, monkeypatch):
    actions_port, rasa_port = free_port(), free_port()
    monkeypatch.setenv("ACTION_SERVER_PORT", str(actions_port))
    monkeypatch.setenv("TELEGRAM_TOKEN", "123:abc")
    load_settings.cache_clear()
    ran = NOW - timedelta(minutes=20)
    run_once(app_env, clock_checks.JOB_NAME, period_key(ran, 15), ran, lambda _s: {})

    async def scenario(client: TestClient) -> None:
        async with stand_in(actions_port, {"/health": web.json_response({"status": "ok"})}), \
                stand_in(rasa_port, {"/status": web.json_response({"model_file": "m.tar.gz"})}):
            body = await (await client.get("/health")).json()
            assert body["ok"] is True and body["degraded"] == []
            assert body["rasa"] == "ready" and body["action_server"]["state"] == "up"
            assert body["scheduler"]["state"] == "ok" and body["scheduler"]["age_seconds"] == 1200
            assert body["channels"]["telegram"] == "polling"
            seed(app_env)  # two telegram messages due for 40 and 50 minutes: stuck
            response = await client.get("/health")
            body = await response.json()
        assert response.status == 200 and body["degraded"] == ["outbox"]
        assert body["outbox"]["state"] == "stuck" and body["outbox"]["stuck_channels"] == [
            "telegram"]
        assert body["outbox"]["backlog"] == {"telegram": 2, "web": 2}
        assert body["outbox"]["oldest_pending_seconds"] == {"telegram": 3000, "web": 0}
        assert body["outbox"]["failed_24h"] == 1  # the one two days ago is not counted
        assert body["scheduler"]["age_seconds"] == 300  # seed ran the clock checks again

    serve(scenario, rasa_url=f"http://127.0.0.1:{rasa_port}")


def test_health_stops_counting_a_scheduler_that_has_not_run_for_two_periods(app_env):
    ran = NOW - timedelta(minutes=32)
    run_once(app_env, clock_checks.JOB_NAME, period_key(ran, 15), ran, lambda _s: {})

    async def scenario(client: TestClient) -> None:
        body = await (await client.get("/health")).json()
        assert body["scheduler"]["state"] == "late" and "scheduler" in body["degraded"]

    serve(scenario)


@pytest.mark.parametrize("empty_db_url", [p for p in BACKENDS if p != "sqlite"], indirect=True)
def test_health_on_postgresql_sees_which_process_holds_the_leader_lock(app_env, tmp_path):
    assert app_env.startswith(POSTGRES_URL)
    lock = LeaderLock(app_env, tmp_path)

    async def scenario(client: TestClient) -> None:
        assert (await (await client.get("/health")).json())["scheduler"]["leader"] == "free"
        assert await asyncio.to_thread(lock.try_acquire)
        try:
            body = await (await client.get("/health")).json()
        finally:
            await asyncio.to_thread(lock.release)
        assert body["scheduler"]["leader"] == "held"
        assert body["database"]["backend"] == "postgresql"

    serve(scenario)
