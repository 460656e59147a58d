"""The leaders' figures, computed by SQL (definitions: docs/figures.md).

CONTRACT STUB (foundation commit): the FIG part replaces the bodies; the signatures are what
digests, reports, the dashboard and the public board call."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from bot.core.context import CoreContext
from bot.core.figures_model import Figures, OverdueItem, Period, Scope, TicketRow, WeekPoint


def ensure_calendar(session: Session, ctx: CoreContext) -> int:
    """Fill the work_calendar table from ctx's WorkCalendar (idempotent); rows written."""
    raise NotImplementedError


def scope_for(session: Session, unit_code: str | None = None, unit_id: int | None = None,
              area_id: int | None = None) -> Scope:
    """The scope of a unit (and every unit below it), or of everything when no unit is given;
    LookupError for an unknown unit code."""
    raise NotImplementedError


def compute(session: Session, scope: Scope, period: Period, ctx: CoreContext,
            now: datetime | None = None, with_previous: bool = True) -> Figures:
    """Every figure of docs/figures.md for the scope and period (and the previous period)."""
    raise NotImplementedError


def weekly_series(session: Session, scope: Scope, last_week: str, weeks: int,
                  ctx: CoreContext, now: datetime | None = None) -> list[WeekPoint]:
    """Received, resolved and on-time rates of `weeks` ISO weeks ending with `last_week`."""
    raise NotImplementedError


def overdue_tickets(session: Session, scope: Scope, at: datetime, limit: int = 5
                    ) -> tuple[list[OverdueItem], int]:
    """The oldest overdue non-confidential tickets at `at` (most days late first), and the
    number of overdue confidential tickets (counted, never listed)."""
    raise NotImplementedError


def ticket_rows(session: Session, scope: Scope, period: Period, ctx: CoreContext
                ) -> list[TicketRow]:
    """Non-confidential tickets received in the period or still open at its end, codes and
    dates only, for workbooks."""
    raise NotImplementedError
