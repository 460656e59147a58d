"""E-mail deliveries of officer notices: a real SMTP server (aiosmtpd) on 127.0.0.1 receives
what the delivery job sends with smtplib; without SMTP settings the delivery is held, with why."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.jobs.notice_delivery import NO_EMAIL, NO_SMTP, deliver_notices
from bot.settings import load_settings
from tests.conftest import BACKENDS
from tests.helpers import NOW, TestClock, make_ticket
from tests.smtp_server import Inbox, give_email, local_smtp, smtp_env
from tests.test_webpush import add_notice, delivery, officer_id, settle_filing_notices


@pytest.fixture
def smtp_server():
    with local_smtp(Inbox()) as controller:
        yield controller


@pytest.mark.parametrize("empty_db_url", BACKENDS, indirect=True)
def test_email_notice_reaches_the_smtp_server_with_code_and_link(app_env, smtp_server,
                                                                  monkeypatch):
    code = make_ticket(app_env)
    settle_filing_notices(app_env)
    smtp_env(monkeypatch, smtp_server)
    officer = officer_id(app_env)
    give_email(app_env, officer, "canbo@xa.example")
    delivery_id = add_notice(app_env, officer, code, via="email")

    assert deliver_notices(app_env, load_settings(), TestClock(NOW)) == {"sent": 1}

    [message] = smtp_server.inbox.messages
    assert message["Subject"] == f"[Nghe Dân] Đơn mới {code}"
    assert message["To"] == "canbo@xa.example"
    assert message["From"] == "nghedan@xa.example"
    assert message.get_content_type() == "text/plain"
    body = message.get_content()
    assert code in body and f"http://desk.example/desk/tickets/{code}" in body
    assert "anh/chị" in body.lower()
    assert delivery(app_env, delivery_id).status == "sent"


def test_without_smtp_settings_the_email_delivery_is_held_with_the_reason(
        app_env, smtp_server, monkeypatch):
    officer = officer_id(app_env)
    give_email(app_env, officer, "canbo@xa.example")
    held_at_once = add_notice(app_env, officer, key="n1", via="email")
    assert (delivery(app_env, held_at_once).status,
            delivery(app_env, held_at_once).last_error) == ("held", NO_SMTP)
    # a row stored while SMTP was set, sent after the setting was removed
    smtp_env(monkeypatch, smtp_server)
    pending = add_notice(app_env, officer, key="n2", via="email")
    monkeypatch.delenv("SMTP_HOST")
    load_settings.cache_clear()

    assert deliver_notices(app_env, load_settings(), TestClock(NOW)) == {"held": 1}

    row = delivery(app_env, pending)
    assert (row.status, row.last_error) == ("held", NO_SMTP)
    assert smtp_server.inbox.messages == []


def test_officer_without_an_address_is_held_with_the_reason(app_env, smtp_server, monkeypatch):
    smtp_env(monkeypatch, smtp_server)
    officer = officer_id(app_env)
    held_at_once = add_notice(app_env, officer, key="n1", via="email")
    assert delivery(app_env, held_at_once).last_error == NO_EMAIL
    give_email(app_env, officer, "canbo@xa.example")
    pending = add_notice(app_env, officer, key="n2", via="email")
    give_email(app_env, officer, None)  # removed before the job ran

    assert deliver_notices(app_env, load_settings(), TestClock(NOW)) == {"held": 1}

    assert delivery(app_env, pending).last_error == NO_EMAIL
    assert smtp_server.inbox.messages == []


def test_smtp_server_down_is_retried_later(app_env, smtp_server, monkeypatch):
    smtp_env(monkeypatch, smtp_server)
    monkeypatch.setenv("SMTP_PORT", "9")  # nothing listens there
    load_settings.cache_clear()
    officer = officer_id(app_env)
    give_email(app_env, officer, "canbo@xa.example")
    delivery_id = add_notice(app_env, officer, via="email")

    assert deliver_notices(app_env, load_settings(), TestClock(NOW)) == {"pending": 1}

    row = delivery(app_env, delivery_id)
    assert row.next_attempt_at == NOW + timedelta(seconds=60) and "kết nối" in row.last_error


def test_refused_recipient_fails_for_good_with_the_reason(app_env, smtp_server, monkeypatch):
    smtp_env(monkeypatch, smtp_server)
    smtp_server.inbox.refuse_with = "550 no such user"
    officer = officer_id(app_env)
    give_email(app_env, officer, "khongco@xa.example")
    delivery_id = add_notice(app_env, officer, via="email")

    assert deliver_notices(app_env, load_settings(), TestClock(NOW)) == {"failed": 1}

    assert "người nhận" in delivery(app_env, delivery_id).last_error
    assert deliver_notices(app_env, load_settings(), TestClock(NOW + timedelta(days=1))) == {}
    assert smtp_server.inbox.messages == []


def test_starttls_is_required_when_enabled(app_env, smtp_server, monkeypatch):
    smtp_env(monkeypatch, smtp_server)
    monkeypatch.setenv("SMTP_STARTTLS", "true")  # the server offers no STARTTLS: never plain
    load_settings.cache_clear()
    officer = officer_id(app_env)
    give_email(app_env, officer, "canbo@xa.example")
    delivery_id = add_notice(app_env, officer, via="email")

    deliver_notices(app_env, load_settings(), TestClock(NOW))

    assert delivery(app_env, delivery_id).status == "pending"
    assert smtp_server.inbox.messages == []


def test_address_with_a_line_break_is_refused_not_injected(app_env, smtp_server, monkeypatch):
    smtp_env(monkeypatch, smtp_server)
    officer = officer_id(app_env)
    give_email(app_env, officer, "canbo@xa.example")
    delivery_id = add_notice(app_env, officer, via="email")
    give_email(app_env, officer, "canbo@xa.example\r\nBcc: ke-xau@example.com")

    assert deliver_notices(app_env, load_settings(), TestClock(NOW)) == {"failed": 1}

    assert delivery(app_env, delivery_id).last_error == "địa chỉ e-mail không hợp lệ"
    assert smtp_server.inbox.messages == []
