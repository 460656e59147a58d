"""The desk's queue: tabs, filters and search over the tickets an officer may see, sorted urgent
first, then by the nearest running deadline. Everything is one or two SQL queries (no loop over
tickets in Python), so it stays fast with 100,000 tickets.

Who sees what follows bot/core/authz.py: an officer sees the tickets of their unit and those
assigned to them; a leader or admin their unit and every unit below it; a confidential ticket
(tố cáo) only denunciation handlers and the officer assigned to it. Others count confidential
tickets of their scope (`hidden_confidential`) but never see them listed."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, false, func, literal, or_, select, true
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from bot.core.authz import Caller, active_officer, roles_of
from bot.core.routing import OPEN_STATUSES
from bot.core.taxonomy import (
    CATEGORY_LABELS,
    KIND_LABELS,
    STATUS_LABELS,
    Category,
    Kind,
    Role,
    Status,
)
from bot.core.text import fold
from bot.store.models import Area, Officer, OrgUnit, Ticket

DEFAULT_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
TABS = ("mine", "unit", "triage", "overdue")
TAB_LABELS = {"mine": "Của tôi", "unit": "Đơn vị", "triage": "Bàn phân loại",
              "overdue": "Quá hạn"}
STATUS_ALL, STATUS_OPEN = "all", "open"  # besides the Status codes
SNIPPET_CHARS = 140
MAX_DUE_WITHIN_DAYS = 366


@dataclass(frozen=True)
class Tab:
    key: str
    label: str


@dataclass
class QueueFilter:
    tab: str = "mine"
    status: str | None = None  # None = open tickets; "all"; or a Status code
    category: str | None = None
    kind: str | None = None
    area_id: int | None = None
    unit_id: int | None = None
    due_within_days: int | None = None
    overdue: bool = False
    received_from: date | None = None
    received_to: date | None = None
    q: str = ""
    page: int = 1

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> QueueFilter:
        """From URL parameters; a value that does not parse is ignored (never raises)."""
        def get(name: str) -> str:
            value = query.get(name)
            return value.strip() if isinstance(value, str) else ""

        filt = cls()
        if get("tab") in TABS:
            filt.tab = get("tab")
        status = get("status")
        if status == STATUS_ALL or status in Status._value2member_map_:
            filt.status = status
        if get("category") in Category._value2member_map_:
            filt.category = get("category")
        if get("kind") in Kind._value2member_map_:
            filt.kind = get("kind")
        filt.area_id = _positive_int(get("area_id"))
        filt.unit_id = _positive_int(get("unit_id"))
        days = _positive_int(get("due_within_days"), allow_zero=True)
        filt.due_within_days = days if days is not None and days <= MAX_DUE_WITHIN_DAYS else None
        filt.overdue = get("overdue").lower() in ("1", "true", "on", "yes")
        filt.received_from = _date(get("received_from"))
        filt.received_to = _date(get("received_to"))
        filt.q = get("q")[:200]
        filt.page = _positive_int(get("page")) or 1
        return filt

    def to_query(self) -> dict[str, str]:
        """URL parameters holding this state: only the values that differ from the default."""
        out: dict[str, str] = {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if value == field.default:
                continue
            if isinstance(value, bool):
                out[field.name] = "1"
            elif isinstance(value, date):
                out[field.name] = value.isoformat()
            else:
                out[field.name] = str(value)
        return out


def _positive_int(text: str, allow_zero: bool = False) -> int | None:
    if not text.isdigit() or len(text) > 9:
        return None
    value = int(text)
    return value if value > 0 or (allow_zero and value == 0) else None


def _date(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


@dataclass(frozen=True)
class QueueRow:
    code: str
    status: str
    status_label: str
    kind_label: str
    category_label: str
    area_name: str | None
    unit_name: str | None
    officer_name: str | None
    urgent: bool
    due_at: datetime | None
    due_local: str
    overdue: bool
    received_local: str
    snippet: str
    confidential: bool = False


@dataclass(frozen=True)
class QueueResult:
    rows: list[QueueRow]
    counts: dict[str, int]
    total: int
    hidden_confidential: int
    page: int = 1
    pages: int = 1
    tab: str = "mine"


def local_text(moment: datetime | None, tz: ZoneInfo = DEFAULT_TZ) -> str:
    """"dd/mm/yyyy HH:MM" in local time, "" for None."""
    return moment.astimezone(tz).strftime("%d/%m/%Y %H:%M") if moment else ""


@dataclass(frozen=True)
class _Scope:
    """What an officer may see, as SQL conditions on Ticket."""

    officer: Officer
    units: frozenset[int]
    handler: bool
    is_triage_officer: bool

    @property
    def in_units(self) -> ColumnElement[bool]:
        return Ticket.unit_id.in_(sorted(self.units))

    @property
    def visible(self) -> ColumnElement[bool]:
        mine = Ticket.officer_id == self.officer.id
        normal = and_(Ticket.confidential.is_(False), or_(self.in_units, mine))
        secret = true() if self.handler else mine
        return or_(normal, and_(Ticket.confidential.is_(True), secret))

    @property
    def hidden(self) -> ColumnElement[bool]:
        """Confidential tickets of the caller's units the caller may not see."""
        if self.handler:
            return false()
        return and_(Ticket.confidential.is_(True), self.in_units,
                    or_(Ticket.officer_id.is_(None), Ticket.officer_id != self.officer.id))


