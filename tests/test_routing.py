"""Routing: areas found in free text without diacritics, the most specific rule, the triage
desk, least-loaded assignment."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.core.routing import least_loaded_officer, match_area, route
from bot.store.db import session_scope
from bot.store.models import Area, Officer, OrgUnit, RoutingRule, Ticket
from tests.conftest import BACKENDS
from tests.helpers import make_ticket

pytestmark = pytest.mark.parametrize("empty_db_url", BACKENDS, indirect=True)


def unit_code(session, unit_id: int) -> str:
    return session.get(OrgUnit, unit_id).code


@pytest.mark.parametrize("text, area", [
    ("duong thon dong ngap nang", "thon-dong"),
    ("Đường THÔN ĐÔNG ngập", "thon-dong"),
    ("o tdp 1 co nguoi dot rac", "tdp-1"),
    ("ngõ 5 thôn 12 mất điện", None),  # no Thôn 12 here: not read as Thôn 1
    ("xóm bãi sạt lở", "xom-bai"),
])
def test_area_is_found_in_free_text(db_url, text, area):
    with session_scope(db_url) as session:
        found = match_area(session, text)
        assert (found.code if found else None) == area


def test_most_specific_rule_wins_and_unsure_reports_go_to_triage(db_url):
    with session_scope(db_url) as session:
        bai = session.scalar(select(Area).where(Area.code == "xom-bai"))
        vhxh = session.scalar(select(OrgUnit).where(OrgUnit.code == "xa-an-binh-vhxh"))
        session.add(RoutingRule(category="ha_tang", area_id=bai.id, unit_id=vhxh.id))
        session.flush()
        assert unit_code(session, route(session, "ha_tang", "phan_anh", None, False).unit_id) \
            == "xa-an-binh-kinh-te"
        assert unit_code(session, route(session, "ha_tang", "phan_anh", bai.id, False).unit_id) \
            == "xa-an-binh-vhxh"
        denunciation = route(session, "ha_tang", "to_cao", None, False)
        assert unit_code(session, denunciation.unit_id) == "xa-an-binh"
        assert session.get(Officer, denunciation.officer_id).username == "chutich"
        for category, unsure in (("khac", False), ("ha_tang", True)):
            triage = route(session, category, "phan_anh", None, unsure)
            assert unit_code(session, triage.unit_id) == "xa-an-binh-vp"
            assert triage.rule_id is None


def test_new_tickets_spread_over_the_least_loaded_officers(db_url):
    codes = [make_ticket(db_url, text=f"Ổ gà {i}", category="ha_tang") for i in range(4)]
    with session_scope(db_url) as session:
        owners = [session.scalar(select(Ticket).where(Ticket.code == c)).officer_id
                  for c in codes]
        names = [session.get(Officer, o).username for o in owners]
        assert sorted(names) == ["kinhte", "kinhte", "kinhte2", "kinhte2"]
        unit = session.scalar(select(OrgUnit).where(OrgUnit.code == "xa-an-binh-vhxh"))
        assert least_loaded_officer(session, unit.id).username == "vanhoa"


def test_ticket_gets_area_from_its_location_text(db_url):
    code = make_ticket(db_url, category="ha_tang", location_text="gan cho thon dong")
    with session_scope(db_url) as session:
        ticket = session.scalar(select(Ticket).where(Ticket.code == code))
        assert session.get(Area, ticket.area_id).code == "thon-dong"
        assert ticket.events[0].data["area_id"] == ticket.area_id


def test_a_configured_area_named_in_a_report_is_found_without_the_nlu(app_env):
    from bot.core import service

    assert service.area_named_in("Bãi rác tự phát ở thon 2 bốc mùi") == "Thôn 2"
    assert service.area_named_in("cống ở tổ 1 bị tắc") == "Tổ dân phố 1"  # an alias
    assert service.area_named_in("đường liên xã bị sụt lún") is None
