"""The weekly digest's content and schedule: the text, chart and workbook of a seeded history
agree with bot.core.figures, list no confidential ticket and no citizen's name or phone; the
job makes each week's digests once, not before Monday 07:30 local; leaders and unit heads get
a notice each (chat: a short text with the link); `nghedan digest` writes the three files."""

from __future__ import annotations

import io
import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import matplotlib.image
import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from bot.core import desk, figures
from bot.core.authz import Caller
from bot.core.charts import breakdown_chart_png, weekly_chart_png
from bot.core.citizens import citizen_for
from bot.core.digest import WEEKS_SHEET
from bot.core.figures_model import ClockRate, Counts, Period, WeekPoint
from bot.core.tickets import TicketDraft, create_ticket
from bot.jobs.digests import JOB_NAME, run_weekly
from bot.settings import load_settings
from bot.store.db import session_scope
from bot.store.desk_models import NoticeDelivery, OfficerNotice
from bot.store.models import JobRun, Officer, OrgUnit, OutboxMessage, Ticket
from bot.store.report_models import Digest
from tests.conftest import BACKENDS
from tests.helpers import context

ROOT = Path(__file__).resolve().parent.parent
WEEK = "2026-W10"  # Monday 02/03/2026 .. Sunday 08/03/2026
# Monday 09/03/2026 07:30 in Hanoi: the digest moment of WEEK
DUE = datetime(2026, 3, 9, 0, 30, tzinfo=UTC)
CITIZEN_NAME, CITIZEN_PHONE = "Nguyễn Văn Bình", "0912345678"
ACCUSED = "Trần Văn Tham"  # named in a tố cáo: never in a digest


def at(day: str, hour: int = 9) -> datetime:
    """A local (Hanoi) day and hour as UTC."""
    return datetime.fromisoformat(f"{day}T{hour:02d}:00:00+07:00").astimezone(UTC)


def _file(url: str, when: datetime, text: str, category: str, kind: str = "phan_anh",
          person: int = 0) -> str:
    with session_scope(url) as session:
        citizen = citizen_for(session, "web", f"digest-citizen-{person}", when)
        citizen.display_name, citizen.phone = CITIZEN_NAME, CITIZEN_PHONE
        draft = TicketDraft(text=text, channel="web", citizen_id=citizen.id, category=category,
                            kind=kind)
        return create_ticket(session, draft, Caller.citizen(citizen.id, "web").actor,
                             context(when)).code


def _act(url: str, when: datetime, username: str, action: str, code: str, **fields) -> None:
    with session_scope(url) as session:
        officer = session.scalar(select(Officer).where(Officer.username == username))
        getattr(desk, action)(session, Caller.officer(officer.id), code, context(when), **fields)


def seed_history(url: str) -> dict[str, str]:
    """Tickets over weeks 6..10 of 2026 through the real core calls: some resolved on time,
    some left to go overdue (one of them a confidential tố cáo), each with the citizen's
    name and phone in its text."""
    said = f"Tôi là {CITIZEN_NAME}, số điện thoại {CITIZEN_PHONE}. "
    codes = {
        "old_open": _file(url, at("2026-02-02"), said + "Đèn đường thôn 2 hỏng", "ha_tang"),
        "old_denunciation": _file(url, at("2026-02-03"), said + f"Tố cáo {ACCUSED} nhận tiền",
                                  "can_bo", kind="to_cao", person=1),
        "accepted_late": _file(url, at("2026-02-10"), said + "Rác thải bờ sông", "moi_truong"),
        "last_week": _file(url, at("2026-02-24"), said + "Hỏi thủ tục chứng thực",
                           "thu_tuc_hanh_chinh", person=2),
        "this_week": _file(url, at("2026-03-02"), said + "Ổ gà đường liên thôn", "ha_tang"),
        "open_new": _file(url, at("2026-03-03"), said + "Karaoke ồn ào", "an_ninh_trat_tu",
                          person=3),
        "new_denunciation": _file(url, at("2026-03-04"), said + f"Tố cáo {ACCUSED} lần 2",
                                  "can_bo", kind="to_cao", person=4),
    }
    _act(url, at("2026-02-11"), "kinhte", "accept", codes["accepted_late"], kind="phan_anh",
         category="moi_truong")
    _act(url, at("2026-02-25"), "motcua", "accept", codes["last_week"], kind="phan_anh",
         category="thu_tuc_hanh_chinh")
    _act(url, at("2026-02-26"), "motcua", "resolve", codes["last_week"],
         answer="Xã đã hướng dẫn thủ tục chứng thực cho Ông/Bà.")
    _act(url, at("2026-03-03"), "kinhte", "accept", codes["this_week"], kind="phan_anh",
         category="ha_tang")
    _act(url, at("2026-03-04"), "kinhte", "resolve", codes["this_week"],
         answer="Xã đã vá ổ gà đường liên thôn ngày 04/03.")
    return codes