def _scope(session: Session, caller: Caller) -> _Scope:
    officer = active_officer(session, caller)
    roles = roles_of(officer)
    tree = session.execute(select(OrgUnit.id, OrgUnit.parent_id, OrgUnit.is_triage)).all()
    units = {officer.unit_id}
    if roles & {Role.LEADER, Role.ADMIN}:  # their unit and every unit below (as authz)
        children: dict[int | None, list[int]] = {}
        for unit_id, parent_id, _ in tree:
            children.setdefault(parent_id, []).append(unit_id)
        frontier = [officer.unit_id]
        while frontier:
            for child in children.get(frontier.pop(), []):
                if child not in units:
                    units.add(child)
                    frontier.append(child)
    triage = any(is_triage for unit_id, _, is_triage in tree if unit_id == officer.unit_id)
    return _Scope(officer, frozenset(units), Role.DENUNCIATION_HANDLER in roles, triage)


def _tabs(scope: _Scope) -> list[Tab]:
    return [Tab(key, TAB_LABELS[key]) for key in TABS
            if key != "triage" or scope.is_triage_officer]


def tabs_for(session: Session, caller: Caller) -> list[Tab]:
    """The queue tabs of this officer; the triage desk only for officers of a triage unit."""
    return _tabs(_scope(session, caller))


def _open() -> ColumnElement[bool]:
    """Open tickets, with the statuses written out so the planner matches the partial indexes
    of the queue (ix_tickets_queue, ix_tickets_queue_scope) even with prepared statements."""
    return Ticket.status.in_([_code(s) for s in OPEN_STATUSES])


def _code(value: str):
    return literal(value, literal_execute=True)


def _overdue(now: datetime) -> ColumnElement[bool]:
    """next_due_at (kept by triggers on ticket_clocks) is the nearest deadline of a clock that
    runs, or was paused after its deadline passed: before now means late."""
    return Ticket.next_due_at < now


def _tab_condition(tab: str, scope: _Scope, now: datetime) -> ColumnElement[bool]:
    if tab == "mine":
        return Ticket.officer_id == scope.officer.id
    if tab == "unit":
        return scope.in_units
    if tab == "triage":
        triage_units = select(OrgUnit.id).where(OrgUnit.is_triage.is_(True))
        return and_(Ticket.unit_id.in_(triage_units), Ticket.status == _code(Status.RECEIVED))
    return _overdue(now)


def _status_condition(status: str | None) -> ColumnElement[bool]:
    if status == STATUS_ALL:
        return true()
    if status:  # a code of the taxonomy only (from_query checks; a hand-made filter too)
        return Ticket.status == _code(status) if status in Status._value2member_map_ else false()
    return _open()


def _filter_conditions(filt: QueueFilter, now: datetime,
                       tz: ZoneInfo) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = [_status_condition(filt.status)]
    for column, value in ((Ticket.category, filt.category), (Ticket.kind, filt.kind),
                          (Ticket.area_id, filt.area_id), (Ticket.unit_id, filt.unit_id)):
        if value is not None:
            conds.append(column == value)
    if filt.due_within_days is not None:
        # due by the end of the local day N days from today (0 = today)
        last_day = now.astimezone(tz).date() + timedelta(days=filt.due_within_days)
        conds.append(Ticket.next_due_at < _local_midnight(last_day + timedelta(days=1), tz))
    if filt.overdue:
        conds.append(_overdue(now))
    if filt.received_from:
        conds.append(Ticket.received_at >= _local_midnight(filt.received_from, tz))
    if filt.received_to:
        conds.append(Ticket.received_at < _local_midnight(filt.received_to, tz)
                     + timedelta(days=1))
    for word in fold(filt.q).split()[:8]:
        pattern = "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        conds.append(Ticket.search_text.like(pattern, escape="\\"))
    return conds


