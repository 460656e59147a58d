"""A seeded history for the leaders' figures, made through the real core calls with a clock
moved by hand over April..September 2026 (Giỗ Tổ 26/4 with its nghỉ bù 27/4, 30/4-1/5, and
Quốc khánh 1-2/9), on the demo commune (the `db_url` fixture).

Besides the database, the builder keeps a plain-Python record of what it did: each ticket's
status events and its clock periods, derived by the rules of clocks.yml written out again
here with the Python WorkCalendar (no SQL). tests/figures_expected.py computes the expected
figures from that record; tests/test_figures_history.py checks the record against the
stored clocks. Other parts' tests reuse it:

    history = seed_history(db_url)          # ~25 tickets, a few seconds
    history.code("road")                    # KN-2026-...
    expected_figures(history, period, now)  # tests/figures_expected.py
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import create_engine, select, text

from bot.core import desk
from bot.core.context import CoreContext
from bot.core.org import load_demo
from bot.core.taxonomy import ActorType, Status
from bot.core.tickets import Actor, TicketDraft, change_status, create_ticket
from bot.core.tickets import return_from_need_info as answer_question
from bot.core.workdays import WorkCalendar
from bot.store.db import engine_for, session_scope
from bot.store.migrate import upgrade
from bot.store.models import Area, OrgUnit, Ticket
from tests.conftest import POSTGRES_URL
from tests.helpers import NOW, TZ, TestClock, officer

CITIZEN = Actor(ActorType.CITIZEN, None, "web")
WORKING, CALENDAR, HOURS = "working_days", "calendar_days", "hours"
URGENT_HOURS = 4  # CoreContext.urgent_accept_hours
REMOTE_AREAS = {"xom-bai"}
# clocks.yml, written out again: kind -> clock -> (unit, days, complex, remote, remote complex)
TERMS = {
    "phan_anh": {"accept": (WORKING, 10, None, None, None),
                 "resolve": (WORKING, 7, None, None, None)},
    "khieu_nai": {"accept": (CALENDAR, 10, None, None, None),
                  "resolve": (CALENDAR, 30, 45, 45, 60)},
    "to_cao": {"accept": (WORKING, 7, None, None, None),
               "resolve": (CALENDAR, 30, None, None, None)},
}
TERMS["kien_nghi"] = TERMS["phan_anh"]
START = {"accept": "received", "resolve": "accepted"}
STOP = {"accept": {"accepted", "assigned", "in_progress", "resolved", "rejected",
                   "transferred", "withdrawn"},
        "resolve": {"resolved", "rejected", "transferred", "withdrawn"}}
PAUSE = {"accept": set(), "resolve": {"need_info"}}


def local(day: date, hour: int = 9, minute: int = 0) -> datetime:
    """A local (Asia/Ho_Chi_Minh) moment as aware UTC."""
    return datetime.combine(day, time(hour, minute), TZ).astimezone(UTC)


END = local(date(2026, 9, 15), 12)  # the history's last moment


@dataclass
class Clock:
    """One clock period as the history made it."""

    name: str
    unit: str
    started: datetime
    due: datetime
    stopped: datetime | None = None
    stopped_by: str | None = None
    paused: datetime | None = None


@dataclass
class Event:
    at: datetime
    to_status: str | None
    action: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class Story:
    """One ticket: what it is, where it belongs now, what happened to it."""

    name: str
    code: str
    kind: str
    category: str
    area: str | None
    unit: str
    received: datetime
    needs_triage: bool
    confidential: bool
    urgent: bool = False
    is_complex: bool = False
    duplicate: bool = False
    status: str = "received"
    events: list[Event] = field(default_factory=list)
    clocks: dict[str, Clock] = field(default_factory=dict)  # current periods
    past: list[Clock] = field(default_factory=list)  # periods a reopen replaced

    @property
    def periods(self) -> list[Clock]:
        return [*self.past, *self.clocks.values()]


@dataclass
class History:
    url: str
    ctx: CoreContext
    end: datetime
    stories: dict[str, Story]
    calendar: WorkCalendar

    def code(self, name: str) -> str:
        return self.stories[name].code


class Builder:
    """Each step: the core call at the clock's time, and the same step in the record."""

    def __init__(self, session, ctx: CoreContext, clock: TestClock) -> None:
        self.session, self.ctx, self.clock = session, ctx, clock
        self.calendar = ctx.clocks.calendar
        self.stories: dict[str, Story] = {}

    # --- time and the record ----------------------------------------------------------
    def when(self, day: date, hour: int = 9, minute: int = 0) -> Builder:
        moment = local(day, hour, minute)
        assert moment >= self.clock.now, "the history moves forward only"
        self.clock.now = moment
        return self

    def _deadline(self, unit: str, start: datetime, days: int) -> datetime:
        if unit == HOURS:
            return start + timedelta(hours=days)
        if unit == WORKING:
            return self.calendar.add_working_days(start, days, TZ)
        return self.calendar.add_calendar_days(start, days, TZ)

    def _new_clock(self, story: Story, name: str, now: datetime) -> Clock:
        unit, days, complex_days, remote, remote_complex = TERMS[story.kind][name]
        far = story.area in REMOTE_AREAS
        if name == "accept" and story.urgent:
            unit, days = HOURS, URGENT_HOURS
        elif far and story.is_complex and remote_complex:
            days = remote_complex
        elif far and remote:
            days = remote
        elif story.is_complex and complex_days:
            days = complex_days
        return Clock(name, unit, now, self._deadline(unit, now, days))

    def _resume(self, clock: Clock, now: datetime) -> None:
        if clock.paused is None:
            return
        if clock.unit == WORKING:
            lost = self.calendar.working_days_between(clock.paused, now, TZ)
            clock.due = self.calendar.add_working_days(clock.due, lost, TZ) if lost else clock.due
        else:
            clock.due += now - clock.paused
        clock.paused = None

    def _record(self, story: Story, status: str, action: str | None = None,
                data: dict | None = None) -> None:
        now = self.clock.now
        reopening = story.status in ("resolved", "closed") and status == "in_progress"
        moved = "accepted" if reopening else status
        for name in ("accept", "resolve"):
            clock = story.clocks.get(name)
            if moved == START[name] and (clock is None or reopening):
                if clock is not None:
                    story.past.append(replace(clock, stopped=clock.stopped or now,
                                              stopped_by=clock.stopped_by or "restarted"))
                story.clocks[name] = self._new_clock(story, name, now)
            elif clock is None or clock.stopped is not None:
                continue
            elif moved in STOP[name]:
                self._resume(clock, now)
                clock.stopped, clock.stopped_by = now, moved
            elif moved in PAUSE[name]:
                clock.paused = clock.paused or now
            elif clock.paused is not None:
                self._resume(clock, now)
        story.status = status
        story.events.append(Event(now, status, action or status, data or {}))

    def _ticket(self, name: str) -> Ticket:
        code = self.stories[name].code
        return self.session.scalar(select(Ticket).where(Ticket.code == code))

    # --- citizens ---------------------------------------------------------------------
    def file(self, name: str, kind: str, category: str, area: str | None = None,
             needs_triage: bool = False, urgent: bool = False) -> Builder:
        area_id = (self.session.scalar(select(Area.id).where(Area.code == area))
                   if area else None)
        ticket = create_ticket(self.session, TicketDraft(
            text=f"Phản ánh thử nghiệm {name}", channel="web", category=category, kind=kind,
            area_id=area_id, needs_triage=needs_triage, urgent=urgent), CITIZEN, self.ctx)
        unit = self.session.get(OrgUnit, ticket.unit_id).code  # routing is not under test
        story = Story(name, ticket.code, kind, category, area, unit, self.clock.now,
                      needs_triage, confidential=kind == "to_cao", urgent=urgent)
        self.stories[name] = story
        story.clocks["accept"] = self._new_clock(story, "accept", self.clock.now)
        story.events.append(Event(self.clock.now, "received", "created"))
        return self

    def _citizen_move(self, name: str, status: Status, action: str | None = None,
                      data: dict | None = None) -> Builder:
        change_status(self.session, self._ticket(name), status, CITIZEN, self.ctx,
                      action=action, data=data)
        self._record(self.stories[name], status.value, action, data)
        return self

    def withdraw(self, name: str) -> Builder:
        return self._citizen_move(name, Status.WITHDRAWN)

    def rate(self, name: str, stars: int) -> Builder:
        """As bot.core.service.rate: the rating closes the resolved ticket."""
        self._ticket(name).rating = stars
        return self._citizen_move(name, Status.CLOSED, "rated", {"rating": stars})

    def not_satisfied(self, name: str) -> Builder:
        """As bot.core.service.reopen_not_satisfied ("Chưa hài lòng")."""
        return self._citizen_move(name, Status.IN_PROGRESS, "reopened",
                                  {"by": "citizen", "escalated": False})

    def answer(self, name: str) -> Builder:
        """The citizen answers a question: back to the status it interrupted."""
        ticket = self._ticket(name)
        back = ticket.status_before_info
        answer_question(self.session, ticket, CITIZEN, self.ctx, data={"attachments": 0})
        self._record(self.stories[name], back, "information_added")
        return self

    # --- officers ---------------------------------------------------------------------
    def _caller(self, username: str):
        return officer(self.session, username)

    def accept(self, name: str, who: str, kind: str | None = None,
               category: str | None = None, is_complex: bool = False) -> Builder:
        story = self.stories[name]
        story.kind, story.category = kind or story.kind, category or story.category
        story.is_complex = is_complex
        story.confidential = story.confidential or story.kind == "to_cao"
        desk.accept(self.session, self._caller(who), story.code, self.ctx, kind=story.kind,
                    category=story.category, is_complex=is_complex)
        self._record(story, "accepted")
        return self

    def assign(self, name: str, who: str) -> Builder:
        desk.assign(self.session, self._caller(who), self.code(name), self.ctx)
        self._record(self.stories[name], "assigned")
        return self

    def start(self, name: str, who: str) -> Builder:
        desk.start_work(self.session, self._caller(who), self.code(name), self.ctx)
        self._record(self.stories[name], "in_progress")
        return self

    def ask(self, name: str, who: str) -> Builder:
        desk.ask_for_information(self.session, self._caller(who), self.code(name), self.ctx,
                                 "Ông/Bà vui lòng cho biết vị trí cụ thể.")
        self._record(self.stories[name], "need_info")
        return self

    def resolve(self, name: str, who: str) -> Builder:
        desk.resolve(self.session, self._caller(who), self.code(name), self.ctx,
                     "Đã kiểm tra và xử lý xong.")
        self._record(self.stories[name], "resolved")
        return self

    def reject(self, name: str, who: str) -> Builder:
        desk.reject(self.session, self._caller(who), self.code(name), self.ctx,
                    "Không thuộc thẩm quyền của xã.", "Sở Tư pháp tỉnh")
        self._record(self.stories[name], "rejected")
        return self

    def outside(self, name: str, who: str) -> Builder:
        desk.transfer_outside(self.session, self._caller(who), self.code(name), self.ctx,
                              "Bảo hiểm xã hội tỉnh", "Thuộc thẩm quyền cơ quan BHXH.")
        self._record(self.stories[name], "transferred")
        return self

    def reopen(self, name: str, who: str) -> Builder:
        desk.reopen(self.session, self._caller(who), self.code(name), self.ctx,
                    "Kiểm tra lại thấy chưa xử lý dứt điểm.")
        self._record(self.stories[name], "in_progress", "reopened")
        return self

    def transfer(self, name: str, who: str, unit: str) -> Builder:
        desk.transfer_to_unit(self.session, self._caller(who), self.code(name), self.ctx,
                              unit, "Đúng lĩnh vực của phòng.")
        self.stories[name].unit = unit
        self.stories[name].events.append(Event(self.clock.now, None, "transferred_unit"))
        return self

    def duplicate(self, name: str, of: str, who: str) -> Builder:
        desk.link_duplicate(self.session, self._caller(who), self.code(name), self.ctx,
                            self.code(of))
        story, now = self.stories[name], self.clock.now
        story.duplicate = True
        for clock in story.clocks.values():
            if clock.stopped is None:
                clock.paused, clock.stopped, clock.stopped_by = None, now, "duplicate"
        story.events.append(Event(now, None, "linked_duplicate"))
        return self

    def extend(self, name: str, who: str, days: int, especially_complex: bool) -> Builder:
        desk.extend_resolve_clock(self.session, self._caller(who), self.code(name), self.ctx,
                                  days, "15/QĐ-UBND", "Cần xác minh thêm tại nhiều nơi.",
                                  especially_complex=especially_complex)
        story = self.stories[name]
        story.clocks["resolve"].due += timedelta(days=days)
        story.events.append(Event(self.clock.now, None, "resolve_clock_extended",
                                  {"days": days, "especially_complex": especially_complex}))
        return self

    def code(self, name: str) -> str:
        return self.stories[name].code


