"""Relay (đối thoại) through the real pipeline and database: for RELAY_HOURS after an officer's
message, the citizen's next messages (text, files, a pin) go to that ticket as notes, the
citizen is told where they went and the officers get a "citizen answered" notice; buttons and
commands still reach the dialogue, and so does everything after the window or once the ticket
is finished. Rasa listens on a closed port here: a message meant for it stays pending."""

from __future__ import annotations

import asyncio
import socket
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.core import attachments, desk, notices, service
from bot.core.authz import Caller
from bot.core.messaging import Inbound, Outbound, queue_outbound, store_inbound
from bot.dialogue import pipeline as pipeline_module
from bot.dialogue.pipeline import INFO_ADDED_TEXT, Pipeline
from bot.dialogue.rasa_client import RasaClient
from bot.settings import load_settings
from bot.store.db import session_scope
from bot.store.files import LocalFileStorage
from bot.store.models import InboxMessage, Officer, OutboxMessage, Ticket, TicketNote
from tests.conftest import BACKENDS
from tests.helpers import NOW, context

pytestmark = pytest.mark.parametrize("empty_db_url", BACKENDS, indirect=True)
RELAY_HOURS = 72  # CoreContext's default, as tests.helpers.context() builds it


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def inbound(url: str, text: str | None, sender: str = "c1", **payload) -> int:
    with session_scope(url) as session:
        row = store_inbound(session, Inbound("web", f"{sender}-{text}-{len(str(payload))}",
                                             sender, text, payload), NOW)
        return row.id


def run(url: str, inbox_id: int, at) -> None:
    async def go() -> None:
        rasa = RasaClient(f"http://127.0.0.1:{closed_port()}", "t", timeout=2)
        await Pipeline(url, rasa, clock=lambda: at).process_inbound(inbox_id)
        await rasa.aclose()

    asyncio.run(go())


def outcome(url: str, inbox_id: int) -> tuple[str, list[str]]:
    with session_scope(url) as session:
        status = session.get(InboxMessage, inbox_id).status
        replies = list(session.scalars(select(OutboxMessage.text).where(
            OutboxMessage.in_reply_to == inbox_id).order_by(OutboxMessage.id)))
        return status, replies


def citizen_notes(url: str, code: str) -> list[str]:
    with session_scope(url) as session:
        ticket = session.scalar(select(Ticket).where(Ticket.code == code))
        return list(session.scalars(select(TicketNote.text).where(
            TicketNote.ticket_id == ticket.id, TicketNote.kind == "citizen")
            .order_by(TicketNote.id)))


def replied_ticket(url: str) -> tuple[str, int]:
    """A filed report the assigned officer has written to the citizen about (at NOW)."""
    ctx = context()
    code = service.submit_report("web:c1", "Cống thôn 3 tắc, nước tràn ra đường", "Thôn 3",
                                 "inbox:report", category="ha_tang", ctx=ctx).code
    with session_scope(url) as session:
        ticket = session.scalar(select(Ticket).where(Ticket.code == code))
        clerk = ticket.officer_id
        desk.reply(session, Caller.officer(clerk), code, ctx, "Chiều nay cán bộ tới kiểm tra ạ.")
    return code, clerk


def test_after_an_officers_reply_the_citizens_next_message_goes_to_that_ticket(app_env):
    code, clerk = replied_ticket(app_env)
    message = inbound(app_env, "Dạ, tôi ở nhà cả chiều, số 12 ngõ 4")
    run(app_env, message, at=NOW + timedelta(hours=5))
    assert outcome(app_env, message) == ("done", [INFO_ADDED_TEXT.format(code=code)])
    assert citizen_notes(app_env, code) == ["Dạ, tôi ở nhà cả chiều, số 12 ngõ 4"]
    with session_scope(app_env) as session:
        [notice] = [n for n in notices.list_notices(session, clerk) if n.kind != "new"]
        assert notice.kind == "citizen_answered" and code in notice.text
        ticket = session.scalar(select(Ticket).where(Ticket.code == code))
        assert ticket.status == "received"  # relayed words change no status
        assert "ngõ 4" not in repr([e.data for e in ticket.events])