def _local_midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=tz)


def load_queue(session: Session, caller: Caller, filt: QueueFilter, now: datetime,
               page_size: int = 50, tz: ZoneInfo = DEFAULT_TZ) -> QueueResult:
    """One page of the caller's queue for `filt`, with the open-ticket count of every tab and
    the number of confidential tickets of their units they may not see (counted over open
    tickets without the filters, so a search cannot probe a hidden ticket's words)."""
    scope = _scope(session, caller)
    tabs = [t.key for t in _tabs(scope)]
    tab = filt.tab if filt.tab in tabs else tabs[0]

    def tally(cond: ColumnElement[bool]):
        return func.coalesce(func.sum(case((cond, 1), else_=0)), 0)

    # One pass over the open tickets of the caller's units (an index-only scan of
    # ix_tickets_queue_scope): every tab's count and the hidden confidential ones.
    *tab_counts, hidden = session.execute(
        select(*[tally(and_(scope.visible, _tab_condition(key, scope, now))) for key in tabs],
               tally(scope.hidden))
        .where(_open(), or_(scope.visible, scope.hidden))).one()
    counts = dict(zip(tabs, (int(n) for n in tab_counts), strict=True))

    filters = _filter_conditions(filt, now, tz)
    where = [scope.visible, _tab_condition(tab, scope, now), *filters]
    if len(filters) == 1 and filt.status is None:  # only "open": the tab's count is the total
        total = counts[tab]
    else:
        total = session.scalar(select(func.count()).select_from(Ticket).where(*where)) or 0
    pages = max(1, -(-total // page_size))
    page = min(max(filt.page, 1), pages)

    snippet = case((Ticket.confidential.is_(True), literal("")),
                   else_=func.substr(Ticket.text, 1, SNIPPET_CHARS + 1))
    query = (select(Ticket.code, Ticket.status, Ticket.kind, Ticket.category, Ticket.urgent,
                    Ticket.received_at, Ticket.confidential, snippet.label("snippet"),
                    Ticket.next_due_at, Area.name, OrgUnit.name, Officer.full_name)
             .outerjoin(Area, Area.id == Ticket.area_id)
             .outerjoin(OrgUnit, OrgUnit.id == Ticket.unit_id)
             .outerjoin(Officer, Officer.id == Ticket.officer_id)
             .where(*where)
             # the order of ix_tickets_queue, so a page of open tickets is an index scan
             .order_by(Ticket.urgent.desc(), Ticket.next_due_at.asc().nulls_last(),
                       Ticket.received_at, Ticket.id)
             .limit(page_size).offset((page - 1) * page_size))
    rows = [_row(r, now, tz) for r in session.execute(query)]
    return QueueResult(rows, counts, total, int(hidden), page, pages, tab)


def _row(r, now: datetime, tz: ZoneInfo) -> QueueRow:
    (code, status, kind, category, urgent, received_at, confidential, snippet, due_at,
     area_name, unit_name, officer_name) = r
    text = " ".join((snippet or "").split())
    if len(text) > SNIPPET_CHARS:
        text = text[:SNIPPET_CHARS].rsplit(" ", 1)[0] + "…"
    return QueueRow(
        code=code, status=status, status_label=STATUS_LABELS.get(status, status),
        kind_label=KIND_LABELS.get(kind, kind), category_label=CATEGORY_LABELS.get(category,
                                                                                   category),
        area_name=area_name, unit_name=unit_name, officer_name=officer_name,
        urgent=bool(urgent), due_at=due_at, due_local=local_text(due_at, tz),
        overdue=bool(due_at and due_at < now), received_local=local_text(received_at, tz),
        snippet=text, confidential=bool(confidential))


def latest_change(session: Session, caller: Caller) -> str:
    """A cheap token over the open tickets the caller may see (an index-only scan): it changes
    when one arrives, changes or leaves the open ones (the desk polls it: "Có đơn mới")."""
    scope = _scope(session, caller)
    count, last_id, last_update = session.execute(
        select(func.count(), func.max(Ticket.id), func.max(Ticket.updated_at))
        .where(_open(), scope.visible)).one()
    stamp = last_update.timestamp() if last_update else 0
    return f"{count}-{last_id or 0}-{stamp:.0f}"
