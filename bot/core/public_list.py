"""The public board's pages as data: the published items (bot.core.public_board says which),
their search and filters, one item, and the commune's figures by month.

Only published items are read, with the columns the board shows plus what the privacy check
needs (the citizen's name, phone and words never leave this module). Each request reads the
published items once and filters, searches and pages them in Python: the search folds
diacritics over the summary and the answer shown (never the citizen's text, nor an answer the
board does not show, so a search cannot probe hidden words); every word must begin a word
there ("den duong" finds "Đèn đường"; "ong" does not find "trường"). Published items are the
ones an officer wrote a summary for, a few thousand over years for a commune; past tens of
thousands a folded column and SQL paging would be the next step."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.core import figures
from bot.core.context import CoreContext
from bot.core.figures_model import Period
from bot.core.public_board import PUBLISHED_STATUSES, summary_problem
from bot.core.taxonomy import CATEGORY_LABELS, Category, Kind
from bot.core.text import fold
from bot.store.models import Area, Citizen, OrgUnit, Ticket, TicketEvent

PER_PAGE = 20
MAX_QUERY = 200
EXCERPT_CHARS = 280
ANSWERED_TEXT = "Đã trả lời công dân."


@dataclass(frozen=True)
class BoardItem:
    code: str
    summary: str
    answer: str | None  # None: the answer did not pass the privacy check (ANSWERED_TEXT shown)
    unit: str
    unit_code: str
    category: str
    category_label: str
    area: str | None
    area_id: int | None
    received: str  # dd/mm/yyyy, local
    resolved: str
    month: str  # yyyy-mm of the resolution, local
    rating: int | None
    folded: str = field(repr=False, default="")

    @property
    def answer_excerpt(self) -> str | None:
        if self.answer is None or len(self.answer) <= EXCERPT_CHARS:
            return self.answer
        return self.answer[:EXCERPT_CHARS].rsplit(" ", 1)[0] + "…"


@dataclass
class BoardFilter:
    q: str = ""
    category: str = ""
    area: int | None = None
    unit: str = ""
    month: str = ""  # yyyy-mm
    page: int = 1

    @classmethod
    def from_query(cls, query: Any) -> BoardFilter:
        """From URL parameters; a value that does not parse is left out (never raises)."""
        def get(name: str) -> str:
            value = query.get(name)
            return value.strip() if isinstance(value, str) else ""

        area, page = get("area"), get("page")
        month = get("month")
        valid_month = len(month) == 7 and month[4] == "-" and month.replace("-", "").isdigit()
        return cls(q=get("q")[:MAX_QUERY],
                   category=get("category") if get("category") in Category._value2member_map_
                   else "",
                   area=int(area) if area.isdigit() and len(area) < 10 else None,
                   unit=get("unit")[:64], month=month if valid_month else "",
                   page=max(1, int(page)) if page.isdigit() and len(page) < 6 else 1)

    def query(self, **changes: Any) -> dict[str, str]:
        """The URL parameters of this filter (with `changes`), defaults left out."""
        values = {"q": self.q, "category": self.category, "area": self.area or "",
                  "unit": self.unit, "month": self.month, "page": self.page, **changes}
        return {k: str(v) for k, v in values.items()
                if v not in ("", None) and not (k == "page" and v == 1)}


@dataclass(frozen=True)
class Choice:
    value: str
    label: str


@dataclass
class BoardPage:
    items: list[BoardItem]
    total: int
    page: int
    pages: int
    categories: list[Choice]
    areas: list[Choice]
    units: list[Choice]
    months: list[Choice]


def _local_date(moment: datetime, ctx: CoreContext) -> date:
    return moment.astimezone(ctx.tz).date()


def _published(session: Session, ctx: CoreContext, code: str | None = None) -> list[BoardItem]:
    """Every published item (or the one with `code`), newest resolution first, each passing
    the privacy check as the board shows it."""
    resolved = (select(TicketEvent.ticket_id, func.max(TicketEvent.at).label("at"))
                .where(TicketEvent.to_status == "resolved")
                .group_by(TicketEvent.ticket_id).subquery())
    stmt = (select(Ticket.code, Ticket.public_summary, Ticket.answer_text, Ticket.text,
                   Ticket.category, Ticket.rating, Ticket.received_at, Ticket.area_id,
                   resolved.c.at, OrgUnit.name, OrgUnit.code, Area.name, Citizen.display_name,
                   Citizen.phone)
            .join(resolved, resolved.c.ticket_id == Ticket.id)
            .outerjoin(OrgUnit, OrgUnit.id == Ticket.unit_id)
            .outerjoin(Area, Area.id == Ticket.area_id)
            .outerjoin(Citizen, Citizen.id == Ticket.citizen_id)
            .where(Ticket.status.in_(PUBLISHED_STATUSES), Ticket.public_summary.is_not(None),
                   Ticket.public_summary != "", Ticket.public_hidden_at.is_(None),
                   Ticket.confidential.is_(False), Ticket.kind != Kind.TO_CAO.value,
                   Ticket.duplicate_of_id.is_(None))
            .order_by(resolved.c.at.desc(), Ticket.id.desc()))
    if code is not None:
        stmt = stmt.where(Ticket.code == code)
    items = []
    for (ticket_code, summary, answer, text, category, rating, received_at, area_id,
         resolved_at, unit, unit_code, area, name, phone) in session.execute(stmt):
        if summary_problem(summary, name, phone, text):
            continue  # e.g. the citizen gave this name after the summary was written
        shown = answer if answer and not summary_problem(answer, name, phone, text) else None
        resolved_day = _local_date(resolved_at, ctx)
        items.append(BoardItem(
            code=ticket_code, summary=summary, answer=shown, unit=unit or "", unit_code=unit_code
            or "", category=category, category_label=CATEGORY_LABELS.get(category, category),
            area=area, area_id=area_id,
            received=f"{_local_date(received_at, ctx):%d/%m/%Y}",
            resolved=f"{resolved_day:%d/%m/%Y}", month=f"{resolved_day:%Y-%m}", rating=rating,
            folded=fold(f"{summary} {shown or ''}")))
    return items


def _matches(item: BoardItem, filt: BoardFilter, words: list[str]) -> bool:
    return ((not filt.category or item.category == filt.category)
            and (filt.area is None or item.area_id == filt.area)
            and (not filt.unit or item.unit_code == filt.unit)
            and (not filt.month or item.month == filt.month)
            and all(re.search(rf"(?<!\w){re.escape(word)}", item.folded) for word in words))


def _choices(items: list[BoardItem]) -> tuple[list[Choice], ...]:
    categories = {i.category: i.category_label for i in items}
    areas = {str(i.area_id): i.area for i in items if i.area_id is not None and i.area}
    units = {i.unit_code: i.unit for i in items if i.unit_code}
    months = sorted({i.month for i in items}, reverse=True)
    return ([Choice(c.value, label) for c, label in CATEGORY_LABELS.items() if c in categories],
            [Choice(k, v) for k, v in sorted(areas.items(), key=lambda kv: kv[1])],
            [Choice(k, v) for k, v in sorted(units.items(), key=lambda kv: kv[1])],
            [Choice(m, f"Tháng {m[5:]}/{m[:4]}") for m in months])


def board(session: Session, filt: BoardFilter, ctx: CoreContext,
          per_page: int = PER_PAGE) -> BoardPage:
    """One page of the board for these filters and search words."""
    published = _published(session, ctx)
    words = fold(filt.q).split()
    found = [item for item in published if _matches(item, filt, words)]
    pages = max(1, math.ceil(len(found) / per_page))
    page = min(filt.page, pages)
    categories, areas, units, months = _choices(published)
    return BoardPage(found[(page - 1) * per_page:page * per_page], len(found), page, pages,
                     categories, areas, units, months)


def item(session: Session, code: str, ctx: CoreContext) -> BoardItem | None:
    """One published item; None for anything else (unknown, open, hidden, confidential...)."""
    found = _published(session, ctx, (code or "").strip().upper()[:40])
    return found[0] if found else None


@dataclass(frozen=True)
class MonthFigures:
    month: str  # yyyy-mm
    label: str  # 03/2026
    partial: bool  # the current month, counted up to now
    received: int
    resolved: int
    on_time_due: int  # resolve clocks that fell due in the month
    on_time_rate: float | None  # of those, closed within their deadline
    ratings: int
    satisfaction: float | None  # average of 1..5

    @property
    def on_time_percent(self) -> int | None:
        return None if self.on_time_rate is None else round(self.on_time_rate * 100)


def month_periods(today: date, months: int = 12) -> list[Period]:
    """The last `months` calendar months up to and including today's, newest first."""
    periods = []
    year, month = today.year, today.month
    for _ in range(months):
        start = date(year, month, 1)
        next_start = date(year + month // 12, month % 12 + 1, 1)
        periods.append(Period(start, date.fromordinal(next_start.toordinal() - 1)))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return periods


def monthly_figures(session: Session, ctx: CoreContext, now: datetime | None = None,
                    months: int = 12) -> list[MonthFigures]:
    """The commune's figures (everything the system holds, confidential tickets counted but
    never listed) for each of the last `months` months, by bot.core.figures.compute: received,
    resolved, the resolve clock's on-time rate and the average rating."""
    now = now or ctx.clock()
    today = now.astimezone(ctx.tz).date()
    scope = figures.scope_for(session)
    out = []
    for period in month_periods(today, months):
        result = figures.compute(session, scope, period, ctx, now=now, with_previous=False)
        totals, satisfaction = result.totals, result.satisfaction
        out.append(MonthFigures(
            month=f"{period.start:%Y-%m}", label=f"{period.start:%m/%Y}",
            partial=period.end >= today, received=totals.received, resolved=totals.resolved,
            on_time_due=totals.resolve.due, on_time_rate=totals.resolve.rate,
            ratings=satisfaction.ratings, satisfaction=satisfaction.average))
    return out


def commune_name(session: Session) -> str:
    """The commune the board speaks for (the first commune-level unit), for its heading."""
    name = session.scalar(select(OrgUnit.name).where(OrgUnit.level == "commune", OrgUnit.active)
                          .order_by(OrgUnit.id).limit(1))
    return name or "Nghe Dân"
