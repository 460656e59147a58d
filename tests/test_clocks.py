"""Legal clocks per kind: units (working or calendar days), start, pause and stop, the
complex/remote variants, and deadlines across Tết, 30/4-1/5 and 2/9."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from bot.core import desk
from bot.core.authz import Caller
from bot.core.clocks import load_rules, progress
from bot.store.db import session_scope
from bot.store.models import Officer, Ticket
from tests.helpers import TZ, context, make_ticket


def local_end_of(day: str) -> datetime:
    """23:59:59.999999 in Hanoi on the given day, as UTC."""
    return datetime.fromisoformat(f"{day}T23:59:59.999999").replace(tzinfo=TZ).astimezone(UTC)


def hanoi(moment: str) -> datetime:
    return datetime.fromisoformat(moment).replace(tzinfo=TZ).astimezone(UTC)


def clocks_of(url: str, code: str) -> dict:
    with session_scope(url) as session:
        ticket = session.scalar(select(Ticket).where(Ticket.code == code))
        return {c.name: c for c in ticket.clocks}


def accept_as_head(url, code, ctx, **kwargs) -> None:
    with session_scope(url) as session:
        head = session.scalar(select(Officer).where(Officer.username == "truongkt"))
        desk.accept(session, Caller.officer(head.id), code, ctx, **kwargs)


@pytest.mark.parametrize("received, kind, due", [
    # phản ánh: 10 working days; Mon 2/3/2026 -> Mon 16/3
    ("2026-03-02T10:00", "phan_anh", "2026-03-16"),
    # across Tết Bính Ngọ (days off 16-20/2/2026): Thu 12/2 -> Thu 5/3
    ("2026-02-12T09:00", "phan_anh", "2026-03-05"),
    # khiếu nại: 10 calendar days, holidays count
    ("2026-02-12T09:00", "khieu_nai", "2026-02-22"),
    # tố cáo: 7 working days from Wed 22/4/2026, skipping the weekend, Giỗ Tổ's compensatory
    # Monday 27/4 (10/3 lunar fell on Sunday 26/4) and 30/4-1/5 -> Wed 6/5
    ("2026-04-22T09:00", "to_cao", "2026-05-06"),
    # across 1/9-2/9/2026 (Tue-Wed): Fri 28/8 + 10 working days -> Tue 15/9
    ("2026-08-28T15:00", "kien_nghi", "2026-09-15"),
])
def test_accept_clock_deadlines(db_url, received, kind, due):
    code = make_ticket(db_url, category="ha_tang", kind=kind, now=hanoi(received))
    clock = clocks_of(db_url, code)["accept"]
    assert clock.due_at == local_end_of(due)
    assert clock.source == load_rules().for_kind(kind)[0].source


@pytest.mark.parametrize("complex_, location, days", [
    (False, "thôn 3", 30), (True, "thôn 3", 45), (False, "xóm bãi", 45), (True, "xóm bãi", 60),
])
def test_complaint_resolve_clock_is_longer_when_complex_or_remote(db_url, complex_, location,
                                                                   days):
    ctx = context(hanoi("2026-03-02T10:00"))
    code = make_ticket(db_url, category="ha_tang", kind="khieu_nai", location_text=location,
                       now=ctx.clock())
    accept_as_head(db_url, code, ctx, kind="khieu_nai", category="ha_tang", is_complex=complex_)
    clocks = clocks_of(db_url, code)
    assert clocks["accept"].stopped_at == ctx.clock()
    assert (clocks["resolve"].unit, clocks["resolve"].length) == ("calendar_days", days)


def test_need_info_pauses_feedback_clock_but_not_complaint_clock(db_url):
    ctx = context(hanoi("2026-03-02T10:00"))
    feedback = make_ticket(db_url, category="ha_tang", now=ctx.clock())
    complaint = make_ticket(db_url, category="ha_tang", kind="khieu_nai", now=ctx.clock())
    accept_as_head(db_url, feedback, ctx, kind="phan_anh", category="ha_tang")
    accept_as_head(db_url, complaint, ctx, kind="khieu_nai", category="ha_tang")
    before = {c: clocks_of(db_url, c)["resolve"].due_at for c in (feedback, complaint)}
    assert before[feedback] == local_end_of("2026-03-11")  # 7 working days
    with session_scope(db_url) as session:
        head = Caller.officer(session.scalar(
            select(Officer).where(Officer.username == "truongkt")).id)
        for code in (feedback, complaint):
            desk.ask_for_information(session, head, code, ctx, "Xin số nhà cụ thể?")
    paused = clocks_of(db_url, feedback)["resolve"]
    assert paused.paused_at == ctx.clock()
    assert progress(paused, hanoi("2026-03-20T10:00")) == 0.0  # frozen while paused
    assert clocks_of(db_url, complaint)["resolve"].paused_at is None
    ctx.clock.now = hanoi("2026-03-05T10:00")  # the citizen answers three working days later
    with session_scope(db_url) as session:
        for code in (feedback, complaint):
            desk.start_work(session, head, code, ctx)
    resumed = clocks_of(db_url, feedback)["resolve"]
    assert resumed.paused_at is None and resumed.due_at == local_end_of("2026-03-16")
    assert clocks_of(db_url, complaint)["resolve"].due_at == before[complaint]
