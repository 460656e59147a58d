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
ZALO_TOKEN_CHECK_MINUTES = 10  # the Zalo OA access token is checked this often


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
        f"  Zalo OA:    {'bật' if settings.zalo_oa_enabled else 'tắt (chưa đặt ZALO_APP_ID...)'}\n"
        f"  Zalo Bot:   {'bật' if settings.zalo_bot_enabled else 'tắt (chưa đặt ZALO_BOT_TOKEN)'}\n"
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
    zalo_bot = _build_zalo_bot(settings, pipeline)
    zalo_oa = _build_zalo_oa(settings, pipeline)
    runner = await start_web(settings, pipeline, extra_routes=_mount_all(
        _telegram_routes(settings, telegram), _zalo_bot_routes(settings, zalo_bot),
        _zalo_oa_routes(zalo_oa)))
    leader = LeaderLock(url, settings.data_dir / "run")
    scheduler = build_scheduler(pipeline, leader, context_from_settings())
    await _start_telegram(telegram, pipeline, scheduler)
    await _start_zalo_bot(zalo_bot, scheduler)
    _start_zalo_oa(zalo_oa, scheduler)
    scheduler.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    log.info("bot_started", web_port=settings.web_port, telegram=settings.telegram_enabled,
             zalo_bot=settings.zalo_bot_enabled, zalo_oa=settings.zalo_oa_enabled)
    await stop.wait()
    scheduler.shutdown(wait=False)
    leader.release()
    if telegram is not None:  # finishes accepted updates; a webhook stays registered
        from bot.channels import telegram as telegram_channel

        await telegram_channel.stop(telegram)
    if zalo_bot is not None:  # finishes accepted updates; a webhook stays registered
        from bot.channels import zalo_bot as zalo_bot_channel

        await zalo_bot_channel.stop(zalo_bot)
    if zalo_oa is not None:  # finishes accepted events; later ones get 503 and come again
        from bot.channels import zalo_oa as zalo_oa_channel

        await zalo_oa_channel.stop(zalo_oa)
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


def _mount_all(*mounts):
    """One extra_routes for the web server out of each channel's (None: nothing to mount)."""
    present = [mount for mount in mounts if mount is not None]
    if not present:
        return None

    def mount_all(app) -> None:
        for mount in present:
            mount(app)

    return mount_all


def _build_zalo_bot(settings: Settings, pipeline: Pipeline):
    """The Zalo Bot Platform channel when ZALO_BOT_TOKEN is set."""
    if not settings.zalo_bot_enabled:
        return None
    from bot.channels import zalo_bot as zalo_bot_channel

    return zalo_bot_channel.build(settings, pipeline)


def _zalo_bot_routes(settings: Settings, channel):
    """POST /zalo-bot/webhook on the web server, in webhook mode only."""
    from bot.channels import zalo_bot as zalo_bot_channel

    if channel is None or not zalo_bot_channel.webhook_mode(settings):
        return None
    return zalo_bot_channel.webhook_routes(channel)


async def _start_zalo_bot(channel, scheduler: AsyncIOScheduler) -> None:
    """The webhook registered once the web server listens, or polling; the outbox is retried
    every few seconds."""
    if channel is None:
        return
    from bot.channels import zalo_bot as zalo_bot_channel

    await zalo_bot_channel.start(channel)
    add_outbox_delivery(scheduler, channel.sender, channel.pipeline)


def _build_zalo_oa(settings: Settings, pipeline: Pipeline):
    """The Zalo Official Account channel when its settings are there (seeds its account)."""
    if not settings.zalo_oa_enabled:
        return None
    from bot.channels import zalo_oa as zalo_oa_channel

    return zalo_oa_channel.build_channel(settings, pipeline)


def _zalo_oa_routes(channel):
    """POST /zalo/webhook on the web server."""
    if channel is None:
        return None
    from bot.channels import zalo_oa as zalo_oa_channel

    return zalo_oa_channel.webhook_routes(channel)


def _start_zalo_oa(channel, scheduler: AsyncIOScheduler) -> None:
    """The outbox retried every few seconds; the access token refreshed before it expires."""
    if channel is None:
        return
    add_outbox_delivery(scheduler, channel.sender, channel.pipeline)
    scheduler.add_job(channel.tokens.refresh_due, "interval", minutes=ZALO_TOKEN_CHECK_MINUTES,
                      id="zalo_oa_tokens", max_instances=1, coalesce=True)