def confidential_codes(url: str) -> set[str]:
    with session_scope(url) as session:
        return set(session.scalars(select(Ticket.code).where(Ticket.confidential)))


def stored_digest(url: str, unit_code: str, week: str = WEEK) -> Digest:
    with session_scope(url) as session:
        row = session.scalar(select(Digest).join(OrgUnit, OrgUnit.id == Digest.unit_id)
                             .where(Digest.week == week, OrgUnit.code == unit_code))
        assert row is not None, f"no digest of {unit_code} for {week}"
        session.expunge(row)
        return row


def sheet_texts(xlsx: bytes) -> str:
    book = load_workbook(io.BytesIO(xlsx))
    return "\n".join(str(cell.value) for sheet in book.worksheets for row in sheet.iter_rows()
                     for cell in row if cell.value is not None)


def count(url: str, model, *where) -> int:
    with session_scope(url) as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


@pytest.mark.parametrize("empty_db_url", BACKENDS, indirect=True)
def test_digest_text_chart_and_workbook_agree_with_figures_and_list_nothing_confidential(
        app_env):
    codes = seed_history(app_env)
    assert run_weekly(app_env, context(DUE), DUE)[JOB_NAME]["week"] == WEEK

    row = stored_digest(app_env, "xa-an-binh")
    ctx = context(DUE)
    with session_scope(app_env) as session:
        scope = figures.scope_for(session, unit_code="xa-an-binh")
        period = Period.iso_week(WEEK)
        expected = figures.compute(session, scope, period, ctx, now=DUE)
        overdue, hidden = figures.overdue_tickets(session, scope, period.bounds(ctx.tz)[1])
        listed = {r.code for r in figures.ticket_rows(session, scope, period, ctx)}
    totals, before = expected.totals, expected.previous.totals
    # the text: headline figures with last week's, the oldest overdue, the link
    assert f"Tiếp nhận: {totals.received} đơn (tuần trước: {before.received};" in row.text
    assert f"Đã giải quyết: {totals.resolved} (tuần trước: {before.resolved};" in row.text
    assert f"Quá hạn cuối tuần: {totals.overdue} (tuần trước: {before.overdue};" in row.text
    assert f"Đang mở cuối tuần: {totals.open} " in row.text
    assert totals.overdue >= 2 and hidden >= 1  # the seeded late ones, one confidential
    assert [item.code for item in overdue] and all(item.code in row.text for item in overdue)
    assert codes["accepted_late"] in row.text and codes["old_open"] in row.text
    assert f"{hidden} đơn bảo mật (tố cáo) quá hạn" in row.text
    assert "Phạm vi: UBND xã An Bình và các đơn vị trực thuộc" in row.text
    assert "http://" in row.text and f"/desk/digests/{WEEK}?unit=xa-an-binh" in row.text
    # the workbook: the summary equals compute()'s, the list has the codes, both leave out
    # every confidential ticket and every citizen's name and phone
    book = load_workbook(io.BytesIO(row.xlsx))
    summary = {r[0]: r[1] for r in book["Tổng hợp"].iter_rows(values_only=True) if r[0]}
    from bot.core.report_text import figure_lines

    for line in figure_lines(expected):
        if line.value is not None:
            assert summary[line.label] == pytest.approx(line.value), line.label
    by_unit_total = [r for r in book["Theo đơn vị"].iter_rows(values_only=True)
                     if r[0] == "Tổng"][0]
    assert by_unit_total[1:4] == (totals.received, totals.accepted, totals.resolved)
    ticket_codes = {r[0] for r in book["Danh sách đơn"].iter_rows(min_row=2, values_only=True)}
    assert ticket_codes == listed and codes["this_week"] in ticket_codes
    weekly = list(book[WEEKS_SHEET].iter_rows(min_row=2, values_only=True))
    assert len(weekly) == 8 and weekly[-1][0] == WEEK
    assert weekly[-1][2:4] == (totals.received, totals.resolved)
    everything = row.text + sheet_texts(row.xlsx)
    for secret in confidential_codes(app_env) | {CITIZEN_NAME, CITIZEN_PHONE, ACCUSED}:
        assert secret not in everything
    # the chart: a small PNG of a sane size
    image = matplotlib.image.imread(io.BytesIO(row.chart_png), format="png")
    assert image.shape[:2] == (360, 720) and len(row.chart_png) < 100_000
    assert row.figures["totals"]["received"] == totals.received