def seed_history(db_url: str) -> History:
    """The history (see the module docstring) in `db_url`, which has the demo commune."""
    clock = TestClock(local(date(2026, 4, 20), 7))
    ctx = CoreContext.build(TZ, "KN", clock)
    with session_scope(db_url) as session:
        builder = Builder(session, ctx, clock)
        _april(builder)
        _may(builder)
        _summer(builder)
    clock.now = END
    return History(db_url, ctx, END, builder.stories, ctx.clocks.calendar)


def _april(b: Builder) -> None:
    d = date
    b.when(d(2026, 4, 20), 8).file("urgent", "phan_anh", "an_ninh_trat_tu", "tdp-1", urgent=True)
    b.when(d(2026, 4, 20), 9).file("road", "phan_anh", "ha_tang", "thon-3")
    b.when(d(2026, 4, 20), 9, 30).file("trash", "phan_anh", "moi_truong", "thon-1")
    b.when(d(2026, 4, 20), 10).file("denounce", "to_cao", "can_bo", "thon-dong")
    b.when(d(2026, 4, 20), 10, 30).file("late_withdraw", "phan_anh", "dat_dai", "thon-2")
    b.when(d(2026, 4, 20), 11).file("late_dup", "phan_anh", "moi_truong", "thon-1")
    b.accept("urgent", "congan")  # 3 hours: in time on an hours clock
    b.when(d(2026, 4, 20), 14).file("triage", "phan_anh", "khac", None, needs_triage=True)
    b.when(d(2026, 4, 20), 15).file("urgent_late", "phan_anh", "an_ninh_trat_tu", "thon-2",
                                    urgent=True)
    b.when(d(2026, 4, 21), 8, 30).accept("road", "truongkt").assign("road", "truongkt")
    b.start("road", "kinhte")
    b.when(d(2026, 4, 21), 9).file("noise", "phan_anh", "an_ninh_trat_tu", "tdp-1")
    b.when(d(2026, 4, 21), 9, 30).file("dup", "phan_anh", "ha_tang", "thon-3")
    b.when(d(2026, 4, 21), 10).transfer("triage", "tiepnhan", "xa-an-binh-kinh-te")
    b.accept("urgent_late", "congan")  # 19 hours: late
    b.when(d(2026, 4, 22), 9).accept("trash", "truongkt").duplicate("dup", "road", "truongkt")
    b.when(d(2026, 4, 22), 9, 30).file("withdraw", "phan_anh", "ha_tang", "thon-1")
    b.when(d(2026, 4, 22), 10).accept("triage", "truongkt", category="ha_tang")
    b.when(d(2026, 4, 23), 9).file("land", "khieu_nai", "dat_dai", "thon-2")
    b.when(d(2026, 4, 23), 10).accept("withdraw", "truongkt")
    b.when(d(2026, 4, 24), 9).file("remote", "khieu_nai", "xay_dung_do_thi", "xom-bai")
    # Monday 27/4 is the nghỉ bù of Giỗ Tổ (Sunday 26/4): officers may still work.
    b.when(d(2026, 4, 27), 10).accept("remote", "truongkt", is_complex=True)
    b.when(d(2026, 4, 27), 10, 30).file("reject", "kien_nghi", "thu_tuc_hanh_chinh", "thon-1")
    b.when(d(2026, 4, 28), 9).accept("denounce", "chutich")
    b.when(d(2026, 4, 28), 10).withdraw("withdraw")  # before its resolve deadline: left out
    b.when(d(2026, 4, 28), 10, 30).file("outside", "phan_anh", "chinh_sach_xa_hoi", "thon-2")
    b.when(d(2026, 4, 29), 9).reject("reject", "motcua")
    b.when(d(2026, 4, 29), 10).accept("outside", "vanhoa")
    b.when(d(2026, 4, 29), 15).resolve("road", "kinhte")
    b.when(d(2026, 4, 30), 8).rate("road", 5)  # a holiday: citizens rate any day


