"""A real SMTP server for e-mail tests (aiosmtpd on 127.0.0.1, a free port) that keeps what it
receives, and the settings that point the bot at it."""

from __future__ import annotations

import contextlib
import email
import email.policy
from collections.abc import Iterator

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Message

from bot.settings import load_settings
from bot.store.db import session_scope
from bot.store.models import Officer
from tests.e2e import free_port


class Inbox(Message):
    """Keeps every message received; `refuse_with` makes it refuse recipients."""

    def __init__(self) -> None:
        super().__init__(email.message.EmailMessage)
        self.messages: list[email.message.EmailMessage] = []
        self.refuse_with: str | None = None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.refuse_with:
            return self.refuse_with
        envelope.rcpt_tos.append(address)
        return "250 OK"

    def handle_message(self, message) -> None:
        self.messages.append(email.message_from_bytes(message.as_bytes(),
                                                      policy=email.policy.default))


@contextlib.contextmanager
def local_smtp(inbox: Inbox) -> Iterator[Controller]:
    """The server, running until the block ends; `controller.inbox` is `inbox`."""
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    controller.inbox = inbox
    try:
        yield controller
    finally:
        controller.stop()


def smtp_env(monkeypatch, controller) -> None:
    monkeypatch.setenv("SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SMTP_PORT", str(controller.port))
    monkeypatch.setenv("SMTP_STARTTLS", "false")  # the test server offers no TLS
    monkeypatch.setenv("SMTP_FROM", "nghedan@xa.example")
    load_settings.cache_clear()


def give_email(url: str, officer: int, address: str | None) -> None:
    with session_scope(url) as session:
        session.get(Officer, officer).email = address
