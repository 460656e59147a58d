"""The desk's ticket page and its actions over real HTTP (aiohttp's test server on 127.0.0.1)
and a real database (SQLite and PostgreSQL): what the page shows, every action through the core
(POST-redirect-GET), CSRF, another unit's officer, a tố cáo that is "not found", escaped XSS
strings, signed PDFs and the files of a ticket. Officers log in with a real desk session."""

from __future__ import annotations

import re

import aiohttp
import pytest
from sqlalchemy import select

from bot.core import service
from bot.settings import load_settings
from bot.store.db import session_scope
from bot.store.desk_models import AnswerTemplate, NluCorrection, TicketDocument
from bot.store.files import LocalFileStorage
from bot.store.models import (
    Attachment,
    Citizen,
    DataAccessLog,
    Officer,
    Ticket,
    TicketNote,
)
from tests.conftest import BACKENDS
from tests.desk_client import desk
from tests.helpers import context, ticket, told

pytestmark = [pytest.mark.parametrize("empty_db_url", BACKENDS, indirect=True),
              pytest.mark.timeout(120)]

REPORT = "Đường bê tông thôn 3 bị sụt lún một đoạn dài, xe máy đi rất nguy hiểm"
PHOTO = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 8
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n"
XSS = "<script>alert('x')</script><img src=x onerror=alert(1)>"


def report(text: str = REPORT, sender: str = "web:c1", key: str = "inbox:1", **kwargs) -> str:
    kwargs = {"category": "ha_tang", **kwargs}
    return service.submit_report(sender, text, kwargs.pop("place", "Thôn 3"), key,
                                 ctx=context(), **kwargs).code


def attach(url: str, code: str, data: bytes = PHOTO, content_type: str = "image/jpeg",
           media_type: str = "photo") -> int:
    stored = LocalFileStorage(load_settings().storage_dir).put(data, ".jpg")
    with session_scope(url) as session:
        row = Attachment(ticket_id=ticket(url, code).id, media_type=media_type,
                         content_type=content_type, storage_key=stored.key,
                         size_bytes=stored.size_bytes, sha256=stored.sha256)
        session.add(row)
        session.flush()
        return row.id


def test_the_page_shows_the_words_place_map_category_confidence_and_clocks(app_env):
    code = report(latitude=16.75, longitude=107.18, predicted_category="ha_tang",
                  nlu_confidence=0.87)
    photo = attach(app_env, code)
    video = attach(app_env, code, b"video" * 50, "video/mp4", "video")
    voice = attach(app_env, code, b"voice" * 50, "audio/ogg", "voice")

    async def scenario(login) -> None:
        html = await login("truongkt").page(code)
        assert REPORT in html and "Thôn 3" in html
        assert f'<video controls preload="metadata" src="/desk/attachments/{video}"' in html
        assert f'<audio controls preload="metadata" src="/desk/attachments/{voice}"' in html
        assert "https://www.openstreetmap.org/?mlat=16.750000&amp;mlon=107.180000" in html
        assert "Hạ tầng, giao thông, điện nước" in html and "87%" in html
        assert "Thời hạn thụ lý" in html and re.search(r"hạn \d\d/\d\d/2026 \d\d:\d\d", html)
        assert re.search(r"còn \d+ (ngày làm việc|ngày|giờ)", html)
        assert f'<img src="/desk/attachments/{photo}"' in html
        assert 'action="/desk/tickets/' + code + '/accept"' in html
        assert "/resolve" not in html  # not allowed before thụ lý: no form for it

    desk(scenario)


def test_accept_with_a_corrected_category_goes_through_the_core_and_records_a_correction(
        app_env):
    code = report(predicted_category="ha_tang", predicted_kind="phan_anh", nlu_confidence=0.4)

    async def scenario(login) -> None:
        html = await login("truongkt").act(code, "accept", kind="kien_nghi",
                                           category="moi_truong")
        assert "Đã thụ lý đơn." in html and "Thời hạn giải quyết" in html

    desk(scenario)
    accepted = ticket(app_env, code)
    assert (accepted.status, accepted.category, accepted.kind) == (
        "accepted", "moi_truong", "kien_nghi")
    with session_scope(app_env) as session:
        correction = session.scalar(select(NluCorrection))
        assert (correction.predicted_category, correction.fixed_category,
                correction.confidence) == ("ha_tang", "moi_truong", 0.4)


