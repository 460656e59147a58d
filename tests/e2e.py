"""The running default setup for end-to-end tests: `nghedan up` (Rasa server with the trained
model, action server, bot) on a fresh SQLite database, with a fake Telegram Bot API, and the
web chat driven over HTTP."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from bot.store.models import Ticket
from tests import helpers
from tests.fake_telegram import FakeTelegram

READY_TIMEOUT = 400
REPORT = "Đường bê tông thôn 3 bị ngập sâu mấy hôm nay, cống thoát nước bị tắc hoàn toàn"
CODE = re.compile(r"KN-\d{4}-\d{6}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Setup:
    def __init__(self, root: Path, telegram: FakeTelegram, **env: str) -> None:
        self.root = root
        self.telegram = telegram
        self.db_url = f"sqlite:///{root / 'nghedan.db'}"
        self.web_port = free_port()
        self.env = {
            **os.environ, "DATA_DIR": str(root), "DATABASE_URL": self.db_url,
            "RASA_URL": f"http://127.0.0.1:{free_port()}",
            "ACTION_SERVER_PORT": str(free_port()), "WEB_PORT": str(self.web_port),
            "TELEGRAM_TOKEN": "123456:TEST", "TELEGRAM_BASE_URL": telegram.base_url,
            "TELEGRAM_BASE_FILE_URL": telegram.base_url.replace("/bot", "/file/bot"),
            **env,
        }
        self.process: subprocess.Popen | None = None
        self.output = root / "up.out"

    @property
    def web(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "up"], env=self.env,
            stdout=self.output.open("wb"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.output.read_text()
            try:
                if httpx.get(f"{self.web}/health", timeout=2).json()["rasa"] == "ready":
                    return
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(1)
        raise AssertionError("not ready in time:\n" + self.output.read_text())

    def pids(self) -> dict[str, int]:
        return json.loads((self.root / "run" / "pids.json").read_text())

    def stop(self) -> None:
        """SIGTERM, as an operator's restart does; waits for every process to end."""
        self.process.send_signal(signal.SIGTERM)
        assert self.process.wait(timeout=60) == 0

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
        if (self.root / "run" / "pids.json").exists():
            for pid in self.pids().values():
                _kill_group(pid)


@contextlib.contextmanager
def running_setup(root: Path, **env: str) -> Iterator[Setup]:
    """`nghedan up` on a fresh database in `root`, with a fake Telegram; stopped afterwards."""
    with FakeTelegram() as telegram:
        running = Setup(root, telegram, **env)
        try:
            running.start()
            yield running
        finally:  # a failed test must not leave the processes (and their locks) behind
            running.kill()


def ticket(setup: Setup, code: str) -> Ticket:
    """The ticket as stored now (detached from its session)."""
    return helpers.ticket(setup.db_url, code)


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def say(client: httpx.Client, setup: Setup, **body) -> list[dict]:
    response = client.post(f"{setup.web}/api/chat/messages", json=body, timeout=60)
    assert response.status_code == 200
    return response.json()["messages"]


def press(client: httpx.Client, setup: Setup, messages: list[dict], title: str) -> list[dict]:
    keys = [b["key"] for m in messages for b in m["buttons"] if b["title"] == title]
    assert keys, f"no button {title!r} in {messages}"
    return say(client, setup, button=keys[0])


def start_and_consent(client: httpx.Client, setup: Setup) -> None:
    greeting = say(client, setup, text="/start")
    thanks = press(client, setup, greeting, "Đồng ý")
    assert thanks and thanks[0]["text"].startswith("Dạ, cảm ơn")


def text_of(messages: list[dict]) -> str:
    return " ".join(m["text"] or "" for m in messages)


def to_summary(client: httpx.Client, setup: Setup, messages: list[dict]) -> list[dict]:
    """Bỏ qua the optional questions (files, phone) until the summary with Gửi."""
    for _ in range(3):
        titles = [b["title"] for m in messages for b in m["buttons"]]
        if "Gửi" in titles or "Bỏ qua" not in titles:
            return messages
        messages = press(client, setup, messages, "Bỏ qua")
    return messages


def telegram_consent(fake: FakeTelegram, chat: int) -> None:
    """/start, then Đồng ý to the notice on personal data, on the fake Telegram."""
    fake.user_says(chat, "/start")
    notice = fake.wait_for(lambda m: m["chat_id"] == chat and "Đồng ý" in fake.button_titles(m))
    count = len(fake.sent)
    fake.user_presses(chat, notice, "Đồng ý")
    # Its answer first: a sender's messages are answered in order, so what the test sends
    # next is answered after it.
    fake.wait_for(lambda m: m["chat_id"] == chat and fake.sent.index(m) >= count)


def telegram_report(fake: FakeTelegram, chat: int, text: str, since: int = 0) -> str:
    """A consented citizen files `text` on Telegram: Bỏ qua the optional questions (files,
    phone; asked after the first `since` messages of the fake), Gửi; returns the ticket code."""
    fake.user_says(chat, text)
    for _ in range(2):
        step = fake.wait_for(lambda m: m["chat_id"] == chat and fake.sent.index(m) >= since
                             and "Bỏ qua" in fake.button_titles(m)
                             and not m.get("pressed"))
        step["pressed"] = True
        fake.user_presses(chat, step, "Bỏ qua")
    summary = fake.wait_for(lambda m: m["chat_id"] == chat and "Gửi" in fake.button_titles(m))
    fake.user_presses(chat, summary, "Gửi")
    return CODE.search(fake.wait_for(
        lambda m: m["chat_id"] == chat and CODE.search(m["text"]))["text"])[0]


def file_report(client: httpx.Client, setup: Setup, text: str) -> str:
    """A consented citizen files `text` (which names its place); returns the ticket code."""
    receipt = press(client, setup, to_summary(client, setup, say(client, setup, text=text)),
                    "Gửi")
    code = CODE.search(text_of(receipt))
    assert code, receipt
    return code[0]
