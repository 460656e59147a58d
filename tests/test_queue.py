"""The desk's queue: tabs, counts, filters, search without diacritics, urgent first then nearest
deadline, and confidential (tố cáo) tickets counted but never listed for others."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from bot.core import desk
from bot.core.authz import Caller, NotAllowed
from bot.core.queue import QueueFilter, latest_change, load_queue, tabs_for
from bot.core.tickets import return_from_need_info, update_fields
from bot.store.db import session_scope
from bot.store.models import Area, Officer, OrgUnit, Ticket, TicketClock
from tests.conftest import BACKENDS
from tests.helpers import NOW, OFFICER, context, make_ticket

backends = pytest.mark.parametrize("empty_db_url", BACKENDS, indirect=True)


def caller(session, username: str) -> Caller:
    return Caller.officer(session.scalar(select(Officer).where(Officer.username == username)).id)


def change(session, code: str, now=NOW, **fields) -> None:
    """Set ticket fields the audited way (a TicketEvent names them)."""
    ticket = session.scalar(select(Ticket).where(Ticket.code == code))
    update_fields(session, ticket, OFFICER, context(now), **fields)


def codes(session, username: str, now=NOW, **query) -> list[str]:
    filt = QueueFilter.from_query({k: str(v) for k, v in query.items()})
    return [r.code for r in load_queue(session, caller(session, username), filt, now).rows]


def seed(url: str) -> dict[str, str]:
    """Tickets of several units, kinds and ages (see each line)."""
    return {
        # ha_tang -> Phòng Kinh tế; least loaded officer: kinhte, then kinhte2
        "old_road": make_ticket(url, "Đường thôn 3 ngập sâu", key="a", category="ha_tang",
                                location_text="thôn 3", now=NOW - timedelta(days=30)),
        "lamp": make_ticket(url, "Đèn đường Thôn Đông hỏng", key="b", category="ha_tang",
                            location_text="thôn đông", now=NOW - timedelta(days=2)),
        "urgent": make_ticket(url, "Cây đổ đè dây điện ở thôn 1", key="c", category="ha_tang",
                              location_text="thôn 1", urgent=True),
        "trash": make_ticket(url, "Rác thải đổ trộm bờ sông", key="d", category="moi_truong",
                             kind="kien_nghi", now=NOW - timedelta(days=1)),
        # khac -> the triage desk (Văn phòng), officer tiepnhan
        "other": make_ticket(url, "Hỏi về lịch họp dân", key="e", category="khac"),
        # an_ninh_trat_tu -> Công an xã
        "noise": make_ticket(url, "Karaoke ồn ào đến khuya", key="f",
                             category="an_ninh_trat_tu"),
        # tố cáo -> UBND xã, handled by chutich; confidential
        "secret": make_ticket(url, "Tố cáo cán bộ địa chính nhận tiền", key="g",
                              category="can_bo", kind="to_cao"),
    }


@backends
def test_filter_round_trips_through_the_url_and_ignores_bad_values(db_url):
    filt = QueueFilter(tab="unit", status="need_info", category="ha_tang", kind="khieu_nai",
                       area_id=3, unit_id=4, due_within_days=0, overdue=True,
                       received_from=date(2026, 3, 1), received_to=date(2026, 3, 31),
                       q="đường ngập", page=2)
    assert QueueFilter.from_query(filt.to_query()) == filt
    assert QueueFilter().to_query() == {}
    bad = QueueFilter.from_query({"tab": "x", "status": "nope", "category": "'; drop", "kind": "",
                                  "area_id": "-1", "unit_id": "abc", "due_within_days": "9999",
                                  "received_from": "2026-13-40", "page": "0", "overdue": "no"})
    assert bad == QueueFilter()


@backends
def test_officer_sees_own_unit_and_assigned_tickets_only(db_url):
    t = seed(db_url)
    with session_scope(db_url) as session:
        unit = set(codes(session, "kinhte", tab="unit"))
        assert unit == {t["old_road"], t["lamp"], t["urgent"], t["trash"]}
        assert set(codes(session, "congan", tab="unit")) == {t["noise"]}
        mine = codes(session, "kinhte", tab="mine")
        assert mine and set(mine) < unit
        officer_id = caller(session, "kinhte").id
        assert all(session.scalar(select(Ticket.officer_id).where(Ticket.code == c)) == officer_id
                   for c in mine)
        with pytest.raises(NotAllowed):
            load_queue(session, Caller.citizen(1, "web"), QueueFilter(), NOW)


@backends
def test_leader_sees_every_unit_below_theirs(db_url):
    t = seed(db_url)
    with session_scope(db_url) as session:
        assert set(codes(session, "quantri", tab="unit")) == set(t.values()) - {t["secret"]}


@backends
def test_urgent_first_then_nearest_running_deadline(db_url):
    t = seed(db_url)
    with session_scope(db_url) as session:
        rows = load_queue(session, caller(session, "truongkt"), QueueFilter(tab="unit"),
                          NOW).rows
        assert [r.code for r in rows] == [t["urgent"], t["old_road"], t["lamp"], t["trash"]]
        assert rows[0].urgent and not rows[1].urgent
        dues = [r.due_at for r in rows[1:]]
        assert dues == sorted(dues)
        assert rows[1].overdue and not rows[2].overdue
        assert rows[1].snippet == "Đường thôn 3 ngập sâu"
        assert rows[1].category_label == "Hạ tầng, giao thông, điện nước"
        assert rows[1].unit_name == "Phòng Kinh tế" and rows[1].area_name == "Thôn 3"
        assert rows[1].due_local.count("/") == 2 and rows[1].status_label == "Đã tiếp nhận"


@backends
def test_confidential_ticket_counted_but_never_listed_for_others(db_url):
    t = seed(db_url)
    with session_scope(db_url) as session:
        admin = load_queue(session, caller(session, "quantri"), QueueFilter(tab="unit"), NOW)
        assert t["secret"] not in [r.code for r in admin.rows]
        assert admin.hidden_confidential == 1
        # a search for its words neither lists it nor changes the hidden count
        probe = load_queue(session, caller(session, "quantri"),
                           QueueFilter(tab="unit", q="dia chinh"), NOW)
        assert probe.rows == [] and probe.hidden_confidential == 1
        handler = load_queue(session, caller(session, "chutich"), QueueFilter(tab="unit"), NOW)
        secret_rows = [r for r in handler.rows if r.code == t["secret"]]
        assert secret_rows and secret_rows[0].snippet == "" and handler.hidden_confidential == 0
        assert codes(session, "chutich", tab="mine") == [t["secret"]]
        assert handler.counts["unit"] == len(t)


@backends
def test_assigned_officer_without_the_role_sees_the_confidential_ticket(db_url):
    t = seed(db_url)
    with session_scope(db_url) as session:
        change(session, t["secret"], officer_id=caller(session, "kinhte").id)
    with session_scope(db_url) as session:
        assert t["secret"] in codes(session, "kinhte", tab="mine")
        assert t["secret"] not in codes(session, "kinhte2", tab="unit")
        assert t["secret"] not in codes(session, "quantri", tab="unit")


@backends
def test_tab_counts_and_triage_tab_only_for_triage_officers(db_url):
    t = seed(db_url)
    with session_scope(db_url) as session:
        assert [tab.key for tab in tabs_for(session, caller(session, "tiepnhan"))] == [
            "mine", "unit", "triage", "overdue"]
        labels = [tab.label for tab in tabs_for(session, caller(session, "kinhte"))]
        assert labels == ["Của tôi", "Đơn vị", "Quá hạn"]
        result = load_queue(session, caller(session, "tiepnhan"), QueueFilter(tab="triage"), NOW)
        assert [r.code for r in result.rows] == [t["other"]]
        assert result.counts == {"mine": 1, "unit": 1, "triage": 1, "overdue": 0}
        # a tab the caller does not have falls back to the first one
        fallback = load_queue(session, caller(session, "kinhte"), QueueFilter(tab="triage"), NOW)
        assert fallback.tab == "mine"
        counts = load_queue(session, caller(session, "truongkt"), QueueFilter(), NOW).counts
        assert counts == {"mine": 0, "unit": 4, "overdue": 1}


@backends
def test_overdue_tab_and_due_within_days(db_url):
    t = seed(db_url)
    with session_scope(db_url) as session:
        assert codes(session, "truongkt", tab="overdue") == [t["old_road"]]
        assert codes(session, "truongkt", tab="unit", overdue="1") == [t["old_road"]]
        # due today: the urgent clock (4 hours) and old_road's, already passed
        assert codes(session, "truongkt", tab="unit", due_within_days=0) == [
            t["urgent"], t["old_road"]]
        later = codes(session, "truongkt", tab="unit", due_within_days=30)
        assert set(later) == {t["urgent"], t["old_road"], t["lamp"], t["trash"]}


@backends
def test_filters_by_status_category_kind_area_unit_and_dates(db_url):
    t = seed(db_url)
    with session_scope(db_url) as session:
        area = session.scalar(select(Area).where(Area.code == "thon-3"))
        unit = session.scalar(select(OrgUnit).where(OrgUnit.code == "xa-an-binh-cong-an"))
        change(session, t["lamp"], status="closed")
    with session_scope(db_url) as session:
        q = {"tab": "unit"}
        assert t["lamp"] not in codes(session, "quantri", **q)
        assert codes(session, "quantri", status="closed", **q) == [t["lamp"]]
        assert t["lamp"] in codes(session, "quantri", status="all", **q)
        assert codes(session, "quantri", category="moi_truong", **q) == [t["trash"]]
        assert codes(session, "quantri", kind="kien_nghi", **q) == [t["trash"]]
        assert codes(session, "quantri", area_id=area.id, **q) == [t["old_road"]]
        assert codes(session, "quantri", unit_id=unit.id, **q) == [t["noise"]]
        # received dates are local days (Asia/Ho_Chi_Minh)
        day = (NOW - timedelta(days=1)).date()
        assert codes(session, "quantri", received_from=day, received_to=day, **q) == [t["trash"]]
        since = codes(session, "quantri", received_from=NOW.date(), **q)
        assert set(since) == {t["urgent"], t["other"], t["noise"]}


@backends
def test_search_ignores_diacritics_and_case(db_url):
    t = seed(db_url)
    with session_scope(db_url) as session:
        for query in ("đèn ĐƯỜNG", "den duong", "thon dong"):
            assert codes(session, "quantri", tab="unit", q=query) == [t["lamp"]]
        assert codes(session, "quantri", tab="unit", q=t["noise"].lower()) == [t["noise"]]
        assert codes(session, "quantri", tab="unit", q="100%_") == []
        # an old row without search_text is simply not found by a search
        change(session, t["lamp"], search_text=None)
    with session_scope(db_url) as session:
        assert codes(session, "quantri", tab="unit", q="den duong") == []
        assert t["lamp"] in codes(session, "quantri", tab="unit")


@backends
def test_pages_split_the_sorted_rows(db_url):
    t = seed(db_url)
    with session_scope(db_url) as session:
        who = caller(session, "truongkt")
        first = load_queue(session, who, QueueFilter(tab="unit"), NOW, page_size=3)
        second = load_queue(session, who, QueueFilter(tab="unit", page=2), NOW, page_size=3)
        assert (first.total, first.pages, second.page) == (4, 2, 2)
        assert [r.code for r in second.rows] == [t["trash"]]
        beyond = load_queue(session, who, QueueFilter(tab="unit", page=9), NOW, page_size=3)
        assert beyond.page == 2


@backends
def test_latest_change_moves_when_a_ticket_arrives_or_changes(db_url):
    seed(db_url)
    with session_scope(db_url) as session:
        before = latest_change(session, caller(session, "kinhte"))
        congan = latest_change(session, caller(session, "congan"))
    code = make_ticket(db_url, "Ổ gà lớn giữa đường thôn 2", key="h", category="ha_tang",
                       now=NOW + timedelta(minutes=5))
    with session_scope(db_url) as session:
        after = latest_change(session, caller(session, "kinhte"))
        assert after != before
        assert latest_change(session, caller(session, "congan")) == congan
        change(session, code, now=NOW + timedelta(hours=1), urgent=False)
    with session_scope(db_url) as session:
        assert latest_change(session, caller(session, "kinhte")) != after


@backends
def test_next_due_follows_the_clocks_kept_by_database_triggers(db_url):
    """tickets.next_due_at (the queue's order) is kept by triggers on ticket_clocks through
    acceptance, a question (paused clock), the answer, resolution and reopening."""
    def due_and_clocks(session, code):
        ticket = session.scalar(select(Ticket).where(Ticket.code == code))
        session.refresh(ticket)
        running = [c.due_at for c in session.scalars(select(TicketClock).where(
            TicketClock.ticket_id == ticket.id, TicketClock.stopped_at.is_(None),
            TicketClock.paused_at.is_(None)))]
        return ticket.next_due_at, min(running, default=None)

    code = make_ticket(db_url, "Đèn đường hỏng", key="a", category="ha_tang")
    ctx = context()
    with session_scope(db_url) as session:
        due, running = due_and_clocks(session, code)
        assert due is not None and due == running  # the accept clock
        me = caller(session, "truongkt")
        desk.accept(session, me, code, ctx, kind="phan_anh", category="ha_tang")
        session.flush()
        resolve_due, running = due_and_clocks(session, code)
        assert resolve_due == running and resolve_due != due  # the resolve clock now
        desk.ask_for_information(session, me, code, ctx, question="Cột số mấy ạ?")
        session.flush()
        assert due_and_clocks(session, code) == (None, None)  # paused, not late
    with session_scope(db_url) as session:
        later = context(NOW + timedelta(days=3))
        desk.reply(session, caller(session, "truongkt"), code, later, text="Dạ, đã nhận.")
        ticket = session.scalar(select(Ticket).where(Ticket.code == code))
        return_from_need_info(session, ticket, OFFICER, later)
        session.flush()
        due, running = due_and_clocks(session, code)
        assert due == running and due > resolve_due  # pushed back by the pause
        desk.resolve(session, caller(session, "truongkt"), code, later, answer="Dạ, đã sửa.")
        session.flush()
        assert due_and_clocks(session, code) == (None, None)
        desk.reopen(session, caller(session, "truongkt"), code, later, reason="Chưa sửa xong")
        session.flush()
        due, running = due_and_clocks(session, code)
        assert due is not None and due == running
    with session_scope(db_url) as session:
        assert code in codes(session, "truongkt", tab="unit")


@backends
def test_clock_paused_after_its_deadline_stays_overdue(db_url):
    late = make_ticket(db_url, "Đường thôn 3 ngập", key="a", category="ha_tang",
                       now=NOW - timedelta(days=30))
    with session_scope(db_url) as session:
        desk.ask_for_information(session, caller(session, "truongkt"), late, context(),
                                 question="Ngập ở đoạn nào ạ?")
    with session_scope(db_url) as session:
        assert codes(session, "truongkt", tab="overdue") == [late]
        assert load_queue(session, caller(session, "truongkt"), QueueFilter(tab="overdue"),
                          NOW).rows[0].status == "need_info"