def test_a_question_then_the_citizens_answer_returns_the_ticket_to_its_status(app_env):
    code = report()

    async def scenario(login) -> None:
        head = login("truongkt")
        await head.act(code, "accept", kind="phan_anh", category="ha_tang")
        html = await head.act(code, "ask", question="Ông/Bà cho biết gần nhà số mấy ạ?")
        assert "Cần bổ sung thông tin" in html
        service.add_information("web:c1", code, "Trước cổng nhà văn hóa thôn", "inbox:2",
                                ctx=context())
        html = await head.page(code)
        assert "Trước cổng nhà văn hóa thôn" in html and "Đã thụ lý" in html

    desk(scenario)
    assert ticket(app_env, code).status == "accepted"
    assert any("gần nhà số mấy" in text for text in told(app_env))


def test_resolve_with_an_edited_template_queues_the_answer_to_the_citizen(app_env):
    code = report()
    with session_scope(app_env) as session:
        template = AnswerTemplate(category="ha_tang", title="Đã sửa đường",
                                  body="Dạ, xã đã cử người sửa [đoạn đường].")
        session.add(template)
        session.flush()
        template_id = template.id

    async def scenario(login) -> None:
        head = login("truongkt")
        await head.act(code, "accept", kind="phan_anh", category="ha_tang")
        html = await head.page(code, f"?template={template_id}")
        assert 'data-body="Dạ, xã đã cử người sửa [đoạn đường]."' in html
        assert re.search(r'id="answer-text"[^>]*>Dạ, xã đã cử người sửa \[đoạn đường\]\.<', html)
        form = aiohttp.FormData({"answer": "Dạ, xã đã cử người sửa đoạn đường trước nhà văn hóa.",
                                 "document_number": "15/UBND-KT"})
        form.add_field("file", PDF, content_type="application/pdf", filename="tl.pdf")
        assert (await head.post(code, "resolve", data=form))[0] == 303
        html = await head.page(code)
        assert "Đã gửi kết quả giải quyết tới người dân." in html
        assert "Văn bản trả lời số 15/UBND-KT" in html and "Xem bản PDF" in html

    desk(scenario)
    assert ticket(app_env, code).status == "resolved"
    with session_scope(app_env) as session:
        assert session.scalar(select(TicketDocument)).attachment_id is not None
    assert any("đoạn đường trước nhà văn hóa" in text for text in told(app_env))


def test_every_other_action_changes_the_ticket_through_the_core(app_env):
    code, other = report(), report("Đèn đường thôn 3 hỏng", key="inbox:9", sender="web:c2")
    urgent = report("Sạt lở đất tràn xuống đường thôn 3", key="inbox:5", sender="web:c3")
    with session_scope(app_env) as session:
        kinhte2 = session.scalar(select(Officer.id).where(Officer.username == "kinhte2"))

    async def scenario(login) -> None:
        head = login("truongkt")
        await head.act(code, "accept", kind="phan_anh", category="ha_tang")
        html = await head.act(code, "assign", officer_id=str(kinhte2))
        assert "Võ Thị Hạ Tầng" in html
        await head.act(code, "start")
        html = await head.act(code, "reply", text="Dạ, xã đã ghi nhận và đang bố trí người.")
        assert "Đã gửi trả lời tới người dân." in html
        html = await head.act(code, "note", text="Cần phối hợp với thôn trưởng")
        assert "Nội bộ" in html and "Cần phối hợp với thôn trưởng" in html
        await head.act(code, "resolve", answer="Dạ, đã sửa xong.")
        await head.act(code, "reopen", reason="Người dân báo vẫn còn sụt lún")
        await head.act(other, "link", of_code=code)
        html = await head.act(urgent, "clear_urgent", reason="Chỉ là đất trôi nhẹ")
        assert "Bỏ đánh dấu khẩn cấp" in html
        await head.act(urgent, "reject", reason="Không thuộc thẩm quyền của xã",
                       redirect="Công ty Điện lực huyện")
        status, location = await head.post(code, "transfer", data={
            "unit": "xa-an-binh-vhxh", "reason": "Thuộc lĩnh vực văn hóa"})
        assert (status, location) == (303, "/desk/")  # no longer theirs: back to the queue

    desk(scenario)
    worked, linked, flagged = (ticket(app_env, c) for c in (code, other, urgent))
    assert worked.status == "in_progress" and worked.officer_id != kinhte2
    assert worked.unit_id != flagged.unit_id
    assert linked.duplicate_of_id == worked.id
    assert not flagged.urgent and flagged.status == "rejected"
    assert any("đang bố trí người" in text for text in told(app_env))
    with session_scope(app_env) as session:
        notes = {n.text: n.internal for n in session.scalars(select(TicketNote))}
        assert notes["Cần phối hợp với thôn trưởng"] is True


