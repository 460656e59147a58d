"""The desk's pages over real HTTP and a real database: the queue (tabs with counts, urgent
first then deadline, filters in the URL, search without diacritics, polling for new tickets),
notices (unread count on every page, mark read), admin pages (every section, audited, invite
link) and free text from citizens, officers and admins always rendered as text."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.core.notices import store_notice, unread_count
from bot.store.db import session_scope
from bot.store.desk_models import AdminChange, AnswerTemplate, OfficerNotice
from bot.store.models import Area, FaqEntry, Officer, OrgUnit, RoutingRule, Ticket
from tests.conftest import BACKENDS
from tests.desk_client import csrf, login, make_app, page_token, run, with_passwords
from tests.helpers import NOW, TestClock, make_ticket

pytestmark = pytest.mark.timeout(120)
XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'
ESCAPED = "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;"


def seed_queue(url: str) -> dict[str, str]:
    """Three reports for Phòng Kinh tế (roads), one urgent, filed an hour apart."""
    codes = {
        "road": make_ticket(url, "Đường thôn 3 ngập sâu sau mưa", category="ha_tang",
                            now=NOW),
        "light": make_ticket(url, "Đèn đường thôn Đông hỏng", category="ha_tang",
                             now=NOW + timedelta(hours=1)),
        "fire": make_ticket(url, "Cháy rơm gần nhà văn hóa", category="moi_truong",
                            urgent=True, now=NOW + timedelta(hours=2)),
    }
    return codes


def officer_id(url: str, username: str) -> int:
    with session_scope(url) as session:
        return session.scalar(select(Officer.id).where(Officer.username == username))


def test_queue_lists_urgent_first_then_by_deadline_with_tab_counts(app_env):
    with_passwords(app_env, "truongkt")
    codes = seed_queue(app_env)

    async def scenario(client):
        await login(client, "truongkt")
        html = await (await client.get("/desk/?tab=unit")).text()
        positions = [html.index(codes[k]) for k in ("fire", "road", "light")]
        assert positions == sorted(positions), "urgent first, then the nearest deadline"
        assert 'data-tab="unit"' in html and "Khẩn cấp" in html
        assert "Của tôi" in html and "Quá hạn" in html
        assert "còn " in html  # time left
        assert '<span class="count">3</span>' in html  # the unit tab counts three
        assert "Phân loại theo tuần" in html  # a unit head sees the triage figures

    run(make_app(clock=TestClock(NOW + timedelta(hours=3))), scenario=scenario)


def test_queue_filters_live_in_the_url_and_search_ignores_diacritics(app_env):
    with_passwords(app_env, "truongkt")
    codes = seed_queue(app_env)

    async def scenario(client):
        await login(client, "truongkt")
        html = await (await client.get("/desk/?tab=unit&q=duong+thon+3")).text()
        assert codes["road"] in html and codes["light"] not in html
        assert 'value="duong thon 3"' in html  # the box keeps the search
        html = await (await client.get("/desk/?tab=unit&category=moi_truong")).text()
        assert codes["fire"] in html and codes["road"] not in html
        assert '<option value="moi_truong" selected>' in html
        assert "category=moi_truong" in html  # tab links keep the filter
        bad = await client.get("/desk/?tab=nope&due_within_days=abc&received_from=x")
        assert bad.status == 200  # bad values are ignored, never an error

    run(make_app(), scenario=scenario)


@pytest.mark.parametrize("empty_db_url", BACKENDS, indirect=True)
def test_queue_json_brings_a_new_ticket_without_a_reload(app_env):
    with_passwords(app_env, "truongkt")
    seed_queue(app_env)

    async def scenario(client):
        assert (await client.get("/desk/queue.json")).status == 401
        await login(client, "truongkt")
        first = await (await client.get("/desk/queue.json?tab=unit")).json()
        assert "html" in first and first["counts"]["unit"] == 3
        same = await (await client.get(f"/desk/queue.json?tab=unit&since={first['token']}")).json()
        assert "html" not in same and same["token"] == first["token"]
        code = make_ticket(app_env, "Cống tắc <b>đầu</b> ngõ", category="ha_tang")
        after = await (await client.get(f"/desk/queue.json?tab=unit&since={first['token']}")).json()
        assert after["token"] != first["token"] and code in after["html"]
        assert "&lt;b&gt;đầu&lt;/b&gt;" in after["html"]
        assert after["counts"]["unit"] == 4

    run(make_app(), scenario=scenario)


def test_notices_show_with_an_unread_count_and_can_be_marked_read(app_env):
    with_passwords(app_env, "kinhte")
    code = make_ticket(app_env, "Ổ gà lớn trước cổng chợ", category="ha_tang")
    with session_scope(app_env) as session:
        officer = session.scalar(select(Officer).where(Officer.username == "kinhte"))
        ticket = session.scalar(select(Ticket).where(Ticket.code == code))
        for n in range(2):
            store_notice(session, officer, ticket, "new", f"Đơn mới {code} {XSS} #{n}",
                         f"test:{code}:{n}", NOW, f"http://example.vn/desk/tickets/{code}")

    with session_scope(app_env) as session:
        unread = unread_count(session, officer_id(app_env, "kinhte"))
    assert unread >= 2  # ours, and any the core stored for the new ticket

    async def scenario(client):
        await login(client, "kinhte")
        html = await (await client.get("/desk/")).text()
        assert f'id="unread-count">{unread}<' in html
        html = await (await client.get("/desk/notices")).text()
        assert html.count(f'href="/desk/tickets/{code}"') >= 2  # a path on this desk
        assert ESCAPED in html and XSS not in html
        assert "chưa bật thông báo trên trình duyệt" in html  # held push, with the reason
        token = csrf(html)
        with session_scope(app_env) as session:
            one = session.scalar(select(OfficerNotice.id).order_by(OfficerNotice.id))
        await client.post("/desk/notices/read", data={"csrf_token": token, "notice_id": one})
        html = await (await client.get("/desk/")).text()
        assert f'id="unread-count">{unread - 1}<' in html
        html = await (await client.post("/desk/notices/read", data={"csrf_token": token})).text()
        assert 'id="unread-count">0<' in html and "Đã đánh dấu tất cả là đã đọc." in html

    run(make_app(), scenario=scenario)


async def admin_post(client, path: str, data: dict) -> str:
    token = await page_token(client, "/desk/admin/officers")
    response = await client.post(path, data={"csrf_token": token, **data})
    assert response.status == 200, (path, response.status)
    return await response.text()


@pytest.mark.parametrize("empty_db_url", BACKENDS, indirect=True)
def test_admin_pages_create_and_edit_every_kind_of_record_with_an_audit_row(app_env):
    with_passwords(app_env, "quantri")
    with session_scope(app_env) as session:
        unit_id = session.scalar(select(OrgUnit.id).where(OrgUnit.code == "xa-an-binh-kinh-te"))

    async def scenario(client):
        await login(client, "quantri")
        for section in ("units", "areas", "officers", "rules", "faq", "templates"):
            response = await client.get(f"/desk/admin/{section}")
            assert response.status == 200, section
        html = await admin_post(client, "/desk/admin/units/new", {
            "code": "to-cong-nghe", "name": "Tổ công nghệ", "level": "department",
            "parent_id": "", "active": "1"})
        assert "Đã thêm." in html and "Tổ công nghệ" in html
        await admin_post(client, "/desk/admin/areas/new", {
            "unit_id": unit_id, "code": "thon-moi", "name": "Thôn Mới", "kind": "thon",
            "aliases": "Xóm Mới\nthon moi"})
        await admin_post(client, "/desk/admin/officers/new", {
            "username": "diachinh", "full_name": "Lê Địa Chính", "unit_id": unit_id,
            "roles": "officer", "email": "dc@example.vn"})
        await admin_post(client, "/desk/admin/faq/new", {
            "key": "gio_tiep_dan", "question": "Giờ tiếp dân?", "answer": "Sáng thứ Năm."})
        await admin_post(client, "/desk/admin/templates/new", {
            "category": "ha_tang", "title": "Đã sửa đường", "body": "Xã đã sửa đoạn đường."})
        await admin_post(client, "/desk/admin/rules/new", {
            "category": "dat_dai", "kind": "khieu_nai", "unit_id": unit_id})
        html = await admin_post(client, "/desk/admin/units/new", {
            "code": "TO CONG NGHE!", "name": "x", "level": "department"})
        assert "Mã đơn vị chỉ gồm" in html  # the core's message, as an error flash
        new_id = officer_id(app_env, "diachinh")
        html = await admin_post(client, f"/desk/admin/officers/{new_id}", {
            "full_name": "Lê Thị Địa Chính", "unit_id": unit_id, "on_call": "1",
            "roles": ["officer", "unit_head"], "email": ""})
        assert "Đã lưu." in html

    run(make_app(), scenario=scenario)
    with session_scope(app_env) as session:
        officer = session.scalar(select(Officer).where(Officer.username == "diachinh"))
        assert officer.full_name == "Lê Thị Địa Chính" and officer.on_call
        assert {r.role for r in officer.roles} == {"officer", "unit_head"}
        area = session.scalar(select(Area).where(Area.code == "thon-moi"))
        assert area.aliases == ["Xóm Mới", "thon moi"]
        assert session.scalar(select(FaqEntry).where(FaqEntry.key == "gio_tiep_dan"))
        assert session.scalar(select(AnswerTemplate).where(AnswerTemplate.title == "Đã sửa đường"))
        assert session.scalar(select(RoutingRule).where(RoutingRule.kind == "khieu_nai",
                                                        RoutingRule.category == "dat_dai"))
        entities = {c.entity for c in session.scalars(select(AdminChange))}
        assert {"unit", "area", "officer", "faq", "answer_template", "routing_rule"} <= entities


def test_admin_invite_link_and_deactivation_take_effect_at_once(app_env):
    with_passwords(app_env, "quantri", "kinhte")
    target = officer_id(app_env, "kinhte2")
    leaving = officer_id(app_env, "kinhte")

    async def scenario(admin_client, other):
        await login(admin_client, "quantri")
        html = await admin_post(admin_client, f"/desk/admin/officers/{target}/invite", {})
        link = html.split('class="invite-link">')[1].split("<")[0]
        assert "/desk/invite/" in link
        path = link[link.index("/desk/invite/"):]
        assert (await other.get(path)).status == 200
        await login(other, "kinhte")
        assert (await other.get("/desk/", allow_redirects=False)).status == 200
        html = await admin_post(admin_client, f"/desk/admin/officers/{leaving}/deactivate", {})
        assert "Đã ngừng tài khoản" in html
        assert (await other.get("/desk/", allow_redirects=False)).status == 302
        await login(other, "kinhte", expect=401)

    run(make_app(), make_app(), scenario=scenario)


def test_free_text_from_citizens_officers_and_admins_renders_as_text(app_env):
    with_passwords(app_env, "quantri", "truongkt")
    code = make_ticket(app_env, f"Đường hỏng {XSS}", category="ha_tang",
                       location_text=f"Thôn {XSS}")
    with session_scope(app_env) as session:
        truong = session.scalar(select(Officer).where(Officer.username == "truongkt"))
        truong.full_name = f"Trưởng {XSS}"
        session.add(FaqEntry(key="xss", question=f"Hỏi {XSS}", answer=f"Đáp {XSS}"))
        session.add(AnswerTemplate(category="ha_tang", title=f"Mẫu {XSS}", body=f"Nội {XSS}"))
        area = session.scalar(select(Area))
        area.aliases = [f"Bí danh {XSS}"]

    async def scenario(client, officer):
        await login(client, "quantri")
        for section in ("officers", "faq", "templates", "areas"):
            html = await (await client.get(f"/desk/admin/{section}")).text()
            assert ESCAPED in html and XSS not in html, section
        await login(officer, "truongkt")
        html = await (await officer.get("/desk/?tab=unit")).text()
        assert code in html and ESCAPED in html and XSS not in html
        html = await (await officer.get(f"/desk/?tab=unit&q={XSS}")).text()
        assert XSS not in html

    run(make_app(), make_app(), scenario=scenario)


def test_a_denunciation_is_counted_but_never_listed_for_an_officer_who_may_not_see_it(app_env):
    with_passwords(app_env, "quantri", "chutich")
    secret = make_ticket(app_env, "Tố cáo cán bộ địa chính nhận tiền", kind="to_cao",
                         category="can_bo")
    with session_scope(app_env) as session:
        ticket = session.scalar(select(Ticket).where(Ticket.code == secret))
        assert ticket.confidential

    async def scenario(admin_client, handler):
        await login(admin_client, "quantri")
        for path in ("/desk/?tab=unit", f"/desk/?tab=unit&q={secret}",
                     "/desk/?tab=unit&status=all&q=dia+chinh"):
            html = await (await admin_client.get(path)).text()
            assert f"/desk/tickets/{secret}" not in html and "nhận tiền" not in html, path
        html = await (await admin_client.get("/desk/?tab=unit")).text()
        assert "1 đơn tố cáo bảo mật không hiển thị" in html
        data = await (await admin_client.get("/desk/queue.json?tab=unit")).json()
        assert f"/desk/tickets/{secret}" not in data["html"]
        await login(handler, "chutich")
        html = await (await handler.get("/desk/?tab=unit")).text()
        assert f"/desk/tickets/{secret}" in html

    run(make_app(), make_app(), scenario=scenario)
