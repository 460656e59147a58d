"""Tickets for the public board's tests, made through the real core calls with a moving clock on
the demo commune: one published item whose citizen wrote a name, a phone and a house number,
one whose answer names the citizen, and the ones that must never appear (a tố cáo, a
confidential report, a hidden item, one without a summary, a linked duplicate, an open one).
The tố cáo and the confidential report get a summary written straight into the database, so
the board's own filter is what keeps them off."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from html import unescape

from sqlalchemy import select

from bot.core import desk, public_board
from bot.core.authz import Caller
from bot.core.citizens import citizen_for
from bot.core.taxonomy import Status
from bot.core.tickets import TicketDraft, change_status, create_ticket, update_fields
from bot.store.db import session_scope
from bot.store.models import Area, Ticket
from tests.helpers import OFFICER, TestClock, context, officer

NAME, PHONE = "Trần Thị Bích", "0912345678"
PHONE_FORMS = ("0912345678", "0912 345 678", "0912.345.678", "912345678", "345 678")
CITIZEN_TEXT = ("Tôi là Trần Thị Bích, nhà số 12 thôn Đông, điện thoại 0912 345 678. Đèn đường "
                "trục chính thôn Đông hỏng cả tháng nay, tối đi lại rất nguy hiểm cho các cháu")
SECRET_PHRASE = "tối đi lại rất nguy hiểm"  # only in the citizen's own text
SUMMARY = "Đèn đường trục chính thôn Đông bị hỏng; xã đã thay bóng đèn và sửa đường dây điện."
ANSWER = ("Dạ, UBND xã đã thay bóng đèn và sửa đường dây điện trục chính thôn Đông ngày "
          "20/01/2026. Cảm ơn Ông/Bà đã phản ánh.")
RUBBISH_SUMMARY = "Bãi rác tự phát cạnh trường tiểu học đã được thu gom, xã đặt biển cấm đổ rác."
NAMED_ANSWER = "Kính gửi bà Trần Thị Bích, UBND xã đã thu gom bãi rác cạnh trường tiểu học."
KARAOKE_SUMMARY = ("Quán karaoke ở tổ dân phố 1 hát quá giờ quy định; công an xã đã nhắc "
                   "nhở, lập biên bản chủ quán.")
DENOUNCER, DENOUNCED = "Lê Văn Tố", "cán bộ địa chính Hoàng Văn Khuất"
TO_CAO_TEXT = f"Tôi là {DENOUNCER}, tố cáo {DENOUNCED} nhận tiền khi làm sổ đỏ, SĐT 0987654321"
START = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Seeded:
    published: str  # rated 4, resolved in January, area Thôn Đông, category ha_tang
    answer_named: str  # published; its answer names the citizen; moi_truong, February
    karaoke: str  # published; an_ninh_trat_tu by the commune police, February
    to_cao: str
    confidential: str
    hidden: str
    no_summary: str
    duplicate: str
    open: str

    @property
    def never_shown(self) -> tuple[str, ...]:
        return (self.to_cao, self.confidential, self.hidden, self.no_summary, self.duplicate,
                self.open)


def _file(url: str, clock: TestClock, external: str, text: str, category: str = "ha_tang",
          kind: str = "phan_anh", area: str = "thon-dong", name: str | None = NAME,
          phone: str | None = PHONE) -> str:
    with session_scope(url) as session:
        citizen = citizen_for(session, "web", external, clock())
        citizen.display_name, citizen.phone = name, phone
        place = session.scalar(select(Area).where(Area.code == area))
        draft = TicketDraft(text=text, channel="web", citizen_id=citizen.id, category=category,
                            kind=kind, location_text=place.name, area_id=place.id)
        code = create_ticket(session, draft, Caller.citizen(citizen.id, "web").actor,
                             context(clock())).code
    clock.advance(hours=2)
    return code


def _resolve(url: str, clock: TestClock, code: str, answer: str, summary: str | None = None,
             username: str = "truongkt", kind: str = "phan_anh",
             category: str = "ha_tang") -> None:
    with session_scope(url) as session:
        caller = officer(session, username)
        desk.accept(session, caller, code, context(clock()), kind=kind, category=category)
        clock.advance(days=2)
        desk.resolve(session, caller, code, context(clock()), answer, public_summary=summary)
    clock.advance(hours=3)


def rate(url: str, clock: TestClock, code: str, stars: int) -> None:
    """What service.rate does, on this database: the citizen's stars close the ticket."""
    with session_scope(url) as session:
        ticket = session.scalar(select(Ticket).where(Ticket.code == code))
        ticket.rating = stars
        change_status(session, ticket, Status.CLOSED, Caller.citizen(ticket.citizen_id,
                                                                     "web").actor,
                      context(clock()), action="rated", data={"rating": stars})
    clock.advance(hours=1)


