"""The long-running parts behind `nghedan up` and `nghedan serve`."""

from __future__ import annotations

import asyncio
import signal
import threading
import time

import httpx
import structlog
import typer
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.cli.supervisor import ProcessSpec, Supervisor
from bot.core.clock import system_clock
from bot.core.context import context_from_settings
from bot.core.org import load_demo
from bot.dialogue import rasa_runtime
from bot.dialogue.pipeline import Pipeline
from bot.dialogue.rasa_client import RasaClient
from bot.jobs.leader import LeaderLock
from bot.jobs.scheduler import add_outbox_delivery, build_scheduler
from bot.settings import PROJECT_ROOT, Settings
from bot.store.db import session_scope
from bot.store.migrate import current_revision, head_revision, is_empty, upgrade

log = structlog.get_logger(__name__)


def prepare_database(settings: Settings, seed: bool = False) -> dict[str, int]:
    """Migrate to the newest schema; load the demo commune when asked or when it was empty."""
    url = settings.effective_database_url
    was_empty = is_empty(url)
    upgrade(url)
    if not (seed or was_empty):
        return {}
    with session_scope(url) as session:
        return load_demo(session, system_clock())


def run_up(settings: Settings) -> None:
    if not rasa_runtime.model_path(settings).exists():
        typer.echo("Chưa có mô hình Rasa, đang huấn luyện (vài phút)...")
        rasa_runtime.train(settings)
    added = prepare_database(settings)
    if added:
        typer.echo("Cơ sở dữ liệu trống: đã nạp xã mẫu.")
    endpoints, credentials = rasa_runtime.write_runtime_files(settings)
    env = rasa_runtime.rasa_env()
    env["SANIC_HOST"] = "127.0.0.1"  # the action server binds here, not on every interface
    env["RASA_TOKEN"] = settings.ensure_rasa_token()
    specs = [
        ProcessSpec("rasa", rasa_runtime.rasa_server_command(settings, endpoints, credentials),
                    env, PROJECT_ROOT),
        ProcessSpec("actions", rasa_runtime.action_server_command(settings), env, PROJECT_ROOT),
        ProcessSpec("bot", [*_self_command(), "serve"], env, PROJECT_ROOT),
    ]
    log_dir = settings.data_dir / "log"
    _print_banner(settings, log_dir)
    supervisor = Supervisor(specs, log_dir, pid_file=settings.data_dir / "run" / "pids.json",
                            on_event=typer.echo)
    threading.Thread(target=_announce_ready, args=(settings,), daemon=True).start()
    supervisor.run()
    typer.echo("Đã dừng tất cả tiến trình.")


def _self_command() -> list[str]:
    import sys

    return [sys.executable, "-m", "bot.cli"]


def _print_banner(settings: Settings, log_dir) -> None:
    web = f"http://{settings.web_host}:{settings.web_port}/"
    telegram = ("bật" if settings.telegram_enabled
                else "tắt (chưa đặt TELEGRAM_TOKEN)")
    typer.echo(
        "Nghe Dân đang khởi động.\n"
        f"  Web chat:   bật, {web}\n"
        f"  Telegram:   {telegram}\n"
        "  Zalo:       tắt (chưa hỗ trợ trong phiên bản này)\n"
        f"  CSDL:       {settings.effective_database_url.split('@')[-1]}\n"
        f"  Nhật ký:    {log_dir}/\n"
        "Nạp mô hình Rasa mất khoảng 30 giây. Nhấn Ctrl-C để dừng."
    )


def _announce_ready(settings: Settings, timeout: float = 600) -> None:
    web = f"http://{settings.web_host}:{settings.web_port}/health"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            body = httpx.get(web, timeout=2).json()
            if body.get("rasa") == "ready":
                typer.echo(f"Sẵn sàng: mở http://{settings.web_host}:{settings.web_port}/ "
                           "để trò chuyện với bot.")
                return
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(1)


def _refresh_work_calendar(url: str) -> None:
    """The figures count working days with the work_calendar table: rewrite it when the
    calendar settings (EXTRA_DAYS_OFF, EXTRA_WORKING_DAYS) changed since it was filled."""
    from bot.core.figures import ensure_calendar

    with session_scope(url) as session:
        written = ensure_calendar(session, context_from_settings())
    if written:
        log.info("work_calendar_refreshed", days=written)


async def run_bot(settings: Settings) -> None:
    """Web chat + workers + scheduler in one asyncio loop, until SIGTERM/SIGINT."""
    from bot.web.app import start_web

    url = settings.effective_database_url
    if current_revision(url) != head_revision():
        typer.echo("Cơ sở dữ liệu chưa được nâng cấp: chạy `nghedan db upgrade`.", err=True)
        raise typer.Exit(1)
    _refresh_work_calendar(url)
    rasa = RasaClient(settings.rasa_url, settings.ensure_rasa_token())
    pipeline = Pipeline(url, rasa)
    telegram = _build_telegram(settings, pipeline)
    runner = await start_web(settings, pipeline, extra_routes=_telegram_routes(settings, telegram))
    leader = LeaderLock(url, settings.data_dir / "run")
    scheduler = build_scheduler(pipeline, leader, context_from_settings())
    await _start_telegram(telegram, pipeline, scheduler)
    scheduler.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    log.info("bot_started", web_port=settings.web_port, telegram=settings.telegram_enabled)
    await stop.wait()
    scheduler.shutdown(wait=False)
    leader.release()
    if telegram is not None:  # finishes accepted updates; a webhook stays registered
        from bot.channels import telegram as telegram_channel

        await telegram_channel.stop(telegram)
    await runner.cleanup()
    await rasa.aclose()
    log.info("bot_stopped")


def _build_telegram(settings: Settings, pipeline: Pipeline):
    """The Telegram channel when a token is set (built before the web server, which serves
    its webhook in webhook mode)."""
    if not settings.telegram_enabled:
        return None
    from bot.channels import telegram as telegram_channel

    return telegram_channel.build_application(settings, pipeline)


def _telegram_routes(settings: Settings, application):
    """POST /telegram/webhook on the web server, in webhook mode only."""
    from bot.channels import telegram as telegram_channel

    if application is None or not telegram_channel.webhook_mode(settings):
        return None
    return telegram_channel.webhook_routes(application)


async def _start_telegram(application, pipeline: Pipeline, scheduler: AsyncIOScheduler) -> None:
    """Polling, or the webhook registered once the web server listens; the outbox is retried
    every few seconds."""
    if application is None:
        return
    from bot.channels import telegram as telegram_channel

    await telegram_channel.start(application)
    add_outbox_delivery(scheduler, application.bot_data["sender"], pipeline)
