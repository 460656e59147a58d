"""The builder of tests/figures_history.py: each step is a real core call at the test clock's
time and the same step in a plain-Python record (status events, clock periods derived by the
rules of clocks.yml written out again here with the Python WorkCalendar, no SQL), from which
tests/figures_expected.py computes the expected figures."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select

from bot.core import desk, figures_rollup
from bot.core.context import CoreContext
from bot.core.taxonomy import ActorType, Status
from bot.core.tickets import Actor, TicketDraft, change_status, create_ticket
from bot.core.tickets import return_from_need_info as answer_question
from bot.core.workdays import WorkCalendar
from bot.store.models import Area, OrgUnit, Ticket
from tests.helpers import TZ, TestClock, officer

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
        if moment.date() != self.clock.now.date():
            # The pre-aggregated sums follow the history day by day, as a deployment's
            # readers would catch them up: later changes replace tickets' earlier facts.
            self.session.flush()
            figures_rollup.catch_up(self.session, self.ctx)
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
