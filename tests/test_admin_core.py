"""Admin CRUD of the desk: only admins, every change audited by field names (never values),
and changes to rules, areas, FAQ and templates take effect at once (DB rows, no restart)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import delete, func, select

from bot.core import admin, answers
from bot.core.authz import Caller, NotAllowed, active_officer
from bot.core.faq import best_answer
from bot.core.officers import redeem_invite
from bot.store.db import session_scope
from bot.store.desk_models import AdminChange, AnswerTemplate, DeskSession
from bot.store.models import Area, FaqEntry, Officer, OrgUnit, Ticket
from tests.conftest import BACKENDS
from tests.helpers import NOW, make_ticket

pytestmark = pytest.mark.parametrize("empty_db_url", BACKENDS, indirect=True)


def officer(session, username: str) -> Officer:
    return session.scalar(select(Officer).where(Officer.username == username))


def as_(session, username: str) -> Caller:
    return Caller.officer(officer(session, username).id)


def unit(session, code: str) -> OrgUnit:
    return session.scalar(select(OrgUnit).where(OrgUnit.code == code))


def changes(session) -> list[tuple[str, str, list[str]]]:
    return [(c.entity, c.action, c.fields)
            for c in session.scalars(select(AdminChange).order_by(AdminChange.id))]


def test_non_admins_are_refused_and_nothing_is_written(db_url):
    with session_scope(db_url) as session:
        kt = officer(session, "kinhte")
        calls = [
            lambda c: admin.list_units(session, c),
            lambda c: admin.create_unit(session, c, "moi", "Đơn vị mới", "department"),
            lambda c: admin.update_unit(session, c, kt.unit_id, name="Đổi tên"),
            lambda c: admin.create_area(session, c, kt.unit_id, "thon-9", "Thôn 9", "thon"),
            lambda c: admin.create_officer(session, c, "moi", "Cán Bộ Mới", kt.unit_id,
                                           ["officer"]),
            lambda c: admin.update_officer(session, c, kt.id, on_call=True),
            lambda c: admin.set_roles(session, c, kt.id, ["admin"]),
            lambda c: admin.deactivate_officer(session, c, kt.id),
            lambda c: admin.invite_officer(session, c, kt.id),
            lambda c: admin.create_rule(session, c, kt.unit_id, category="khac"),
            lambda c: admin.create_faq(session, c, "moi", "Hỏi?", "Đáp."),
            lambda c: admin.create_template(session, c, "Mẫu", "Nội dung"),
            lambda c: answers.update_template(session, c, 1, title="x"),
        ]
        for username in ("kinhte", "truongkt", "chutich"):  # officer, unit head, leader
            for call in calls:
                with pytest.raises(NotAllowed):
                    call(as_(session, username))
        with pytest.raises(NotAllowed):
            admin.list_units(session, Caller.citizen(1, "web"))
        assert session.scalar(select(func.count()).select_from(AdminChange)) == 0
        assert officer(session, "kinhte").active and not officer(session, "kinhte").on_call


def test_each_change_writes_an_admin_change_naming_fields_not_values(db_url):
    with session_scope(db_url) as session:
        me = as_(session, "quantri")
        new_unit = admin.create_unit(session, me, "xa-an-binh-tp", "Phòng Tư pháp",
                                     "department", parent_id=unit(session, "xa-an-binh").id)
        admin.update_unit(session, me, new_unit.id, name="Phòng Tư pháp - Hộ tịch")
        area = admin.create_area(session, me, unit(session, "xa-an-binh").id, "thon-4",
                                 "Thôn 4", "thon", aliases=["thôn bốn", " thôn bốn "])
        admin.update_area(session, me, area.id, aliases=["thôn bốn", "thon 4"])
        person = admin.create_officer(session, me, "tuphap", "Mai Thị Tư Pháp", new_unit.id,
                                      ["officer"], email="tuphap@example.org")
        admin.update_officer(session, me, person.id, on_call=True, email="tp@example.org")
        admin.set_roles(session, me, person.id, ["officer", "unit_head"])
        code = admin.invite_officer(session, me, person.id)
        rule = admin.create_rule(session, me, new_unit.id, category="thu_tuc_hanh_chinh",
                                 kind="khieu_nai", officer_id=person.id)
        admin.update_rule(session, me, rule.id, kind="kien_nghi")
        admin.delete_rule(session, me, rule.id)
        faq = admin.create_faq(session, me, "gio_tiep_dan", "Giờ tiếp dân?", "Dạ, sáng thứ Năm.")
        admin.update_faq(session, me, faq.id, answer="Dạ, sáng thứ Năm hằng tuần.")
        template = admin.create_template(session, me, "Đã sửa xong", "Dạ, đã sửa xong.",
                                         category="ha_tang")
        admin.update_template(session, me, template.id, body="Dạ, đơn vị đã sửa xong.")
        admin.update_officer(session, me, person.id, on_call=True)  # no change: no row
        admin.deactivate_officer(session, me, person.id)
        assert changes(session) == [
            ("unit", "create", ["code", "is_triage", "level", "name", "parent_id"]),
            ("unit", "update", ["name"]),
            ("area", "create", ["aliases", "code", "is_remote", "kind", "name", "unit_id"]),
            ("area", "update", ["aliases"]),
            ("officer", "create", ["email", "full_name", "on_call", "roles", "unit_id",
                                   "username"]),
            ("officer", "update", ["email", "on_call"]),
            ("officer", "update", ["roles"]),
            ("officer_invite", "create", ["invite"]),
            ("routing_rule", "create", ["category", "kind", "officer_id", "unit_id"]),
            ("routing_rule", "update", ["kind"]),
            ("routing_rule", "delete", []),
            ("faq", "create", ["answer", "key", "question"]),
            ("faq", "update", ["answer"]),
            ("answer_template", "create", ["body", "category", "title"]),
            ("answer_template", "update", ["body"]),
            ("officer", "deactivate", ["active", "on_call"]),
        ]
        rows = list(session.scalars(select(AdminChange)))
        assert {r.officer_id for r in rows} == {officer(session, "quantri").id}
        assert area.aliases == ["thôn bốn", "thon 4"]
        assert "tp@example.org" not in repr([r.fields for r in rows]) and len(code) == 9


def test_routing_rule_and_area_alias_take_effect_without_restart(db_url):
    with session_scope(db_url) as session:
        me = as_(session, "quantri")
        thon2 = session.scalar(select(Area).where(Area.code == "thon-2"))
        admin.create_rule(session, me, unit(session, "xa-an-binh-vhxh").id,
                          category="moi_truong", area_id=thon2.id)
        admin.update_area(session, me, thon2.id, aliases=["thôn hai", "xóm Giếng"])
    code = make_ticket(db_url, "Rác ứ đọng bốc mùi", key="a", category="moi_truong",
                       location_text="cuối xóm giếng")
    with session_scope(db_url) as session:
        ticket = session.scalar(select(Ticket).where(Ticket.code == code))
        assert ticket.area_id == thon2.id
        assert ticket.unit_id == unit(session, "xa-an-binh-vhxh").id
        rule_id = admin.list_rules(session, as_(session, "quantri"))[-1].id
        admin.delete_rule(session, as_(session, "quantri"), rule_id)
    code = make_ticket(db_url, "Rác ứ đọng bốc mùi", key="b", category="moi_truong",
                       location_text="xóm giếng")
    with session_scope(db_url) as session:
        ticket = session.scalar(select(Ticket).where(Ticket.code == code))
        assert ticket.unit_id == unit(session, "xa-an-binh-kinh-te").id


def test_faq_answer_edited_is_given_at_once(app_env):
    with session_scope(app_env) as session:
        entry = session.scalar(select(FaqEntry).where(FaqEntry.key == "gio_lam_viec"))
        admin.update_faq(session, as_(session, "quantri"), entry.id,
                         answer="Dạ, xã làm việc cả sáng thứ Bảy.")
    assert best_answer("giờ làm việc của xã", "gio_lam_viec") == "Dạ, xã làm việc cả sáng thứ Bảy."
    with session_scope(app_env) as session:
        entry = session.scalar(select(FaqEntry).where(FaqEntry.key == "gio_lam_viec"))
        admin.update_faq(session, as_(session, "quantri"), entry.id, active=False)
    assert best_answer("giờ làm việc của xã", "gio_lam_viec") != "Dạ, xã làm việc cả sáng thứ Bảy."


def test_deactivated_officer_is_refused_and_loses_desk_sessions(db_url):
    with session_scope(db_url) as session:
        kt = officer(session, "kinhte")
        session.add(DeskSession(token_hash="a" * 64, officer_id=kt.id, csrf_secret="s",
                                created_at=NOW, last_seen_at=NOW,
                                expires_at=NOW + timedelta(hours=8)))
        session.flush()
        admin.update_officer(session, as_(session, "quantri"), kt.id, on_call=True)
        admin.deactivate_officer(session, as_(session, "quantri"), kt.id, now=NOW)
        assert not kt.active and not kt.on_call
        assert session.get(DeskSession, "a" * 64).revoked_at == NOW
        with pytest.raises(NotAllowed):
            active_officer(session, Caller.officer(kt.id))
        with pytest.raises(admin.AdminError, match="tự khóa"):
            admin.deactivate_officer(session, as_(session, "quantri"),
                                     officer(session, "quantri").id)
        with pytest.raises(admin.AdminError, match="quyền quản trị"):
            admin.set_roles(session, as_(session, "quantri"), officer(session, "quantri").id,
                            ["leader"])
        admin.update_officer(session, as_(session, "quantri"), kt.id, active=True)
        assert active_officer(session, Caller.officer(kt.id)) is kt


def test_invite_code_links_the_officers_chat_account(db_url):
    with session_scope(db_url) as session:
        kt = officer(session, "kinhte")
        code = admin.invite_officer(session, as_(session, "quantri"), kt.id, now=NOW)
        assert code[4] == "-"
        assert redeem_invite(session, "telegram", "555", code, NOW) is kt


def test_bad_values_are_refused_with_a_message(db_url):
    with session_scope(db_url) as session:
        me = as_(session, "quantri")
        vp = unit(session, "xa-an-binh-vp")
        cases = [
            (lambda: admin.create_unit(session, me, "Có Dấu", "X", "department"), "Mã đơn vị"),
            (lambda: admin.create_unit(session, me, "xa-an-binh", "X", "department"), "đã có"),
            (lambda: admin.create_unit(session, me, "moi", "X", "district"), "Cấp đơn vị"),
            (lambda: admin.update_unit(session, me, unit(session, "tinh-demo").id,
                                       parent_id=vp.id), "cấp dưới"),
            (lambda: admin.update_unit(session, me, vp.id, is_triage=False), "bàn phân loại"),
            (lambda: admin.update_unit(session, me, vp.id, code="x"), "Không sửa được"),
            (lambda: admin.create_officer(session, me, "kinhte", "X", vp.id, ["officer"]),
             "đã có"),
            (lambda: admin.create_officer(session, me, "moi", "X", vp.id, ["boss"]), "Vai trò"),
            (lambda: admin.create_officer(session, me, "moi", "X", vp.id, []), "vai trò"),
            (lambda: admin.create_officer(session, me, "moi", "X", vp.id, ["officer"],
                                          email="khong-phai-email"), "e-mail"),
            (lambda: admin.create_rule(session, me, vp.id, category="ha_tang"), "Đã có quy tắc"),
            (lambda: admin.create_rule(session, me, vp.id, category="nope"), "Lĩnh vực"),
            (lambda: admin.create_rule(session, me, vp.id, category="khac",
                                       officer_id=officer(session, "kinhte").id), "thuộc đơn vị"),
            (lambda: admin.create_faq(session, me, "gio_lam_viec", "H?", "Đ."), "đã có"),
            (lambda: admin.create_template(session, me, "", "Nội dung"), "tên mẫu"),
            (lambda: admin.update_area(session, me, 999999, name="X"), "Không tìm thấy"),
        ]
        for call, message in cases:
            with pytest.raises(admin.AdminError, match=message):
                call()
        assert session.scalar(select(func.count()).select_from(AdminChange)) == 0


def test_templates_for_a_category_come_first_then_general_ones(db_url):
    with session_scope(db_url) as session:
        session.execute(delete(AnswerTemplate))  # without the demo commune's own templates
        me = as_(session, "quantri")
        general = admin.create_template(session, me, "Cảm ơn", "Dạ, cảm ơn Ông/Bà.")
        road = admin.create_template(session, me, "Đã sửa đường", "Dạ, đã sửa.",
                                     category="ha_tang")
        old = admin.create_template(session, me, "Mẫu cũ", "Cũ", category="ha_tang")
        admin.create_template(session, me, "Đất", "Dạ.", category="dat_dai")
        admin.update_template(session, me, old.id, active=False)
        assert answers.templates_for(session, "ha_tang") == [road, general]
        assert answers.templates_for(session, None) == [general]
        assert [t.id for t in admin.list_templates(session, me)][:2] == [general.id, road.id]
