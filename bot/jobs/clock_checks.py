"""Clock checks: remind the officer at 75% of a clock, escalate to the unit head and leaders at
100%. Each mark is set once per clock, in the same transaction as its messages."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core.clocks import ESCALATE_AT, REMIND_AT, progress
from bot.core.context import CoreContext
from bot.core.notify import notify_clock
from bot.core.taxonomy import ActorType
from bot.core.tickets import Actor, record_event
from bot.store.models import Ticket, TicketClock

SYSTEM = Actor(ActorType.SYSTEM, None, "system")

JOB_NAME = "clock_checks"
PERIOD_MINUTES = 15


def check_clocks(session: Session, ctx: CoreContext) -> dict[str, Any]:
    now = ctx.clock()
    running = session.scalars(select(TicketClock).where(
        TicketClock.stopped_at.is_(None), TicketClock.paused_at.is_(None),
        TicketClock.escalated_at.is_(None)))
    reminded = escalated = 0
    for clock in running:
        share = progress(clock, now)
        ticket = session.get(Ticket, clock.ticket_id)
        if share >= ESCALATE_AT:
            _mark(session, ticket, clock, "escalation", ctx)
            clock.escalated_at = now
            escalated += 1
        elif share >= REMIND_AT and clock.reminded_at is None:
            _mark(session, ticket, clock, "reminder", ctx)
            clock.reminded_at = now
            reminded += 1
    return {"reminded": reminded, "escalated": escalated}


def _mark(session: Session, ticket: Ticket, clock: TicketClock, level: str,
          ctx: CoreContext) -> None:
    now = ctx.clock()
    record_event(session, ticket, SYSTEM, f"clock_{level}", now,
                 data={"clock": clock.name, "due_at": clock.due_at.isoformat()})
    notify_clock(session, ticket, clock.name, clock.due_at, level, now, ctx.tz,
                 period=clock_period(clock))


def clock_period(clock: TicketClock) -> str:
    """Names one period of a clock (its start and due moments): a reopened ticket's fresh
    period, or a deadline extended, gets its own reminder and escalation."""
    return f"{int(clock.started_at.timestamp())}-{int(clock.due_at.timestamp())}"