def _may(b: Builder) -> None:
    d = date
    b.when(d(2026, 5, 4), 9).file("info", "phan_anh", "y_te_giao_duc", "thon-dong")
    b.when(d(2026, 5, 4), 9, 30).file("paused_late", "phan_anh", "moi_truong", "thon-3")
    b.when(d(2026, 5, 4), 10).accept("paused_late", "truongkt")
    b.when(d(2026, 5, 4), 10, 30).accept("land", "truongkt")  # calendar clock: 1 day late
    b.when(d(2026, 5, 5), 9).file("denounce2", "to_cao", "dat_dai", "tdp-1")
    b.accept("info", "vanhoa")
    b.when(d(2026, 5, 5), 11).file("proposal", "kien_nghi", "ha_tang", "xom-bai")
    b.when(d(2026, 5, 6), 9).ask("info", "vanhoa").accept("proposal", "truongkt")
    b.when(d(2026, 5, 6), 10).outside("outside", "vanhoa")
    b.when(d(2026, 5, 8), 16).resolve("proposal", "kinhte")
    b.when(d(2026, 5, 9), 8).rate("proposal", 5)
    b.when(d(2026, 5, 11), 9).answer("info")  # back to accepted: not a second acceptance
    b.when(d(2026, 5, 11), 9, 30).file("paused_ok", "phan_anh", "chinh_sach_xa_hoi", "thon-1")
    b.when(d(2026, 5, 11), 10).accept("paused_ok", "vanhoa")
    b.when(d(2026, 5, 11), 10, 30).file("info_first", "phan_anh", "ha_tang", "thon-2")
    b.when(d(2026, 5, 12), 9).withdraw("late_withdraw")  # after its accept deadline: late
    b.accept("noise", "congan")  # accept deadline 8/5: late
    b.when(d(2026, 5, 12), 9, 30).ask("paused_ok", "vanhoa")  # paused in time, never answered
    b.when(d(2026, 5, 12), 10).ask("info_first", "truongkt")  # asked before acceptance
    b.when(d(2026, 5, 13), 9).duplicate("late_dup", "trash", "truongkt")  # after its deadline
    b.when(d(2026, 5, 13), 10).answer("info_first")
    b.when(d(2026, 5, 14), 9).accept("info_first", "truongkt")
    b.when(d(2026, 5, 14), 10).resolve("noise", "congan")
    b.when(d(2026, 5, 14), 11).resolve("info", "vanhoa")  # deadline moved by the pause
    b.when(d(2026, 5, 15), 16).resolve("trash", "kinhte")  # late
    b.when(d(2026, 5, 15), 17).rate("noise", 3)
    b.when(d(2026, 5, 16), 9).not_satisfied("trash")  # "Chưa hài lòng": a new resolve period
    b.when(d(2026, 5, 18), 9).resolve("triage", "kinhte")  # late
    b.when(d(2026, 5, 18), 10).rate("info", 4)
    b.when(d(2026, 5, 20), 9).ask("paused_late", "truongkt")  # paused after its deadline
    b.when(d(2026, 5, 20), 10).resolve("land", "truongkt")
    b.when(d(2026, 5, 21), 9).rate("triage", 1)
    b.when(d(2026, 5, 22), 15).resolve("trash", "kinhte")  # the new period: in time
    b.when(d(2026, 5, 23), 9).rate("trash", 4)
    b.when(d(2026, 5, 25), 9).extend("denounce", "chutich", 30, especially_complex=True)
    b.when(d(2026, 5, 26), 10).reopen("road", "truongkt")  # by an officer, from closed
    b.when(d(2026, 5, 29), 10).resolve("road", "kinhte")


