"""The dialogue engine down for a while, for real over HTTP: citizens told once per outage,
nothing given up, every message answered in order when it is back.

Rasa is stood in for by a small HTTP server on 127.0.0.1 (its REST channel and /status): these
tests are about what the pipeline does while Rasa cannot answer, not about the dialogue, and the
fake can be switched between refusing connections, answering 503 and answering (an echo).
Everything else is real: the project's RasaClient, the pipeline, the database (SQLite, and
PostgreSQL when reachable), two pipelines standing for two bot processes, and the injected clock
driving the sweep as the scheduler does every 5 s."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import count
from typing import Any

import pytest
from sqlalchemy import select

from bot.core.messaging import Inbound, store_inbound
from bot.dialogue import inbox_queue, outage
from bot.dialogue.pipeline import (
    EMPTY_TEXT,
    INTRO_TEXT,
    MAX_DIALOGUE_ATTEMPTS,
    UNAVAILABLE_TEXT,
    Pipeline,
)
from bot.dialogue.rasa_client import RasaClient
from bot.store.db import session_scope
from bot.store.models import InboxMessage, JobRun, OutboxMessage
from tests.conftest import BACKENDS
from tests.helpers import TestClock

WEB, TELEGRAM = ("web", "w-7f3a"), ("telegram", "700123")
ZALO = ("zalo", "4839201746352817264")  # Zalo user ids: long strings
SENDERS = (WEB, TELEGRAM, ZALO)
BROKEN = "lỗi"  # a message the fake Rasa cannot handle while it is otherwise up


class FakeRasa:
    """Rasa's REST channel on 127.0.0.1: `mode` is "up" (echoes each message), "503" (every
    request, /status too) or "refused" (nothing listens on the port); `broken_status` is what
    a message containing BROKEN gets while up."""

    def __init__(self) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.heard: list[tuple[str, str]] = []  # (sender, message) of each answered turn
        self.asked = 0  # REST requests received, answered or not
        self.broken_status = 500
        self._server: ThreadingHTTPServer | None = None
        self.mode = "refused"

    def switch(self, mode: str) -> None:
        if mode == "refused" and self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        elif mode != "refused" and self._server is None:
            self._server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
            threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.mode = mode

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                if fake.mode != "up":
                    return self._answer(503, {"error": "unavailable"})
                self._answer(200, {"model_file": "models/fake.tar.gz"})

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.asked += 1
                if fake.mode != "up":
                    return self._answer(503, {"error": "unavailable"})
                if BROKEN in body["message"]:
                    return self._answer(fake.broken_status, {"error": "broken"})
                fake.heard.append((body["sender"], body["message"]))
                self._answer(200, [{"recipient_id": body["sender"],
                                    "text": f"Đã nhận: {body['message']}"}])

            def _answer(self, status: int, payload: Any) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_: Any) -> None:
                pass

        return Handler


@pytest.fixture
def rasa() -> Iterator[FakeRasa]:
    fake = FakeRasa()
    fake.switch("up")
    yield fake
    fake.switch("refused")


_ids = count(1)


def write(url: str, clock: TestClock, sender: tuple[str, str], text: str) -> int:
    """A citizen's message stored by its channel, as the channels do before the pipeline."""
    channel, external_id = sender
    with session_scope(url) as session:
        return store_inbound(session, Inbound(channel, f"m{next(_ids)}", external_id, text),
                             clock()).id


def inbox(url: str) -> list[InboxMessage]:
    with session_scope(url) as session:
        rows = list(session.scalars(select(InboxMessage).order_by(InboxMessage.id)))
        session.expunge_all()
        return rows


def outbox_texts(url: str, sender: tuple[str, str]) -> list[str]:
    with session_scope(url) as session:
        return list(session.scalars(select(OutboxMessage.text).where(
            OutboxMessage.channel == sender[0],
            OutboxMessage.recipient_external_id == sender[1]).order_by(OutboxMessage.id)))


def heard_from(rasa: FakeRasa, sender: tuple[str, str]) -> list[str]:
    return [text for who, text in rasa.heard if who == f"{sender[0]}:{sender[1]}"]


class Bots:
    """Two bot processes' pipelines on one database, each with its own Rasa client."""

    def __init__(self, url: str, rasa: FakeRasa, clock: TestClock) -> None:
        self.clients = [RasaClient(rasa.url, "token", timeout=5) for _ in range(2)]
        self.pipelines = [Pipeline(url, client, clock=clock) for client in self.clients]

    async def sweep(self) -> None:
        """Both processes' sweeps at once, as their schedulers would run them."""
        await asyncio.gather(*(p.sweep_pending() for p in self.pipelines))

    async def close(self) -> None:
        for client in self.clients:
            await client.aclose()


