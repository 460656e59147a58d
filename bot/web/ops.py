"""Operations: /metrics (Prometheus text format) and /health (the state of each part).

/metrics is open when METRICS_TOKEN is empty (keep the port internal then), else it asks for
`Authorization: Bearer <token>`. /health answers 200 while the database does (the parts that
are not well are listed in "degraded") and 503 when the database does not; its "rasa" key is
what `nghedan up` waits for. Metric names and meanings: docs/deploy.md, "Operations"."""

from __future__ import annotations

import asyncio
import hmac
import time
from collections.abc import Awaitable
from datetime import datetime, timedelta
from typing import Any

import httpx
import structlog
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from bot.dialogue.pipeline import Pipeline
from bot.jobs import clock_checks
from bot.jobs.leader import LOCK_KEY
from bot.settings import Settings
from bot.store.db import session_scope
from bot.web.ops_metrics import (
    PULLED_CHANNELS,
    build_registry,
    failed_since,
    last_run,
    outbox_pending,
)

log = structlog.get_logger(__name__)

OPS_REGISTRY = web.AppKey("ops_registry", CollectorRegistry)
OPS_SETTINGS = web.AppKey("ops_settings", Settings)
OPS_PIPELINE = web.AppKey("ops_pipeline", Pipeline)

CHECK_TIMEOUT = 3.0  # seconds for each part: a hung part must not hang the health check
DATABASE_TIMEOUT = 5.0
# The leader checks clocks every 15 minutes (its tick is a minute): two periods without a run
# means no process is leading.
SCHEDULER_LATE = timedelta(minutes=2 * clock_checks.PERIOD_MINUTES + 1)
OUTBOX_LATE = timedelta(minutes=5)  # a pushed message due this long and not sent: stuck
FAILED_WINDOW = timedelta(hours=24)
# pg_try_advisory_lock(bigint) shows in pg_locks as classid (high 32 bits), objid, objsubid 1.
LEADER_HELD = text(
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1 "
    "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
    "AND ((classid::bigint << 32) | objid::bigint) = :key")


def setup_ops(app: web.Application, settings: Settings, pipeline: Pipeline) -> None:
    app[OPS_REGISTRY] = build_registry(pipeline.db_url, pipeline.clock)
    app[OPS_SETTINGS] = settings
    app[OPS_PIPELINE] = pipeline
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/health", health)


def _authorized(request: web.Request, token: str) -> bool:
    if not token:
        return True
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    # Constant time, so the token cannot be guessed byte by byte from response times.
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(),
                                                              token.encode())


async def metrics(request: web.Request) -> web.Response:
    if not _authorized(request, request.app[OPS_SETTINGS].metrics_token):
        return web.Response(status=401, text="Unauthorized\n",
                            headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
    # The collector queries the database: off the event loop, so chats are not held up.
    body = await asyncio.to_thread(generate_latest, request.app[OPS_REGISTRY])
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST,
                                            "Cache-Control": "no-store"})


async def health(request: web.Request) -> web.Response:
    settings, pipeline = request.app[OPS_SETTINGS], request.app[OPS_PIPELINE]
    stored, rasa, actions = await asyncio.gather(
        _bounded(asyncio.to_thread(_database_parts, pipeline.db_url, pipeline.clock()),
                 DATABASE_TIMEOUT, {"database": {"state": "down", "error": "timeout"}}),
        _bounded(pipeline.rasa.is_ready(), CHECK_TIMEOUT, False),
        _action_server(settings.action_server_port))
    body: dict[str, Any] = {"rasa": "ready" if rasa else "starting", **stored,
                            "action_server": actions, "channels": _channels(settings)}
    states = {"database": stored["database"]["state"] == "up", "rasa": rasa,
              "action_server": actions["state"] == "up",
              "scheduler": body.get("scheduler", {}).get("state") == "ok",
              "outbox": body.get("outbox", {}).get("state") == "ok"}
    body["degraded"] = [name for name, fine in states.items() if not fine]
    body["ok"] = not body["degraded"]
    status = 200 if states["database"] else 503
    return web.json_response(body, status=status, headers={"Cache-Control": "no-store"})