def _force(url: str, code: str, **fields) -> None:
    """Set fields past the core's checks (what a bug or a hand-edited row could do)."""
    with session_scope(url) as session:
        ticket = session.scalar(select(Ticket).where(Ticket.code == code))
        update_fields(session, ticket, OFFICER, context(), **fields)


def seed_board(url: str, clock: TestClock | None = None) -> Seeded:
    clock = clock or TestClock(START)
    published = _file(url, clock, "pub-1", CITIZEN_TEXT)
    _resolve(url, clock, published, ANSWER, SUMMARY)
    rate(url, clock, published, 4)

    to_cao = _file(url, clock, "pub-2", TO_CAO_TEXT, category="can_bo", kind="to_cao",
                   name=DENOUNCER, phone="0987654321")
    _resolve(url, clock, to_cao, "Đã xác minh, kết luận nội dung tố cáo.", None,
             username="chutich", kind="to_cao", category="can_bo")
    _force(url, to_cao, public_summary="Tố cáo cán bộ địa chính đã được xác minh, kết luận.")

    confidential = _file(url, clock, "pub-3", "Phản ánh cần giữ kín người gửi về trạm cân",
                         category="ha_tang", name="Đỗ Thị Kín", phone="0977111222")
    _force(url, confidential, confidential=True)
    _resolve(url, clock, confidential, "Đã kiểm tra trạm cân.", None, username="chutich")
    _force(url, confidential, public_summary="Trạm cân đầu thôn đã được kiểm tra, hiệu chỉnh.")

    hidden = _file(url, clock, "pub-4", "Ổ gà lớn giữa đường liên thôn gần cầu",
                   name="Mai Văn Ẩn", phone="0933444555")
    _resolve(url, clock, hidden, "Xã đã vá ổ gà ngày 28/01.",
             "Ổ gà giữa đường liên thôn gần cầu đã được xã vá lại bằng bê tông.")
    with session_scope(url) as session:
        public_board.hide(session, officer(session, "truongkt"), hidden, context(clock()),
                          "Người dân đề nghị không công khai")
    clock.advance(days=20)  # the next one is resolved in February

    answer_named = _file(url, clock, "pub-5", "Bãi rác tự phát cạnh trường tiểu học bốc mùi",
                         category="moi_truong", area="thon-1")
    _resolve(url, clock, answer_named, NAMED_ANSWER, RUBBISH_SUMMARY, category="moi_truong")
    karaoke = _file(url, clock, "pub-10", "Quán karaoke hát đến 1 giờ sáng", area="tdp-1",
                    category="an_ninh_trat_tu", name="Lý Văn Ồn", phone="0911222333")
    _resolve(url, clock, karaoke, "Công an xã đã nhắc nhở chủ quán.", KARAOKE_SUMMARY,
             username="congan", category="an_ninh_trat_tu")

    no_summary = _file(url, clock, "pub-6", "Cống thoát nước xóm Bãi bị tắc",
                       name="Phan Văn Cống", phone="0944555666")
    _resolve(url, clock, no_summary, "Xã đã nạo vét cống thoát nước.")

    master = _file(url, clock, "pub-7", "Cây đổ chắn đường thôn 2", name="Vũ Thị Cây",
                   phone="0955666777")
    duplicate = _file(url, clock, "pub-8", "Cây to đổ ngang đường thôn 2 sau bão",
                      name="Vũ Văn Trùng", phone="0966777888")
    with session_scope(url) as session:
        caller = officer(session, "truongkt")
        for code in (master, duplicate):
            desk.accept(session, caller, code, context(clock()), kind="phan_anh",
                        category="ha_tang")
        desk.link_duplicate(session, caller, duplicate, context(clock()), of_code=master)
        clock.advance(days=1)
        desk.resolve(session, caller, duplicate, context(clock()), "Đã dọn cây đổ.",
                     public_summary="Cây đổ chắn đường thôn 2 đã được dọn sau bão.")
    clock.advance(hours=1)
    open_code = _file(url, clock, "pub-9", "Đường thôn 1 ngập sau mưa", name="Hà Văn Mở",
                      phone="0922333444")
    _force(url, open_code, public_summary="Đường thôn 1 bị ngập sau mưa, xã đang xử lý.")
    return Seeded(published, answer_named, karaoke, to_cao, confidential, hidden, no_summary,
                  duplicate, open_code)


def personal_data_in(html: str, seeded) -> list[str]:
    """What of the citizens' data, their words or the never-shown tickets a page holds."""
    text = unescape(html)
    digits = re.sub(r"\D", "", text)
    found = [form for form in PHONE_FORMS if form in text]
    found += ["phone digits"] if "912345678" in digits or "987654321" in digits else []
    found += [word for word in (NAME, "Bích", DENOUNCER, DENOUNCED, SECRET_PHRASE, "Tôi là",
                                "nhà số 12", CITIZEN_TEXT[:40], TO_CAO_TEXT[:30])
              if word.lower() in text.lower()]
    return found + [code for code in seeded.never_shown if code in text]
