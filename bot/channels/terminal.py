"""`nghedan chat`: a channel in the terminal, through the same inbox -> Rasa -> outbox path."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid

import typer

from bot.channels.base import deliver_due
from bot.cli.run import prepare_database
from bot.core.messaging import Inbound, store_inbound
from bot.dialogue import rasa_runtime
from bot.dialogue.pipeline import Pipeline, button_key
from bot.dialogue.rasa_client import RasaClient
from bot.settings import PROJECT_ROOT, Settings
from bot.store.db import session_scope
from bot.store.models import OutboxMessage

CHANNEL = "cli"
QUIT_WORDS = {"thoát", "thoat", "exit", "quit"}
READY_TIMEOUT_SECONDS = 300


class TerminalSender:
    channel = CHANNEL

    def __init__(self) -> None:
        self.last_buttons: list[str] = []

    async def send(self, message: OutboxMessage) -> str | None:
        typer.echo(f"Bot: {message.text or ''}")
        if message.buttons:
            self.last_buttons = [button_key(message.id, i) for i in range(len(message.buttons))]
            for number, button in enumerate(message.buttons, start=1):
                typer.echo(f"  [{number}] {button['title']}")
        return None


async def _ensure_rasa(settings: Settings, rasa: RasaClient) -> list[subprocess.Popen]:
    """Use the running Rasa server, or start Rasa and the action server for this chat."""
    if await rasa.is_ready():
        return []
    if not rasa_runtime.model_path(settings).exists():
        rasa_runtime.train(settings)
    typer.echo("Đang khởi động Rasa (khoảng 30 giây)...")
    endpoints, credentials = rasa_runtime.write_runtime_files(settings)
    env = rasa_runtime.rasa_env() | {"SANIC_HOST": "127.0.0.1"}
    logs = (settings.data_dir / "log").resolve()
    logs.mkdir(parents=True, exist_ok=True)
    processes = [
        subprocess.Popen(argv, cwd=PROJECT_ROOT, env=env, stdin=subprocess.DEVNULL,
                         stdout=(logs / f"chat-{name}.log").open("ab"), stderr=subprocess.STDOUT)
        for name, argv in (
            ("rasa", rasa_runtime.rasa_server_command(settings, endpoints, credentials)),
            ("actions", rasa_runtime.action_server_command(settings)),
        )
    ]
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while not await rasa.is_ready():
        if time.monotonic() > deadline or any(p.poll() is not None for p in processes):
            _stop(processes)
            typer.echo(f"Rasa không khởi động được; xem {logs}/chat-rasa.log", err=True)
            raise typer.Exit(1)
        await asyncio.sleep(1)
    return processes


def _stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


async def run_chat(settings: Settings, user: str) -> None:
    prepare_database(settings)
    url = settings.effective_database_url
    rasa = RasaClient(settings.rasa_url, settings.ensure_rasa_token())
    processes = await _ensure_rasa(settings, rasa)
    pipeline, sender = Pipeline(url, rasa), TerminalSender()
    typer.echo("Trò chuyện với Nghe Dân. Gõ 'thoát' để kết thúc; gõ số để bấm nút.")
    try:
        while True:
            line = await asyncio.to_thread(sys.stdin.readline)
            if not line or line.strip().lower() in QUIT_WORDS:
                break
            text = line.strip()
            button = ""
            if text.isdigit() and 0 < int(text) <= len(sender.last_buttons):
                button = sender.last_buttons[int(text) - 1]
            sender.last_buttons = []
            inbound = Inbound(CHANNEL, uuid.uuid4().hex, user, None if button else text,
                              {"button": button} if button else {})
            with session_scope(url) as session:
                inbox_id = store_inbound(session, inbound, pipeline.clock()).id
            await pipeline.process_inbound(inbox_id)
            await deliver_due(sender, url, pipeline.clock, recipient=user)
    finally:
        await rasa.aclose()
        _stop(processes)