def test_to_cao_extension_and_a_signed_pdf_at_acceptance(app_env):
    code = report("Cán bộ địa chính nhận tiền để làm sổ đỏ nhanh", kind="to_cao",
                  category="can_bo")

    async def scenario(login) -> None:
        handler = login("chutich")
        form = aiohttp.FormData({"kind": "to_cao", "category": "can_bo",
                                 "document_number": "05/TB-UBND"})
        form.add_field("file", PDF, content_type="application/pdf", filename="tb.pdf")
        status, location = await handler.post(code, "accept", data=form)
        assert status == 303, location
        html = await handler.act(code, "extend", days="30", decision_number="07/QĐ-UBND",
                                 reason="Cần xác minh thêm tại Sở")
        assert "Quyết định gia hạn số 07/QĐ-UBND" in html
        with session_scope(app_env) as session:
            document = session.scalar(select(TicketDocument).where(
                TicketDocument.number == "05/TB-UBND"))
            assert document.attachment_id is not None
            pdf_id = document.attachment_id
        async with handler.http.get(f"/desk/attachments/{pdf_id}") as response:
            assert response.status == 200 and await response.read() == PDF
            assert response.headers["Content-Type"] == "application/pdf"
        refused = aiohttp.FormData({"kind": "decision", "number": "1/QĐ"})
        refused.add_field("file", b"MZ not a pdf", content_type="application/pdf",
                          filename="x.pdf")
        status, body = await handler.post(code, "document", data=refused)
        assert status == 400 and "PDF" in body

    desk(scenario)
    with session_scope(app_env) as session:
        assert session.scalar(select(Attachment).where(
            Attachment.media_type == "document")).content_type == "application/pdf"
        found = session.scalar(select(Ticket).where(Ticket.code == code))
        assert [c.extensions for c in found.clocks if c.name == "resolve"] == [1]


def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(app_env):
    code = report()

    async def scenario(login) -> None:
        status, _ = await login("truongkt").post(
            code, "accept", csrf=False, data={"kind": "phan_anh", "category": "ha_tang"})
        assert status == 403
        status, _ = await login(None).post(code, "accept", csrf=False, data={
            "kind": "phan_anh", "category": "ha_tang", "csrf_token": "guess"})
        assert status == 403

    desk(scenario)
    assert ticket(app_env, code).status == "received"


