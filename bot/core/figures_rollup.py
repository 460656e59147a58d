"""Keeps the pre-aggregated figures (docs/figures.md, "Pre-aggregated figures"): every
ticket's facts (bot/core/figures_facts.py) in ticket_facts, and their sums by day and by
month in figure_rollup.

Database triggers (migration 0008) mark a ticket in figure_dirty whenever a row its facts are
made of changes, whatever code did it. `ensure()` runs before figures are read: it takes the
marked tickets, subtracts their stored facts from the sums, computes their facts again from
the live tables and adds them back, so the sums are always those of the committed data (a
retry after a crash recomputes, it never adds twice). One process does this at a time
(a PostgreSQL advisory lock; SQLite has one writer). A different work calendar (working-day
durations depend on it), or no sums yet, means a rebuild of everything."""

from __future__ import annotations

from collections.abc import Sequence

import structlog
from sqlalchemy import (
    case,
    delete,
    func,
    insert,
    literal,
    select,
    text,
    true,
    union_all,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bot.core import figures_facts as facts
from bot.core import figures_sql as q
from bot.core.context import CoreContext
from bot.store.report_models import WorkCalendarDay
from bot.store.rollup_models import FigureDirty, FigureRollup, FigureRollupState, TicketFact

log = structlog.get_logger(__name__)

ROLLUP_LOCK = 1100012  # PostgreSQL advisory lock: one process updates the sums at once
CHUNK = 2000  # tickets recomputed per round of a catch-up
# Figures without a breakdown by category and kind: summed by unit and area only, so their
# histograms stay small.
SCOPE_ONLY = ("duration_w", "duration_c", "extension", "extension_days", "extension_complex",
              "extension_ticket", "rating", "reopen_citizen", "reopen_ticket")
ROLLUP_KEY = ("grain", "measure", "day", "unit_id", "area_id", "category", "kind", "key",
              "value")
DAY, MONTH = 0, 1


def _lock(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ROLLUP_LOCK})


def calendar_fingerprint(session: Session) -> str:
    """What the stored work calendar is: any day changing between working and not shifts the
    working indexes after it, so their sum changes."""
    count, total, first, last = session.execute(
        select(func.count(), func.sum(WorkCalendarDay.working_index),
               func.min(WorkCalendarDay.day), func.max(WorkCalendarDay.day))).one()
    return f"{count}:{total}:{first}:{last}"


def ensure(session: Session, ctx: CoreContext) -> int:
    """Bring the sums up to date with the committed tickets (rebuild them when there are
    none yet or the work calendar changed). Call in the transaction that reads them. The
    number of tickets recomputed; -1 after a rebuild."""
    from bot.core.figures import ensure_calendar_filled

    ensure_calendar_filled(session, ctx)
    _lock(session)
    state = session.get(FigureRollupState, 1)
    if state is None or state.calendar != calendar_fingerprint(session):
        rebuild(session, ctx)
        return -1
    return catch_up(session, ctx)


def catch_up(session: Session, ctx: CoreContext) -> int:
    """Recompute the facts of every marked ticket; the number of tickets."""
    _lock(session)
    sql = q.Sql.of(session, ctx.tz)
    done = 0
    while True:
        ids = list(session.scalars(select(FigureDirty.ticket_id).distinct()
                                   .order_by(FigureDirty.ticket_id).limit(CHUNK)))
        if not ids:
            return done
        # Unmarked before the facts are read: a change committed in between stays marked
        # and is recomputed again next time.
        session.execute(delete(FigureDirty).where(FigureDirty.ticket_id.in_(ids)))
        _replace(session, sql, ids)
        done += len(ids)


def rebuild(session: Session, ctx: CoreContext) -> int:
    """Every ticket's facts and their sums from scratch; the number of facts."""
    from bot.core.figures import ensure_calendar_filled

    ensure_calendar_filled(session, ctx)
    _lock(session)
    q.prepare(session)
    sql = q.Sql.of(session, ctx.tz)
    session.execute(delete(FigureDirty))
    if sql.dialect == "postgresql":  # only the catch-up, under the lock, writes these two
        session.execute(text("TRUNCATE ticket_facts, figure_rollup"))
    else:
        session.execute(delete(TicketFact))
        session.execute(delete(FigureRollup))
    _insert_facts(session, sql, None)
    session.execute(insert(FigureRollup).from_select(ROLLUP_KEY + ("count",),
                                                     _sums(sql, None, 1)))
    session.execute(delete(FigureRollupState))
    session.add(FigureRollupState(id=1, calendar=calendar_fingerprint(session),
                                  built_at=ctx.clock()))
    session.flush()
    if sql.dialect == "postgresql":  # the planner's statistics of the new rows
        session.execute(text("ANALYZE ticket_facts, figure_rollup"))
    count = session.scalar(select(func.count()).select_from(TicketFact)) or 0
    log.info("figures_rollup_rebuilt", facts=count)
    return count


def _insert_facts(session: Session, sql: q.Sql, ids: Sequence[int] | None) -> None:
    session.execute(insert(TicketFact).from_select(facts.FACT_COLUMNS,
                                                   facts.simple_facts(sql, ids)))
    # Overdue facts are computed from the open facts just written.
    session.execute(insert(TicketFact).from_select(facts.FACT_COLUMNS,
                                                   facts.overdue_facts(sql, ids)))


def _replace(session: Session, sql: q.Sql, ids: Sequence[int]) -> None:
    """Take the tickets' stored facts out of the sums, compute them again, add them back."""
    _add_to_sums(session, sql, ids, -1)
    session.execute(delete(TicketFact).where(TicketFact.ticket_id.in_(list(ids))))
    _insert_facts(session, sql, ids)
    _add_to_sums(session, sql, ids, 1)


def _add_to_sums(session: Session, sql: q.Sql, ids: Sequence[int], sign: int) -> None:
    dialect_insert = postgresql.insert if sql.dialect == "postgresql" else sqlite.insert
    statement = dialect_insert(FigureRollup).from_select(ROLLUP_KEY + ("count",),
                                                         _sums(sql, ids, sign))
    statement = statement.on_conflict_do_update(
        index_elements=list(ROLLUP_KEY),
        set_={"count": FigureRollup.count + statement.excluded.count})
    session.execute(statement)


def _sums(sql: q.Sql, ids: Sequence[int] | None, sign: int):
    """The tickets' facts summed by day and by month, times `sign`."""
    f = TicketFact
    scope_only = f.measure.in_(SCOPE_ONLY)
    category = case((scope_only, literal("")), else_=f.category)
    kind = case((scope_only, literal("")), else_=f.kind)
    grains = []
    for grain, day in ((DAY, f.day), (MONTH, sql.month_start(f.day))):
        keys = [f.measure, day, f.unit_id, f.area_id, category, kind, f.key, f.value]
        grains.append(
            select(literal(grain).label("grain"), *(k.label(n) for k, n in
                                                      zip(keys, ROLLUP_KEY[1:], strict=True)),
                   (func.sum(f.count) * sign).label("count"))
            .where(facts._only(f.ticket_id, ids)).group_by(*keys))
    both = union_all(*grains).subquery("sums")
    # WHERE: SQLite reads "INSERT ... SELECT ... ON CONFLICT" unambiguously only with one.
    return select(*both.c).where(true())