def test_a_photo_and_a_pin_are_relayed_too(app_env):
    code, _ = replied_ticket(app_env)
    photo = inbound(app_env, None, media=[{"type": "photo", "content_type": "image/jpeg"}])
    with session_scope(app_env) as session:
        attachments.stage_attachment(session, LocalFileStorage(load_settings().storage_dir),
                                     photo, "image/jpeg", b"\xff\xd8\xff\xe0" + b"drain" * 50)
    pin = inbound(app_env, None, location_pin={"latitude": 10.77, "longitude": 106.7})
    for message in (photo, pin):
        run(app_env, message, at=NOW + timedelta(hours=1))
        assert outcome(app_env, message) == ("done", [INFO_ADDED_TEXT.format(code=code)])
    assert citizen_notes(app_env, code) == ["(gửi kèm 1 tệp)", "Vị trí GPS 10.77000, 106.70000"]
    with session_scope(app_env) as session:
        [kept] = attachments.of_inbox(session, photo)
        assert kept.ticket_id == session.scalar(select(Ticket.id).where(Ticket.code == code))


@pytest.mark.parametrize("choice", ["command", "button", "typed slash"])
def test_a_button_or_command_reaches_the_dialogue_and_ends_the_relay(app_env, choice):
    code, _ = replied_ticket(app_env)
    with session_scope(app_env) as session:
        offered = queue_outbound(session, Outbound("web", "c1", "Menu", [
            {"title": "Gửi phản ánh", "payload": "/report"}]), "menu", NOW).id
    chosen = {"command": lambda: inbound(app_env, "/start"),
              "button": lambda: inbound(app_env, "Gửi phản ánh", button=f"{offered}:0"),
              "typed slash": lambda: inbound(app_env, "/baocao")}[choice]()
    run(app_env, chosen, at=NOW + timedelta(hours=1))
    # the report typed after "Gửi phản ánh" is for the new conversation, not the old ticket
    report = inbound(app_env, "Đèn đường thôn 1 hỏng cả tuần")
    run(app_env, report, at=NOW + timedelta(hours=1, minutes=1))
    for inbox_id in (chosen, report):
        assert outcome(app_env, inbox_id)[0] == "pending"  # waiting for Rasa, not a note
    assert citizen_notes(app_env, code) == []
    with session_scope(app_env) as session:
        ticket = session.scalar(select(Ticket).where(Ticket.code == code))
        assert ticket.relay_until is None and ticket.events[-1].action == "relay_ended"


def test_relay_ends_after_relay_hours(app_env):
    code, _ = replied_ticket(app_env)
    late = inbound(app_env, "Đường thôn 2 cũng bị ngập")
    run(app_env, late, at=NOW + timedelta(hours=RELAY_HOURS, minutes=1))
    assert outcome(app_env, late)[0] == "pending"
    assert citizen_notes(app_env, code) == []


def test_a_finished_ticket_relays_nothing(app_env):
    code, clerk = replied_ticket(app_env)
    with session_scope(app_env) as session:
        desk.reject(session, Caller.officer(clerk), code, context(), "Không thuộc thẩm quyền xã",
                    "Công ty điện lực huyện")
    message = inbound(app_env, "Sao lại từ chối ạ?")
    run(app_env, message, at=NOW + timedelta(hours=1))
    assert outcome(app_env, message)[0] == "pending"
    assert citizen_notes(app_env, code) == []


def test_another_citizens_messages_are_not_relayed(app_env):
    code, _ = replied_ticket(app_env)
    stranger = inbound(app_env, "Cho tôi hỏi giờ làm việc", sender="c2")
    run(app_env, stranger, at=NOW + timedelta(hours=1))
    assert outcome(app_env, stranger)[0] == "pending"
    assert citizen_notes(app_env, code) == []


def test_a_hook_answers_before_relay_and_rasa(app_env, monkeypatch):
    """The extension point the officer chat plugs into: the first hook with replies wins."""
    replied_ticket(app_env)

    def officer_accounts(message: pipeline_module.Message):
        with session_scope(message.db_url) as session:
            linked = session.scalar(select(Officer).where(Officer.username == "kinhte"))
        return [(f"{linked.full_name}: {message.turn.typed}", [])] if message.sender.endswith(
            ":c1") else None

    monkeypatch.setattr(pipeline_module, "HOOKS", (officer_accounts, *pipeline_module.HOOKS))
    message = inbound(app_env, "/hangdoi")
    run(app_env, message, at=NOW + timedelta(hours=1))
    assert outcome(app_env, message) == ("done", ["Lê Văn Kinh Tế: /hangdoi"])
