"""Web Push deliveries of officer notices: a real P-256 subscription, the real delivery job,
a fake push service on 127.0.0.1, and the test decrypting what arrived as a browser would."""

from __future__ import annotations

import json
import os
import stat
import threading
from datetime import timedelta

import http_ece
import pytest
from sqlalchemy import func, select, update

from bot.core import webpush
from bot.core.notices import store_notice, ticket_link
from bot.jobs.notice_delivery import NO_SUBSCRIPTION, deliver_notices
from bot.settings import load_settings
from bot.store.db import session_scope
from bot.store.desk_models import NoticeDelivery, PushSubscription
from bot.store.models import Officer, Ticket
from tests.conftest import BACKENDS
from tests.fake_push import BrowserKeys, FakePushService
from tests.helpers import NOW, TestClock, make_ticket

LINK_BASE = "http://desk.example"


@pytest.fixture
def push_service():
    with FakePushService() as service:
        yield service


def officer_id(url: str) -> int:
    with session_scope(url) as session:
        return session.scalars(select(Officer.id).order_by(Officer.id)).first()


def subscribe(url: str, officer: int, endpoint: str, keys: BrowserKeys) -> int:
    with session_scope(url) as session:
        row = PushSubscription(officer_id=officer, endpoint=endpoint, p256dh=keys.p256dh,
                               auth=keys.auth, created_at=NOW)
        session.add(row)
        session.flush()
        return row.id


def add_notice(url: str, officer: int, code: str | None = None, key: str = "n1",
               via: str = "push") -> int:
    """A notice stored the way the core stores it (notices.store_notice); returns the id of
    its delivery by `via`."""
    with session_scope(url) as session:
        ticket = session.scalar(select(Ticket).where(Ticket.code == code)) if code else None
        notice = store_notice(session, session.get(Officer, officer), ticket, "new",
                              f"Đơn mới {code}: giao thông, thôn 3; hạn thụ lý 12/03.",
                              key, NOW, ticket_link(code, LINK_BASE) if code else None)
        session.flush()
        return session.scalar(select(NoticeDelivery.id).where(
            NoticeDelivery.notice_id == notice.id, NoticeDelivery.via == via))


def settle_filing_notices(url: str) -> None:
    """Filing a ticket notifies its unit; those deliveries are not under test here."""
    with session_scope(url) as session:
        session.execute(update(NoticeDelivery).where(NoticeDelivery.status == "pending")
                        .values(status="held", last_error="test"))


def delivery(url: str, delivery_id: int) -> NoticeDelivery:
    with session_scope(url) as session:
        return session.get(NoticeDelivery, delivery_id)


def decrypt(body: bytes, keys: BrowserKeys) -> dict:
    plain = http_ece.decrypt(body, private_key=keys.private_key, auth_secret=keys.auth_secret,
                             version="aes128gcm")
    return json.loads(plain)


@pytest.mark.parametrize("empty_db_url", BACKENDS, indirect=True)
def test_push_arrives_encrypted_signed_and_decrypts_to_code_and_link(app_env, push_service):
    settings = load_settings()
    code = make_ticket(app_env)
    settle_filing_notices(app_env)
    officer = officer_id(app_env)
    keys = BrowserKeys.generate()
    endpoint = push_service.endpoint()
    subscribe(app_env, officer, endpoint, keys)
    delivery_id = add_notice(app_env, officer, code)

    assert deliver_notices(app_env, settings, TestClock(NOW)) == {"sent": 1}

    [received] = push_service.to(endpoint)
    assert received.headers["Content-Encoding"] == "aes128gcm"
    assert code.encode() not in received.body  # encrypted on the wire
    assert f"k={webpush.public_key(settings)}" in received.headers["Authorization"]
    payload = decrypt(received.body, keys)
    assert code in payload["title"] and code in payload["body"]
    assert payload["url"] == f"http://desk.example/desk/tickets/{code}"
    row = delivery(app_env, delivery_id)
    assert (row.status, row.attempts, row.claimed_until) == ("sent", 1, None)
    assert deliver_notices(app_env, settings, TestClock(NOW + timedelta(hours=1))) == {}
    assert len(push_service.received) == 1


@pytest.mark.parametrize("empty_db_url", BACKENDS, indirect=True)
def test_filing_a_ticket_pushes_its_notice_to_the_subscribed_officers(app_env, push_service):
    """The whole path: create_ticket -> notify -> store_notice -> this job -> the browser."""
    settings = load_settings()
    with session_scope(app_env) as session:
        officers = list(session.scalars(select(Officer.id).where(Officer.active.is_(True))))
    browsers = {}
    for officer in officers:
        keys, endpoint = BrowserKeys.generate(), push_service.endpoint(f"officer{officer}")
        subscribe(app_env, officer, endpoint, keys)
        browsers[endpoint] = keys

    code = make_ticket(app_env)
    counts = deliver_notices(app_env, settings, TestClock(NOW))

    assert counts.get("sent", 0) >= 1 and set(counts) == {"sent"}
    payloads = [decrypt(item.body, browsers[push_service.endpoint(item.path.split("/")[-1])])
                for item in push_service.received]
    assert payloads and all(code in p["body"] for p in payloads)
    assert all(p["url"] == f"{settings.desk_base_url}/desk/tickets/{code}" for p in payloads)