async def _bounded(work: Awaitable[Any], seconds: float, fallback: Any) -> Any:
    try:
        return await asyncio.wait_for(work, seconds)
    except TimeoutError:
        return fallback


def _database_parts(db_url: str, now: datetime) -> dict[str, Any]:
    """The database (SELECT 1, timed), then what only it knows: the scheduler and the outbox."""
    started = time.perf_counter()
    try:
        with session_scope(db_url) as session:
            session.execute(text("SELECT 1"))
            database = {"state": "up", "backend": make_url(db_url).get_backend_name(),
                        "ms": round((time.perf_counter() - started) * 1000, 1)}
            return {"database": database, "scheduler": _scheduler(session, db_url, now),
                    "outbox": _outbox(session, now)}
    except SQLAlchemyError as error:
        log.warning("health_database_unavailable", error=type(error).__name__)
        return {"database": {"state": "down", "error": type(error).__name__}}


def _scheduler(session, db_url: str, now: datetime) -> dict[str, Any]:
    """The clock checks' latest run says a leader is at work. On PostgreSQL the advisory lock
    itself is visible to every process (SQLite's lock file cannot be read without taking it)."""
    at = last_run(session, clock_checks.JOB_NAME)
    part: dict[str, Any] = {"last_job": clock_checks.JOB_NAME}
    if at is None:
        part["state"] = "never"
    else:
        age = (now - at).total_seconds()
        part.update(state="ok" if now - at <= SCHEDULER_LATE else "late",
                    last_run=at.isoformat(), age_seconds=round(max(age, 0.0)))
    if make_url(db_url).get_backend_name() == "postgresql":
        held = session.scalar(LEADER_HELD, {"key": LOCK_KEY})
        part["leader"] = "held" if held else "free"
    return part


def _outbox(session, now: datetime) -> dict[str, Any]:
    """Messages waiting to go out. The web chat's wait for the visitor's page to ask, so only
    pushed channels (Telegram) can be stuck."""
    pending = outbox_pending(session, now)
    oldest = {channel: round((now - row.oldest_pending).total_seconds())
              for channel, row in pending.items() if row.oldest_pending is not None}
    stuck = [channel for channel, row in pending.items() if channel not in PULLED_CHANNELS
             and row.due and row.oldest_pending is not None
             and now - row.oldest_pending > OUTBOX_LATE]
    return {"state": "stuck" if stuck else "ok", "stuck_channels": stuck,
            "backlog": {channel: row.due for channel, row in pending.items()},
            "oldest_pending_seconds": oldest,
            "failed_24h": failed_since(session, now - FAILED_WINDOW)}


async def _action_server(port: int) -> dict[str, Any]:
    """The action server (rasa_sdk) answers GET /health on 127.0.0.1 (`nghedan up` binds it
    there)."""
    url = f"http://127.0.0.1:{port}/health"
    started = time.perf_counter()
    try:
        async with httpx.AsyncClient(timeout=CHECK_TIMEOUT) as client:
            response = await client.get(url)
    except httpx.HTTPError as error:
        return {"state": "down", "port": port, "error": type(error).__name__}
    ms = round((time.perf_counter() - started) * 1000, 1)
    if response.status_code != 200:
        return {"state": "down", "port": port, "error": f"HTTP {response.status_code}"}
    return {"state": "up", "port": port, "ms": ms}


def _channels(settings: Settings) -> dict[str, str]:
    telegram = "off"
    if settings.telegram_enabled:
        from bot.channels.telegram import webhook_mode  # python-telegram-bot: only when on

        telegram = "webhook" if webhook_mode(settings) else "polling"
    zalo = "webhook" if settings.zalo_oa_enabled else "off"  # the OA (bot.channels.zalo_oa)
    zalo_bot = "off"
    if settings.zalo_bot_enabled:
        from bot.channels.zalo_bot import webhook_mode as zalo_bot_webhook

        zalo_bot = "webhook" if zalo_bot_webhook(settings) else "polling"
    return {"web": "on", "telegram": telegram, "zalo": zalo, "zalo_bot": zalo_bot,
            "public_board": "on" if settings.public_board else "off"}