def test_an_officer_of_another_unit_is_refused_the_page_the_post_and_the_files(app_env):
    code = report()
    photo = attach(app_env, code)

    async def scenario(login) -> None:
        other, head = login("vanhoa"), login("truongkt")
        status, html = await other.get(f"/desk/tickets/{code}")
        assert status == 404 and "Không tìm thấy đơn" in html and REPORT not in html
        status, body = await other.post(code, "accept",
                                        data={"kind": "phan_anh", "category": "ha_tang"})
        # the same "not found" as the page: a code outside one's scope reveals nothing
        assert status == 404 and "Không tìm thấy đơn" in body and REPORT not in body
        assert (await other.get(f"/desk/attachments/{photo}"))[0] == 404
        async with head.http.get(f"/desk/attachments/{photo}") as response:
            assert response.status == 200 and await response.read() == PHOTO
            assert response.headers["Content-Type"] == "image/jpeg"
            assert response.headers["X-Content-Type-Options"] == "nosniff"
        # served with ranges (a video can be seeked)
        async with head.http.get(f"/desk/attachments/{photo}",
                                 headers={"Range": "bytes=2-9"}) as response:
            assert response.status == 206 and await response.read() == PHOTO[2:10]
            assert response.headers["Content-Type"] == "image/jpeg"
            assert response.headers["Content-Disposition"] == "inline"
            assert response.headers["X-Content-Type-Options"] == "nosniff"
        status, _ = await login(None).get(f"/desk/tickets/{code}")
        assert status == 302  # to the login page

    desk(scenario)
    assert ticket(app_env, code).status == "received"
    with session_scope(app_env) as session:
        purposes = list(session.scalars(select(DataAccessLog.purpose)))
        assert "xem tệp đính kèm của đơn" in purposes


def test_a_to_cao_ticket_is_not_found_for_an_ordinary_officer(app_env):
    code = report("Cán bộ xã nhận tiền của dân", kind="to_cao", category="can_bo")
    photo = attach(app_env, code)

    async def scenario(login) -> None:
        for username in ("quantri", "kinhte"):
            officer = login(username)
            status, html = await officer.get(f"/desk/tickets/{code}")
            assert status == 404 and "nhận tiền" not in html
            status, body = await officer.post(code, "note", data={"text": "xem thử"})
            assert status == 404 and "Không tìm thấy đơn" in body
            assert (await officer.get(f"/desk/attachments/{photo}"))[0] == 404
        assert "nhận tiền" in await login("chutich").page(code)

    desk(scenario)
    with session_scope(app_env) as session:
        assert not session.scalars(select(TicketNote)).all()


def test_an_action_the_status_does_not_allow_is_a_polite_409_page(app_env):
    code = report()

    async def scenario(login) -> None:
        status, body = await login("truongkt").post(code, "reopen",
                                                    data={"reason": "Thử mở lại"})
        assert status == 409 and "trạng thái hiện tại" in body and "Traceback" not in body

    desk(scenario)


def test_xss_strings_in_text_place_names_and_notes_render_as_text(app_env):
    code = report(f"Đường hỏng {XSS}", place=f"Thôn {XSS}")
    with session_scope(app_env) as session:
        citizen = session.get(Citizen, ticket(app_env, code).citizen_id)
        citizen.display_name = f"Nguyễn {XSS}"
        session.scalar(select(Officer).where(Officer.username == "kinhte2")).full_name = XSS
        session.add(AnswerTemplate(category="ha_tang", title=f"Mẫu {XSS}", body=f"Dạ {XSS}"))

    async def scenario(login) -> None:
        head = login("truongkt")
        await head.act(code, "accept", kind="phan_anh", category="ha_tang")
        await head.act(code, "assign", officer_id="")  # the least loaded: kinhte2 or kinhte
        await head.act(code, "note", text=f"Ghi chú {XSS}")
        html = await head.act(code, "ask", question=f"Hỏi {XSS}")
        assert "<script>alert" not in html and "<img src=x" not in html
        # words, place, citizen's name, note, question, template title and body, officer
        assert html.count("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;") >= 8

    desk(scenario)


def test_likely_duplicates_are_offered_with_a_merge_form_that_links_them(app_env):
    first = report("Cống thoát nước thôn 3 bị tắc, nước tràn ra đường")
    second = report("Cống thoát nước ở thôn 3 tắc, nước tràn ra đường", key="inbox:2",
                    sender="web:c2")

    async def scenario(login) -> None:
        head = login("truongkt")
        html = await head.page(second)
        candidates = html[html.index("Có thể trùng với"):]
        assert first in candidates and 'name="of_code" value="' + first + '"' in candidates
        assert "Gộp đơn" in candidates
        await head.act(second, "link", of_code=first)

    desk(scenario)
    assert ticket(app_env, second).duplicate_of_id == ticket(app_env, first).id
