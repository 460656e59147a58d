"""Likely duplicates on seeded pairs: the same problem told in other words is found; a different
problem in the same place, another place, another category, an old ticket, khiếu nại and tố cáo
are not."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.core.duplicates import candidates
from bot.settings import Settings
from bot.store.db import session_scope
from bot.store.models import Ticket
from tests.conftest import BACKENDS
from tests.helpers import NOW, make_ticket

pytestmark = pytest.mark.parametrize("empty_db_url", BACKENDS, indirect=True)
THRESHOLD = Settings.model_fields["duplicate_similarity"].default  # the shipped setting

# (category, place, report, the same problem in other words, another problem in that place)
PAIRS = [
    ("ha_tang", "thôn 3", "Đường thôn 3 bị ngập sâu sau mưa, xe máy không đi được",
     "Mưa xong đường ở thôn 3 ngập nặng, xe máy không qua được",
     "Đèn đường thôn 3 bị hỏng mấy tuần nay, tối không có đèn"),
    ("moi_truong", "thôn 2", "Rác thải đổ trộm ven đường thôn 2 bốc mùi hôi thối",
     "Có người đổ rác trộm ở ven đường thôn 2, mùi hôi lắm",
     "Khói đốt rơm rạ bay vào nhà dân ở thôn 2, mùi khét"),
    ("ha_tang", "thôn 1", "Cột điện nghiêng sắp đổ ở thôn 1",
     "Cột điện ở thôn 1 bị nghiêng, sợ đổ xuống đường",
     "Ống nước sạch bị vỡ ở thôn 1, mất nước cả tuần"),
    ("an_ninh_trat_tu", "xóm Bãi", "Karaoke hát to đến 12 giờ đêm ở xóm Bãi",
     "Nhà ở xóm Bãi hát karaoke to quá đến nửa đêm",
     "Có người lạ đi trộm chó ban đêm ở xóm Bãi"),
]


def found_for(url: str, code: str, threshold: float = THRESHOLD) -> list[str]:
    with session_scope(url) as session:
        ticket = session.scalar(select(Ticket).where(Ticket.code == code))
        return [c.code for c in candidates(session, ticket, threshold)]


def test_same_problem_found_and_other_problem_in_same_place_not(db_url):
    made = []
    for i, (category, place, report, same, other) in enumerate(PAIRS):
        first = make_ticket(db_url, report, key=f"r{i}", category=category,
                            location_text=place, now=NOW - timedelta(days=3))
        again = make_ticket(db_url, same, key=f"s{i}", category=category, location_text=place)
        different = make_ticket(db_url, other, key=f"o{i}", category=category,
                                location_text=place, now=NOW - timedelta(days=1))
        made.append((first, again, different))
    for first, again, different in made:
        assert found_for(db_url, again) == [first]
        assert different not in found_for(db_url, first)
        assert found_for(db_url, different) == []


def test_candidate_carries_similarity_and_status(db_url):
    first = make_ticket(db_url, PAIRS[0][2], key="a", category="ha_tang", location_text="thôn 3")
    again = make_ticket(db_url, PAIRS[0][3], key="b", category="ha_tang", location_text="thôn 3")
    with session_scope(db_url) as session:
        ticket = session.scalar(select(Ticket).where(Ticket.code == again))
        [candidate] = candidates(session, ticket, THRESHOLD)
        assert candidate.code == first and THRESHOLD <= candidate.similarity <= 1
        assert candidate.status_label == "Đã tiếp nhận"
        assert candidates(session, ticket, 0.99) == []


def test_other_area_other_category_and_older_than_30_days_are_not_candidates(db_url):
    text = PAIRS[0][2]
    base = make_ticket(db_url, text, key="a", category="ha_tang", location_text="thôn 3")
    make_ticket(db_url, text, key="b", category="ha_tang", location_text="thôn 1")
    make_ticket(db_url, text, key="c", category="moi_truong", location_text="thôn 3")
    make_ticket(db_url, text, key="d", category="ha_tang", location_text="thôn 3",
                now=NOW - timedelta(days=31))
    recent = make_ticket(db_url, text, key="e", category="ha_tang", location_text="thôn 3",
                         now=NOW - timedelta(days=29))
    assert found_for(db_url, base) == [recent]


def test_same_place_in_words_counts_when_no_area_matches(db_url):
    text = "Cống thoát nước bị tắc, nước thải tràn ra đường"
    first = make_ticket(db_url, text, key="a", category="ha_tang",
                        location_text="Ngõ 5 chợ Mới")
    again = make_ticket(db_url, "Cống thoát nước tắc, nước thải tràn cả ra đường", key="b",
                        category="ha_tang", location_text="ngo 5 cho moi")
    make_ticket(db_url, text, key="c", category="ha_tang", location_text="Ngõ 7 chợ Mới")
    make_ticket(db_url, text, key="d", category="ha_tang")  # no place at all
    assert found_for(db_url, again) == [first]


def test_khieu_nai_and_to_cao_are_never_duplicates(db_url):
    text = "Tôi khiếu nại quyết định thu hồi đất của gia đình ở thôn 3"
    complaint = make_ticket(db_url, text, key="a", category="dat_dai", kind="khieu_nai",
                            location_text="thôn 3")
    again = make_ticket(db_url, text, key="b", category="dat_dai", kind="khieu_nai",
                        location_text="thôn 3")
    plain = make_ticket(db_url, text, key="c", category="dat_dai", location_text="thôn 3")
    denounce = make_ticket(db_url, text, key="d", category="dat_dai", kind="to_cao",
                           location_text="thôn 3")
    assert found_for(db_url, complaint) == []
    assert found_for(db_url, again) == []
    assert found_for(db_url, denounce) == []
    assert found_for(db_url, plain) == []  # the khiếu nại and tố cáo are not offered either
