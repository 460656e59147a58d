"""The citizen web chat over real HTTP (aiohttp's test server on 127.0.0.1) and a real database:
uploads, location pins, replies, delivery and the page itself. Rasa is a closed port, so
messages are stored and postponed, as in tests/test_pipeline.py."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import FormData
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bot.core import service
from bot.core.attachments import MAX_ATTACHMENT_BYTES, of_inbox
from bot.core.messaging import Outbound, queue_outbound
from bot.dialogue.pipeline import Pipeline
from bot.dialogue.rasa_client import RasaClient
from bot.settings import load_settings
from bot.store.db import session_scope
from bot.store.files import LocalFileStorage
from bot.store.models import Attachment, InboxMessage, OutboxMessage, Ticket
from bot.web.app import create_app
from tests.helpers import NOW
from tests.test_pipeline import closed_port

Scenario = Callable[[TestClient], Awaitable[None]]
PHOTO = b"\xff\xd8\xff\xe0" + os.urandom(3000)  # only the declared type matters to the server


def chat(scenario: Scenario, rasa_url: str | None = None) -> None:
    """Run a scenario against the bot's whole web app (chat, desk, ops) with the settings of
    app_env; Rasa is a closed port unless `rasa_url` says otherwise."""
    settings = load_settings()
    rasa = RasaClient(rasa_url or f"http://127.0.0.1:{closed_port()}", "token", timeout=2)
    pipeline = Pipeline(settings.effective_database_url, rasa, clock=lambda: NOW)

    async def main() -> None:
        async with TestClient(TestServer(create_app(settings, pipeline))) as client:
            await scenario(client)
        await rasa.aclose()

    asyncio.run(main())


def file_form(data: bytes, content_type: str, client_id: str = "c1", **fields: str) -> FormData:
    form = FormData()
    form.add_field("client_message_id", client_id)
    for name, value in fields.items():
        form.add_field(name, value)
    form.add_field("file", data, content_type=content_type, filename="tep")
    return form


async def upload(client: TestClient, form: FormData, status: int = 200) -> dict:
    response = await client.post("/api/chat/upload", data=form)
    assert response.status == status, await response.text()
    return await response.json()


async def post(client: TestClient, body: dict, status: int = 200) -> dict:
    response = await client.post("/api/chat/messages", json=body)
    assert response.status == status, await response.text()
    return await response.json()


def inbox(url: str) -> list[InboxMessage]:
    with session_scope(url) as session:
        rows = list(session.scalars(select(InboxMessage).order_by(InboxMessage.id)))
        session.expunge_all()
        return rows


def files_on_disk() -> list[Path]:
    root = load_settings().storage_dir
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def attachments(url: str) -> list[Attachment]:
    with session_scope(url) as session:
        rows = list(session.scalars(select(Attachment)))
        session.expunge_all()
        return rows


@pytest.mark.timeout(60)
def test_an_upload_stores_one_inbox_row_and_the_very_bytes(app_env):
    async def scenario(client: TestClient) -> None:
        answer = await upload(client, file_form(PHOTO, "image/jpeg", caption="Ổ gà thôn 3"))
        assert isinstance(answer["messages"], list)

    chat(scenario)
    [row] = inbox(app_env)
    assert row.channel == "web" and row.text == "Ổ gà thôn 3"
    assert row.payload["media"] == [
        {"type": "photo", "content_type": "image/jpeg", "file_size": len(PHOTO)}]
    assert "media_failed" not in row.payload
    with session_scope(app_env) as session:
        [kept] = of_inbox(session, row.id)
        assert (kept.media_type, kept.content_type, kept.size_bytes) == (
            "photo", "image/jpeg", len(PHOTO))
        assert LocalFileStorage(load_settings().storage_dir).get(kept.storage_key) == PHOTO


@pytest.mark.timeout(60)
def test_a_retried_upload_keeps_one_row_and_one_file(app_env):
    async def scenario(client: TestClient) -> None:
        await upload(client, file_form(PHOTO, "image/jpeg", client_id="same"))
        await upload(client, file_form(PHOTO, "image/jpeg", client_id="same"))

    chat(scenario)
    assert len(inbox(app_env)) == 1
    assert len(attachments(app_env)) == 1
    assert len(files_on_disk()) == 1


@pytest.mark.timeout(60)
def test_an_unsupported_file_is_recorded_as_refused_and_not_kept(app_env):
    async def scenario(client: TestClient) -> None:
        answer = await upload(client, file_form(b"PK\x03\x04" + b"0" * 500, "application/zip"))
        assert isinstance(answer["messages"], list)

    chat(scenario)
    [row] = inbox(app_env)
    assert row.payload["media_failed"] == [{"type": "document", "reason": "refused"}]
    assert attachments(app_env) == [] and files_on_disk() == []


@pytest.mark.timeout(120)
def test_a_file_over_20_mb_is_refused_without_storing_it(app_env):
    big = b"\x00" * (MAX_ATTACHMENT_BYTES + 1024)

    async def scenario(client: TestClient) -> None:
        await upload(client, file_form(big, "video/mp4"))

    chat(scenario)
    [row] = inbox(app_env)
    assert row.payload["media_failed"] == [{"type": "video", "reason": "too_large"}]
    assert row.payload["media"][0]["file_size"] > MAX_ATTACHMENT_BYTES
    assert attachments(app_env) == [] and files_on_disk() == []


@pytest.mark.timeout(60)
def test_an_upload_without_a_file_is_refused_politely(app_env):
    async def scenario(client: TestClient) -> None:
        form = FormData()
        form.add_field("caption", "không có tệp")
        answer = await upload(client, form, status=400)
        assert answer["error"].startswith("Dạ")

    chat(scenario)
    assert inbox(app_env) == []


@pytest.mark.timeout(60)
def test_a_location_pin_is_stored(app_env):
    async def scenario(client: TestClient) -> None:
        await post(client, {"location": {"latitude": 21.0285, "longitude": 105.8542},
                            "client_message_id": "pin"})

    chat(scenario)
    [row] = inbox(app_env)
    assert row.text is None
    assert row.payload["location_pin"] == {"latitude": 21.0285, "longitude": 105.8542}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("location", [
    {"latitude": 91, "longitude": 105.8}, {"latitude": 21.0, "longitude": -180.5},
    {"latitude": "21", "longitude": 105.8}, {"latitude": True, "longitude": 105.8},
    {"latitude": 21.0}, "21,105",
])
def test_a_bad_location_is_refused_and_nothing_stored(app_env, location):
    async def scenario(client: TestClient) -> None:
        answer = await post(client, {"location": location}, status=400)
        assert "vị trí" in answer["error"]

    chat(scenario)
    assert inbox(app_env) == []


@pytest.mark.timeout(60)
def test_a_reply_names_the_message_it_answers(app_env):
    async def scenario(client: TestClient) -> None:
        await post(client, {"text": "Nước vẫn ngập", "reply_to": "42", "client_message_id": "a"})
        await upload(client, file_form(PHOTO, "image/png", client_id="b", reply_to="42"))
        await post(client, {"text": "x", "reply_to": "<script>"}, status=400)

    chat(scenario)
    text, photo = inbox(app_env)
    assert (text.text, text.payload["reply_to"]) == ("Nước vẫn ngập", "42")
    assert photo.payload["reply_to"] == "42" and photo.payload["media"][0]["type"] == "photo"


@pytest.mark.timeout(60)
def test_a_json_body_over_64_kb_is_refused(app_env):
    async def scenario(client: TestClient) -> None:
        answer = await post(client, {"text": "a" * 70_000}, status=413)
        assert answer["error"].startswith("Dạ")

    chat(scenario)
    assert inbox(app_env) == []


@pytest.mark.timeout(60)
def test_delivery_records_the_id_and_names_the_ticket(app_env):
    async def scenario(client: TestClient) -> None:
        first = await post(client, {"text": "/start", "client_message_id": "s"})
        assert first["messages"] and "ticket" not in first["messages"][0]
        [row] = inbox(app_env)
        receipt = service.submit_report(f"web:{row.sender_external_id}", "Đường thôn 3 ngập",
                                        "Thôn 3", "web-test-1")
        with session_scope(app_env) as session:
            ticket = session.scalar(select(Ticket).where(Ticket.code == receipt.code))
            queue_outbound(session, Outbound("web", row.sender_external_id,
                                             "Dạ, đơn cần bổ sung ảnh", ticket_id=ticket.id),
                           "need-info", NOW)
        response = await client.get("/api/chat/messages")
        [message] = (await response.json())["messages"]
        assert message["ticket"] == receipt.code and message["text"] == "Dạ, đơn cần bổ sung ảnh"
        assert (await (await client.get("/api/chat/messages")).json())["messages"] == []

    chat(scenario)
    with session_scope(app_env) as session:
        sent = list(session.scalars(select(OutboxMessage)))
        assert sent and all(r.status == "sent" for r in sent)
        assert all(r.platform_message_id == str(r.id) for r in sent)


@pytest.mark.timeout(60)
def test_the_page_loads_nothing_external_and_never_renders_markup(app_env):
    pages: dict[str, str] = {}

    async def scenario(client: TestClient) -> None:
        response = await client.get("/")
        assert response.status == 200 and response.content_type == "text/html"
        assert "default-src 'self'" in response.headers["Content-Security-Policy"]
        pages["/"] = await response.text()
        for path in re.findall(r'(?:src|href)="([^"]+)"', pages["/"]):
            assert path.startswith("/static/"), path
            asset = await client.get(path)
            assert asset.status == 200, path
            pages[path] = await asset.text()

    chat(scenario)
    assert {"/static/chat.js", "/static/chat.css"} <= set(pages)
    for path, text in pages.items():
        assert not re.search(r"https?://|url\(|@import", text), path
        assert not re.search(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write", text), path
    page, script = pages["/"], pages["/static/chat.js"]
    assert 'accept="image/*,video/*,audio/*"' in page and "Gửi vị trí" in page
    assert "navigator.geolocation" in script and "reply_to" in script and "Bổ sung" in script
    assert "textContent" in script
