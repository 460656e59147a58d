"""The weekly digest job: run by the scheduler leader, once per ISO week (a `job_runs` row
keyed by the week), at DIGEST_WEEKDAY / DIGEST_TIME local time (default Monday 07:30
Asia/Ho_Chi_Minh); it covers the previous ISO week.

Every active leader gets the digest of their unit (and every unit below it), every active unit
head the one of their unit: a desk notice each (bot.core.notices.store_notice, key
"digest:<week>:<officer id>"), with its push, e-mail and chat deliveries. The digests and all
notices commit in one transaction: a crash before the commit leaves nothing (the next tick does
it all again), after it the deliveries are claimed rows (push, e-mail) and outbox rows (chat)
that are sent at least once, and a crash while sending repeats at most the part in flight.

The job makes the previous week's digest from the digest moment until the end of the current
week (Sunday 24:00): a week whose digest week passed with every process down is not made later
by the job; `nghedan digest --week ... --send` makes it by hand."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core import digest as digests
from bot.core.context import CoreContext
from bot.core.figures_model import week_of
from bot.core.notices import store_notice
from bot.core.taxonomy import Role
from bot.jobs.periodic import run_once
from bot.settings import Settings, load_settings
from bot.store.db import session_scope
from bot.store.models import JobRun, Officer, OfficerRole, OrgUnit

log = structlog.get_logger(__name__)

JOB_NAME = "weekly_digest"
ROLES = (Role.LEADER, Role.UNIT_HEAD)


def due_week(now: datetime, settings: Settings) -> str | None:
    """The week whose digest is due at `now`: the previous ISO week once this week's digest
    moment (weekday and local time) has passed, else None."""
    local = now.astimezone(settings.tz)
    monday = local.date() - timedelta(days=local.weekday())
    hour, minute = (int(part) for part in settings.digest_time.split(":"))
    moment = datetime.combine(monday + timedelta(days=settings.digest_weekday),
                              time(hour, minute), settings.tz)
    if local < moment:
        return None
    return week_of(monday - timedelta(days=7))


def notice_key(week: str, officer_id: int) -> str:
    return f"digest:{week}:{officer_id}"


def recipients(session: Session, unit_code: str | None = None) -> list[tuple[Officer, OrgUnit]]:
    """Active leaders and unit heads with the unit whose digest they get (their own unit: a
    digest's scope is a unit and every unit below it). With `unit_code`, only that unit's."""
    query = (select(Officer, OrgUnit).join(OrgUnit, OrgUnit.id == Officer.unit_id)
             .where(Officer.active, Officer.id.in_(
                 select(OfficerRole.officer_id).where(OfficerRole.role.in_(
                     [str(role) for role in ROLES]))))
             .order_by(Officer.id))
    if unit_code is not None:
        query = query.where(OrgUnit.code == unit_code)
    return [(officer, unit) for officer, unit in session.execute(query).all()]


def send_week(session: Session, week: str, ctx: CoreContext, now: datetime,
              unit_code: str | None = None) -> dict[str, Any]:
    """Make (or reuse) the digest of each recipient's unit for `week` and store one notice per
    recipient with its deliveries. Safe to repeat: digests are unique per (week, unit) and
    notices per key, so a second call adds nothing."""
    week = digests.normalize_week(week)
    settings = load_settings()
    made: dict[int, Any] = {}
    notices = 0
    for officer, unit in recipients(session, unit_code):
        if unit.id not in made:
            made[unit.id] = digests.get_or_make(session, week, unit, ctx, now,
                                                settings.desk_base_url)
        link = digests.digest_link(week, unit.code, settings.desk_base_url)
        text = digests.notice_text(made[unit.id], unit.name, link)
        store_notice(session, officer, None, "digest", text, notice_key(week, officer.id), now,
                     link)
        notices += 1
    return {"week": week, "digests": len(made), "notices": notices}


def _ran(db_url: str, week: str) -> bool:
    with session_scope(db_url) as session:
        return session.scalar(select(JobRun.job).where(JobRun.job == JOB_NAME,
                                                      JobRun.period_key == week)) is not None


def run_weekly(db_url: str, ctx: CoreContext, now: datetime | None = None,
               settings: Settings | None = None) -> dict[str, Any]:
    """The scheduler's call (leader only): the due week's digests and notices, once."""
    now = now or ctx.clock()
    week = due_week(now, settings or load_settings())
    if week is None or _ran(db_url, week):  # the common case: nothing to do this minute
        return {}
    result = run_once(db_url, JOB_NAME, week, now,
                      lambda session: send_week(session, week, ctx, now))
    if result:
        log.info("weekly_digest", **result)
    return {JOB_NAME: result} if result else {}