async def outage_while_citizens_write(url: str, rasa: FakeRasa, clock: TestClock, bots: Bots,
                                      minutes: int = 10) -> dict[tuple[str, str], list[str]]:
    """Rasa down for `minutes` (503 first, then refusing connections); every 30 s one of the
    citizens writes, handled by either process, and both sweep every 5 s."""
    written: dict[tuple[str, str], list[str]] = {sender: [] for sender in SENDERS}
    rasa.switch("503")
    for step in range(minutes * 12):
        if step == minutes * 6:
            rasa.switch("refused")
        clock.advance(seconds=5)
        if step % 6 == 0:
            sender = SENDERS[step // 6 % len(SENDERS)]
            text = f"tin {len(written[sender]) + 1} lúc {clock().strftime('%H:%M:%S')}"
            written[sender].append(text)
            await bots.pipelines[step // 12 % 2].process_inbound(write(url, clock, sender, text))
        await bots.sweep()
    return written


async def back_up(rasa: FakeRasa, clock: TestClock, bots: Bots) -> None:
    rasa.switch("up")
    for _ in range(30):  # the next probe is at most a minute away
        clock.advance(seconds=5)
        await bots.sweep()


def assert_told_once_and_waiting(url: str, outages: int) -> None:
    rows = inbox(url)
    assert [r for r in rows if r.status == "failed"] == []
    for sender in SENDERS:
        assert outbox_texts(url, sender).count(UNAVAILABLE_TEXT) == outages


def assert_all_answered_in_order(url: str, rasa: FakeRasa,
                                 written: dict[tuple[str, str], list[str]]) -> None:
    assert {r.status for r in inbox(url)} == {"done"}
    for sender, texts in written.items():
        assert heard_from(rasa, sender) == texts  # each once, in the order written
        answers = [t for t in outbox_texts(url, sender) if t not in (
            UNAVAILABLE_TEXT, INTRO_TEXT)]
        assert answers == [f"Đã nhận: {text}" for text in texts]


@pytest.mark.timeout(180)
@pytest.mark.parametrize("empty_db_url", BACKENDS, indirect=True)
def test_ten_minute_outage_each_sender_told_once_then_all_answered_in_order(db_url, rasa):
    clock = TestClock()

    async def scenario() -> None:
        bots = Bots(db_url, rasa, clock)
        written = {sender: [f"chào, tôi là {sender[0]}"] for sender in SENDERS}
        for index, sender in enumerate(SENDERS):  # Rasa up: answered at once
            await bots.pipelines[index % 2].process_inbound(
                write(db_url, clock, sender, written[sender][0]))
        assert rasa.heard and all(UNAVAILABLE_TEXT not in outbox_texts(db_url, s)
                                  for s in SENDERS)

        asked_before = rasa.asked
        for sender, texts in (await outage_while_citizens_write(
                db_url, rasa, clock, bots)).items():
            written[sender] += texts
        assert all(len(texts) > 6 for texts in written.values())
        # 10 minutes, two processes sweeping every 5 s: a capped backoff, not 240 requests
        assert rasa.asked - asked_before <= 30
        assert_told_once_and_waiting(db_url, outages=1)
        assert {r.status for r in inbox(db_url)[len(SENDERS):]} == {"pending"}
        with session_scope(db_url) as session:
            assert outage.current(session) is not None

        await back_up(rasa, clock, bots)
        assert_all_answered_in_order(db_url, rasa, written)
        # one sender's queue does not hold the other's back: answered side by side
        after = [who for who, _ in rasa.heard[len(SENDERS):]]
        assert sum(a != b for a, b in zip(after, after[1:], strict=False)) >= 10
        with session_scope(db_url) as session:
            assert outage.current(session) is None
            record = session.get(JobRun, (outage.JOB, outage.KEY))
            assert record.result["seconds"] >= 600

        # later, a second outage: everyone writing during it is told once again
        clock.advance(hours=1)
        for sender, texts in (await outage_while_citizens_write(
                db_url, rasa, clock, bots, minutes=2)).items():
            written[sender] += texts
        assert_told_once_and_waiting(db_url, outages=2)
        await back_up(rasa, clock, bots)
        assert_all_answered_in_order(db_url, rasa, written)
        await bots.close()

    asyncio.run(scenario())


@pytest.mark.timeout(120)
@pytest.mark.parametrize("status", [500, 400])
def test_a_message_rasa_cannot_handle_fails_with_its_reason_and_blocks_no_one(
        db_url, rasa, status):
    """Rasa is up but answers this one message with an error: that is no outage (no notice),
    the message is tried MAX_DIALOGUE_ATTEMPTS times and then failed with the reason, and the
    same citizen's next message is answered after it; another citizen is answered at once."""
    rasa.broken_status = status
    clock = TestClock()

    async def scenario() -> None:
        bots = Bots(db_url, rasa, clock)
        pipeline = bots.pipelines[0]
        broken = write(db_url, clock, WEB, f"đường thôn 3 {BROKEN}")
        await pipeline.process_inbound(broken)
        after = write(db_url, clock, WEB, "đường thôn 3 ngập")
        await pipeline.process_inbound(after)
        await pipeline.process_inbound(write(db_url, clock, TELEGRAM, "đèn đường hỏng"))
        assert heard_from(rasa, TELEGRAM) == ["đèn đường hỏng"]
        assert heard_from(rasa, WEB) == []  # waits behind the broken one
        for _ in range(MAX_DIALOGUE_ATTEMPTS + 2):
            clock.advance(seconds=15)
            await bots.sweep()
        await bots.close()
        rows = {row.id: row for row in inbox(db_url)}
        reason = f"{'DialogueUnavailable' if status == 500 else 'DialogueRejected'}: HTTP {status}"
        assert (rows[broken].status, rows[broken].last_error) == ("failed", reason)
        assert rows[broken].payload["dialogue_errors"] == MAX_DIALOGUE_ATTEMPTS
        assert rows[after].status == "done"
        assert heard_from(rasa, WEB) == ["đường thôn 3 ngập"]
        assert UNAVAILABLE_TEXT not in outbox_texts(db_url, WEB)

    asyncio.run(scenario())


def test_the_probe_backs_off_to_a_minute_and_resets_on_an_answer():
    clock = TestClock()
    probe = outage.Probe()
    delays = []
    for _ in range(7):
        probe.failed(clock())
        delays.append((probe.due - clock()).total_seconds())
        assert probe.waiting(clock())
        clock.now = probe.due
        assert not probe.waiting(clock())
    assert delays == [5, 10, 20, 40, 60, 60, 60]
    probe.answered()
    assert not probe.waiting(clock())
    probe.failed(clock())
    assert (probe.due - clock()).total_seconds() == 5


@pytest.mark.timeout(120)
@pytest.mark.parametrize("empty_db_url", BACKENDS, indirect=True)
def test_a_process_that_died_mid_message_holds_back_only_that_sender_until_its_lease_ends(
        db_url, rasa):
    """The first process took a message and died: the sender's next message waits (the
    dialogue must hear them in order), another citizen does not; once the lease has run out
    another process answers both, in order. What needs no dialogue is answered at once."""
    clock = TestClock()

    async def scenario() -> None:
        bots = Bots(db_url, rasa, clock)
        taken = write(db_url, clock, WEB, "cống thôn 2 tắc")
        with session_scope(db_url) as session:
            assert inbox_queue.claim(session, taken, clock())  # ...and the process died
        clock.advance(seconds=20)
        later = write(db_url, clock, WEB, "ở gần nhà văn hóa")
        sticker = write(db_url, clock, WEB, None)
        for inbox_id in (later, sticker):
            await bots.pipelines[1].process_inbound(inbox_id)
        await bots.pipelines[1].process_inbound(write(db_url, clock, TELEGRAM, "đèn hỏng"))
        assert heard_from(rasa, WEB) == [] and heard_from(rasa, TELEGRAM) == ["đèn hỏng"]
        assert outbox_texts(db_url, WEB)[-1] == EMPTY_TEXT  # no dialogue needed: at once
        clock.advance(minutes=2)
        await bots.sweep()
        assert heard_from(rasa, WEB) == []  # the lease still holds
        clock.advance(seconds=inbox_queue.LEASE.total_seconds())
        await bots.sweep()
        await bots.close()
        assert heard_from(rasa, WEB) == ["cống thôn 2 tắc", "ở gần nhà văn hóa"]
        assert {row.status for row in inbox(db_url)} == {"done"}

    asyncio.run(scenario())


def test_a_failure_from_before_rasa_answered_opens_no_outage(db_url):
    clock = TestClock()
    asked = clock()
    with session_scope(db_url) as session:
        first = outage.record_failure(session, clock.advance(seconds=1), asked)
        assert first == clock() and outage.current(session) == first
        assert outage.record_failure(session, clock.advance(seconds=1), clock()) == first
    with session_scope(db_url) as session:  # Rasa answered a request made after it began
        outage.record_answer(session, clock.advance(seconds=30), clock() - timedelta(seconds=2))
        assert outage.current(session) is None
    with session_scope(db_url) as session:  # a slow request from before that answer failed
        assert outage.record_failure(session, clock.advance(seconds=1), asked) is None
        assert outage.current(session) is None
        second = outage.record_failure(session, clock(), clock())  # a new one did: reopened
        assert second == clock() and outage.notice_key(second, *WEB) != outage.notice_key(
            first, *WEB)