def _summer(b: Builder) -> None:
    d = date
    b.when(d(2026, 6, 20), 9).extend("denounce", "chutich", 20, especially_complex=True)
    b.when(d(2026, 7, 10), 9).resolve("denounce", "chutich")
    # Quốc khánh: 1/9 and 2/9 (Tuesday, Wednesday) are days off.
    b.when(d(2026, 8, 28), 9).file("holiday", "phan_anh", "ha_tang", "thon-1")
    b.when(d(2026, 8, 31), 9).accept("holiday", "truongkt")
    b.when(d(2026, 9, 3), 9).resolve("holiday", "kinhte")  # 1 working day, 3 calendar days
    b.when(d(2026, 9, 4), 9).file("plain", "phan_anh", "ha_tang", "thon-2")
    b.when(d(2026, 9, 7), 9).accept("plain", "truongkt")
    b.when(d(2026, 9, 10), 9).resolve("plain", "kinhte")  # 3 working days, 3 calendar days


@contextmanager
def seeded_database(backend: str, directory: Path) -> Iterator[History]:
    """A database of its own (SQLite in `directory`, or a fresh PostgreSQL schema), migrated,
    with the demo commune and the history: for module-scoped fixtures that only read."""
    if backend == "sqlite":
        url = f"sqlite:///{directory / 'figures.db'}"
        schema = None
    else:
        schema = f"t_{uuid.uuid4().hex[:12]}"
        admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        separator = "&" if "?" in POSTGRES_URL else "?"
        url = f"{POSTGRES_URL}{separator}options={quote(f'-csearch_path={schema}')}"
    try:
        upgrade(url)
        with session_scope(url) as session:
            load_demo(session, NOW)
        yield seed_history(url)
    finally:
        engine_for(url).dispose()
        if schema is not None:
            with admin.connect() as connection:
                connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()