def test_charts_are_small_pngs_that_read_back():
    points = [WeekPoint(f"2026-W{n:02d}", received=n % 5, resolved=n % 3,
                        resolve=ClockRate("resolve", due=n % 4, on_time=n % 2))
              for n in range(3, 11)]
    weekly = weekly_chart_png(points, "8 tuần đến tuần 10/2026 · UBND xã An Bình")
    rows = [Counts(key=str(i), label=f"Đơn vị thứ {i} có tên rất dài để thử cắt bớt",
                   received=i, resolved=i // 2, overdue=i % 3) for i in range(20)]
    breakdown = breakdown_chart_png(rows, "Theo đơn vị")
    empty = breakdown_chart_png([], "Theo lĩnh vực")
    for png in (weekly, breakdown, empty):
        assert png.startswith(b"\x89PNG") and len(png) < 100_000
        image = matplotlib.image.imread(io.BytesIO(png), format="png")
        assert image.shape[1] == 720 and 150 <= image.shape[0] <= 1000
        assert image[..., :3].min() < 0.5  # something was drawn, not a blank image
    assert matplotlib.image.imread(io.BytesIO(weekly), format="png").shape[:2] == (360, 720)


def test_the_job_waits_for_monday_0730_local_then_makes_each_digest_once(app_env):
    seed_history(app_env)
    ctx = context(DUE)
    friday = DUE - timedelta(days=3)  # during week 10: the digest due is week 9's
    assert run_weekly(app_env, ctx, friday)[JOB_NAME]["week"] == "2026-W09"
    before = DUE - timedelta(minutes=1)  # Monday 07:29 in Hanoi (Monday 00:29 UTC)
    assert run_weekly(app_env, ctx, before) == {}
    assert count(app_env, Digest, Digest.week == WEEK) == 0

    first = run_weekly(app_env, ctx, DUE)[JOB_NAME]
    assert first == {"week": WEEK, "digests": 3, "notices": 3}  # chutich, chanhvp, truongkt
    for later in (DUE + timedelta(minutes=1), DUE + timedelta(days=2, hours=5)):
        assert run_weekly(app_env, ctx, later) == {}
    assert count(app_env, Digest, Digest.week == WEEK) == 3
    assert count(app_env, OfficerNotice, OfficerNotice.dedupe_key.like(f"digest:{WEEK}:%")) == 3
    assert count(app_env, JobRun, JobRun.job == JOB_NAME) == 2  # weeks 9 and 10
    # the next Monday: the next week, once
    assert run_weekly(app_env, ctx, DUE + timedelta(days=7))[JOB_NAME]["week"] == "2026-W11"
    assert count(app_env, OfficerNotice, OfficerNotice.kind == "digest") == 9


def test_digest_moment_follows_the_settings(app_env, monkeypatch):
    monkeypatch.setenv("DIGEST_WEEKDAY", "2")  # Wednesday
    monkeypatch.setenv("DIGEST_TIME", "18:00")
    load_settings.cache_clear()
    ctx = context(DUE)
    assert run_weekly(app_env, ctx, DUE) == {}
    wednesday = at("2026-03-11", 18)
    assert run_weekly(app_env, ctx, wednesday - timedelta(minutes=1)) == {}
    assert run_weekly(app_env, ctx, wednesday)[JOB_NAME]["week"] == WEEK


def test_leaders_and_unit_heads_get_their_units_digest_and_chat_gets_text_with_link(
        app_env):
    from tests.test_escalation import link

    seed_history(app_env)
    link(app_env, "chutich", "301")
    link(app_env, "kinhte", "101")  # a plain officer: linked, but no digest
    with session_scope(app_env) as session:  # an inactive head gets nothing
        session.scalar(select(Officer).where(Officer.username == "chanhvp")).active = False
    run_weekly(app_env, context(DUE), DUE)

    with session_scope(app_env) as session:
        got = {session.get(Officer, n.officer_id).username: n for n in session.scalars(
            select(OfficerNotice).where(OfficerNotice.kind == "digest"))}
        session.expunge_all()
    assert set(got) == {"chutich", "truongkt"}
    assert got["chutich"].link.endswith(f"/desk/digests/{WEEK}?unit=xa-an-binh")
    assert got["truongkt"].link.endswith(f"/desk/digests/{WEEK}?unit=xa-an-binh-kinh-te")
    assert got["chutich"].dedupe_key == f"digest:{WEEK}:{got['chutich'].officer_id}"
    with session_scope(app_env) as session:
        chat = session.scalars(select(OutboxMessage).where(
            OutboxMessage.recipient_external_id == "301")).all()
        vias = {d.via: d.status for d in session.scalars(select(NoticeDelivery).where(
            NoticeDelivery.notice_id == got["chutich"].id))}
        assert session.scalars(select(OutboxMessage).where(
            OutboxMessage.recipient_external_id == "101")).all() == []
    [message] = chat
    assert message.dedupe_key == got["chutich"].dedupe_key
    assert got["chutich"].link in message.text and "Tổng hợp tuần 10/2026" in message.text
    assert len(message.text) < 400 and message.buttons == []  # a short text, no files
    assert vias == {"push": "held", "email": "held", "chat": "queued"}


def _nghedan(url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": url}
    return subprocess.run([str(ROOT / ".venv" / "bin" / "nghedan"), "digest", *args],
                          capture_output=True, text=True, env=env, timeout=120, cwd=ROOT)


def test_cli_writes_the_three_files_and_send_twice_sends_once(app_env, tmp_path):
    seed_history(app_env)
    out = tmp_path / "out"
    done = _nghedan(app_env, "--week", WEEK, "--unit", "xa-an-binh", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.iterdir()) == ["chart.png", "digest.txt", "digest.xlsx"]
    row = stored_digest(app_env, "xa-an-binh")  # kept: the job and the desk reuse it
    assert (out / "digest.txt").read_text(encoding="utf-8") == row.text + "\n"
    assert (out / "chart.png").read_bytes() == row.chart_png
    assert load_workbook(out / "digest.xlsx")["Tổng hợp"]["A1"].value
    assert count(app_env, OfficerNotice) == count(app_env, OfficerNotice,
                                                  OfficerNotice.kind != "digest")

    for _ in range(2):
        sent = _nghedan(app_env, "--week", WEEK, "--out", str(tmp_path / "all"), "--send")
        assert sent.returncode == 0, sent.stderr
    assert count(app_env, OfficerNotice, OfficerNotice.kind == "digest") == 3
    assert (tmp_path / "all" / "digest.txt").exists()  # one top unit: files in DIR itself
    assert "tinh-demo" in (tmp_path / "all" / "digest.txt").read_text(encoding="utf-8")
    # the job later finds every notice made: nothing twice
    run_weekly(app_env, context(DUE), DUE)
    assert count(app_env, OfficerNotice, OfficerNotice.kind == "digest") == 3

    wrong = _nghedan(app_env, "--week", "2026-W99", "--out", str(out))
    assert wrong.returncode == 1 and "Tuần không hợp lệ" in wrong.stderr


def test_digest_text_reads_well_with_ratings_and_nothing_overdue():
    from bot.core.digest import digest_text
    from bot.core.figures_model import Figures, Satisfaction, Scope

    period = Period.iso_week(WEEK)
    before = Figures(period.previous(), Scope(), DUE, Counts(received=4, resolved=2),
                     satisfaction=Satisfaction(ratings=2, average=3.5))
    data = Figures(period, Scope(), DUE, Counts(
        received=4, resolved=5, open=1, accept=ClockRate("accept", 4, 3),
        resolve=ClockRate("resolve", 0, 0)), satisfaction=Satisfaction(
        ratings=3, average=4.333, not_satisfied=1), previous=before)

    text = digest_text(data, "Phòng Kinh tế", [], 0, "https://xa.example/desk/digests/x")

    assert text.splitlines()[0] == "Tổng hợp tuần 10/2026 (02/03/2026 - 08/03/2026)"
    assert "• Tiếp nhận: 4 đơn (tuần trước: 4; không đổi)" in text
    assert "• Đã giải quyết: 5 (tuần trước: 2; +3)" in text
    assert "• Thụ lý đúng hạn: 75% (3/4) (tuần trước: chưa có)" in text
    assert "• Giải quyết đúng hạn: chưa có" in text
    assert ('• Hài lòng: 4,3/5 (3 lượt đánh giá) (tuần trước: 3,5/5); 1 lượt "Chưa hài lòng"'
            in text)
    assert "Không có đơn quá hạn." in text and "bảo mật" not in text
    assert text.endswith("https://xa.example/desk/digests/x")


def test_a_crash_before_the_commit_leaves_nothing_and_the_next_tick_does_it_all(
        app_env, monkeypatch):
    import bot.jobs.digests as job

    seed_history(app_env)
    real, calls = job.store_notice, []

    def crash_on_second(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise ConnectionError("process died mid-way")
        return real(*args, **kwargs)

    monkeypatch.setattr(job, "store_notice", crash_on_second)
    with pytest.raises(ConnectionError):
        run_weekly(app_env, context(DUE), DUE)
    assert count(app_env, Digest) == count(app_env, JobRun, JobRun.job == JOB_NAME) == 0
    assert count(app_env, OfficerNotice, OfficerNotice.kind == "digest") == 0

    monkeypatch.setattr(job, "store_notice", real)
    assert run_weekly(app_env, context(DUE), DUE + timedelta(minutes=1))[JOB_NAME]["notices"] == 3
    assert count(app_env, Digest) == 3