def test_410_deactivates_the_subscription_and_fails_the_delivery_with_reason(
        app_env, push_service):
    settings = load_settings()
    code = make_ticket(app_env)
    settle_filing_notices(app_env)
    officer = officer_id(app_env)
    endpoint = push_service.endpoint()
    subscription_id = subscribe(app_env, officer, endpoint, BrowserKeys.generate())
    push_service.answer(endpoint, 410)
    delivery_id = add_notice(app_env, officer, code)

    assert deliver_notices(app_env, settings, TestClock(NOW)) == {"failed": 1}

    row = delivery(app_env, delivery_id)
    assert row.status == "failed" and "410" in row.last_error
    with session_scope(app_env) as session:
        subscription = session.get(PushSubscription, subscription_id)
        assert subscription.active is False and "410" in subscription.last_error
    # the next notice finds no active subscription: held, and shown so
    second = add_notice(app_env, officer, key="n2")
    deliver_notices(app_env, settings, TestClock(NOW))
    assert (delivery(app_env, second).status, delivery(app_env, second).last_error) == (
        "held", NO_SUBSCRIPTION)
    assert len(push_service.received) == 1


def test_subscription_dropped_after_the_notice_was_stored_holds_the_delivery(
        app_env, push_service):
    officer = officer_id(app_env)
    subscription_id = subscribe(app_env, officer, push_service.endpoint(),
                                BrowserKeys.generate())
    delivery_id = add_notice(app_env, officer)
    assert delivery(app_env, delivery_id).status == "pending"
    with session_scope(app_env) as session:
        session.get(PushSubscription, subscription_id).active = False

    assert deliver_notices(app_env, load_settings(), TestClock(NOW)) == {"held": 1}
    assert delivery(app_env, delivery_id).last_error == NO_SUBSCRIPTION
    assert push_service.received == []


def test_500_is_retried_after_a_back_off_then_sent(app_env, push_service):
    settings = load_settings()
    officer = officer_id(app_env)
    code = make_ticket(app_env)
    settle_filing_notices(app_env)
    keys = BrowserKeys.generate()
    endpoint = push_service.endpoint()
    subscribe(app_env, officer, endpoint, keys)
    push_service.answer(endpoint, 500)
    delivery_id = add_notice(app_env, officer, code)
    clock = TestClock(NOW)

    assert deliver_notices(app_env, settings, clock) == {"pending": 1}
    row = delivery(app_env, delivery_id)
    assert row.attempts == 1 and "500" in row.last_error and row.next_attempt_at > NOW
    assert row.claimed_until is None
    assert deliver_notices(app_env, settings, clock) == {}  # not due yet: nothing sent
    assert len(push_service.received) == 1

    clock.now = row.next_attempt_at
    assert deliver_notices(app_env, settings, clock) == {"sent": 1}
    assert code in decrypt(push_service.to(endpoint)[-1].body, keys)["body"]
    assert delivery(app_env, delivery_id).attempts == 2


def test_429_retry_after_header_sets_the_next_attempt(app_env, push_service):
    settings = load_settings()
    officer = officer_id(app_env)
    endpoint = push_service.endpoint()
    subscribe(app_env, officer, endpoint, BrowserKeys.generate())
    push_service.answer(endpoint, 429, {"Retry-After": "600"})
    delivery_id = add_notice(app_env, officer)

    deliver_notices(app_env, settings, TestClock(NOW))

    row = delivery(app_env, delivery_id)
    assert row.status == "pending" and row.next_attempt_at == NOW + timedelta(seconds=600)


def test_unreachable_push_service_is_a_temporary_error(app_env, push_service):
    settings = load_settings()
    officer = officer_id(app_env)
    subscribe(app_env, officer, "http://127.0.0.1:9/push/closed", BrowserKeys.generate())
    delivery_id = add_notice(app_env, officer)

    deliver_notices(app_env, settings, TestClock(NOW))

    row = delivery(app_env, delivery_id)
    assert row.status == "pending" and "mạng" in row.last_error


def test_every_active_subscription_of_the_officer_gets_the_push(app_env, push_service):
    settings = load_settings()
    officer = officer_id(app_env)
    code = make_ticket(app_env)
    settle_filing_notices(app_env)
    phone, desktop = BrowserKeys.generate(), BrowserKeys.generate()
    phone_url, desktop_url = push_service.endpoint("phone"), push_service.endpoint("pc")
    subscribe(app_env, officer, phone_url, phone)
    subscribe(app_env, officer, desktop_url, desktop)
    add_notice(app_env, officer, code)

    deliver_notices(app_env, settings, TestClock(NOW))

    assert code in decrypt(push_service.to(phone_url)[0].body, phone)["title"]
    assert code in decrypt(push_service.to(desktop_url)[0].body, desktop)["title"]


@pytest.mark.parametrize("empty_db_url", BACKENDS, indirect=True)
def test_two_concurrent_workers_never_send_one_delivery_twice(app_env, push_service):
    settings = load_settings()
    officer = officer_id(app_env)
    keys = BrowserKeys.generate()
    endpoint = push_service.endpoint()
    subscribe(app_env, officer, endpoint, keys)
    ids = [add_notice(app_env, officer, key=f"n{i}") for i in range(30)]
    start = threading.Barrier(2)
    totals: list[dict[str, int]] = []

    def worker() -> None:
        start.wait()
        done: dict[str, int] = {}
        while counts := deliver_notices(app_env, settings, TestClock(NOW), limit=4):
            for status, count in counts.items():
                done[status] = done.get(status, 0) + count
        totals.append(done)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    tags = [decrypt(item.body, keys)["tag"] for item in push_service.to(endpoint)]
    assert len(tags) == 30 and len(set(tags)) == 30
    assert sum(total.get("sent", 0) for total in totals) == 30
    with session_scope(app_env) as session:
        assert session.scalar(select(func.count()).select_from(NoticeDelivery).where(
            NoticeDelivery.id.in_(ids), NoticeDelivery.status == "sent")) == 30


def test_a_lease_held_by_another_worker_is_skipped_until_it_expires(app_env, push_service):
    settings = load_settings()
    officer = officer_id(app_env)
    subscribe(app_env, officer, push_service.endpoint(), BrowserKeys.generate())
    delivery_id = add_notice(app_env, officer)
    with session_scope(app_env) as session:
        session.get(NoticeDelivery, delivery_id).claimed_until = NOW + timedelta(minutes=5)

    assert deliver_notices(app_env, settings, TestClock(NOW)) == {}
    assert deliver_notices(app_env, settings, TestClock(NOW + timedelta(minutes=6))) == {
        "sent": 1}


def test_vapid_key_is_generated_once_with_mode_600(app_env):
    settings = load_settings()
    webpush._cache.clear()
    key = webpush.public_key(settings)
    path = settings.data_dir / webpush.KEY_FILE
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    webpush._cache.clear()  # another process reads the same file
    assert webpush.public_key(settings) == key
    assert key.startswith("B")  # 0x04 first: an uncompressed P-256 point, 65 bytes


def test_configured_vapid_private_key_is_used_and_no_file_is_written(app_env, monkeypatch):
    from py_vapid import Vapid

    vapid = Vapid()
    vapid.generate_keys()
    raw = vapid.private_key.private_numbers().private_value.to_bytes(32, "big")
    monkeypatch.setenv("VAPID_PRIVATE_KEY", webpush.b64url(raw))
    load_settings.cache_clear()
    settings = load_settings()

    expected = webpush.b64url(vapid.public_key.public_bytes(
        webpush.serialization.Encoding.X962,
        webpush.serialization.PublicFormat.UncompressedPoint))
    assert webpush.public_key(settings) == expected
    assert not (settings.data_dir / webpush.KEY_FILE).exists()


def test_every_bot_process_schedules_the_delivery_job(app_env, tmp_path):
    from bot.dialogue.pipeline import Pipeline
    from bot.jobs.leader import LeaderLock
    from bot.jobs.scheduler import build_scheduler
    from tests.helpers import context

    scheduler = build_scheduler(Pipeline(app_env, None), LeaderLock(app_env, tmp_path),
                                context())
    job = scheduler.get_job("notice_delivery")
    assert job is not None and job.args == (app_env,)
    assert job.trigger.interval == timedelta(seconds=10)


def test_a_batch_that_runs_past_half_its_lease_hands_the_rest_back(app_env, push_service,
                                                                    monkeypatch):
    from bot.jobs import notice_delivery

    officer = officer_id(app_env)
    subscribe(app_env, officer, push_service.endpoint(), BrowserKeys.generate())
    ids = [add_notice(app_env, officer, key=f"n{i}") for i in range(3)]
    monkeypatch.setattr(notice_delivery, "LEASE_SECONDS", 1e-6)  # already "too slow"

    assert deliver_notices(app_env, load_settings(), TestClock(NOW)) == {}

    assert push_service.received == []
    assert [delivery(app_env, i).claimed_until for i in ids] == [None, None, None]
    assert [delivery(app_env, i).status for i in ids] == ["pending"] * 3
