"""Fixes from issue 10 around the desk: invite codes only in their own format (so "thankyou"
reaches the dialogue), admin commands on a database that was never migrated (or is older, or
unreachable) say in one line what to do, and the core context carries the desk's hours."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.core.officers import looks_like_invite
from bot.store.db import session_scope
from bot.store.models import OutboxMessage
from tests.conftest import BACKENDS
from tests.helpers import NOW, context

pytestmark = pytest.mark.parametrize("empty_db_url", BACKENDS, indirect=True)


def test_invite_codes_only_in_their_own_format(empty_db_url):
    assert looks_like_invite("ABCD-EFGH") == "ABCDEFGH"
    assert looks_like_invite(" abcd-efgh ") == "ABCDEFGH"
    assert looks_like_invite("/moi ABCDEFGH") == "ABCDEFGH"
    assert looks_like_invite("/moi abcd-efgh") == "ABCDEFGH"
    for words in ("thankyou", "THANKYOU", "ABCDEFGH", "xin chào", "/moi", "ABCD-EFGHJ",
                  "good-luck", "/moi hello-world", "IOIO-0101"):
        assert looks_like_invite(words) is None, words


@pytest.mark.parametrize("command", [("officer", "list"), ("org", "export"),
                                     ("officer", "invite", "kinhte")])
def test_admin_commands_on_a_never_migrated_database_say_what_to_run(empty_db_url, tmp_path,
                                                                      command):
    from tests.test_admin_cli import cli

    result = cli(empty_db_url, *command, data_dir=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "Cơ sở dữ liệu chưa được tạo: chạy `nghedan db upgrade` (hoặc `nghedan up`).")
    assert "Traceback" not in result.stderr + result.stdout


@pytest.mark.timeout(60)
def test_thankyou_reaches_the_dialogue_and_only_a_dashed_or_moi_code_is_taken_for_an_invite(
        db_url):
    import asyncio

    from bot.core.messaging import Inbound, store_inbound
    from bot.dialogue.pipeline import Pipeline
    from bot.dialogue.rasa_client import RasaClient
    from bot.store.models import InboxMessage
    from tests.test_pipeline import closed_port

    rasa = RasaClient(f"http://127.0.0.1:{closed_port()}", "token", timeout=2)
    pipeline = Pipeline(db_url, rasa, clock=lambda: NOW)

    def say(text: str) -> tuple[str, list[str]]:
        with session_scope(db_url) as session:
            row_id = store_inbound(session, Inbound("telegram", text, "777", text), NOW).id
        asyncio.run(pipeline.process_inbound(row_id))
        with session_scope(db_url) as session:
            return session.get(InboxMessage, row_id).status, list(session.scalars(
                select(OutboxMessage.text).where(OutboxMessage.in_reply_to == row_id)))

    status, replies = say("thankyou")
    assert status == "pending" and not any("Mã mời" in r for r in replies)  # waits for Rasa
    for code in ("ABCD-EFGH", "/moi ABCDEFGH"):
        status, replies = say(code)
        assert status != "pending" and replies == ["Mã mời không hợp lệ, đã dùng hoặc đã hết hạn."]


def test_admin_command_on_an_older_schema_or_unreachable_database_says_what_to_do(
        empty_db_url, tmp_path):
    from bot.store.migrate import head_revision, upgrade
    from tests.test_admin_cli import cli
    from tests.test_pipeline import closed_port

    upgrade(empty_db_url, "0004")
    older = cli(empty_db_url, "officer", "list", data_dir=tmp_path)
    assert older.returncode == 1 and older.stderr.strip() == (
        f"Cơ sở dữ liệu chưa cập nhật (phiên bản 0004, mới nhất {head_revision()}): "
        "chạy `nghedan db upgrade`.")
    gone = cli(f"postgresql://postgres@127.0.0.1:{closed_port()}/none", "officer", "list",
               data_dir=tmp_path)
    assert gone.returncode == 1 and len(gone.stderr.strip().splitlines()) == 1
    assert gone.stderr.startswith("Không kết nối được cơ sở dữ liệu: kiểm tra DATABASE_URL")


def test_context_from_settings_carries_relay_and_urgent_hours(app_env, monkeypatch):
    from bot.core.context import context_from_settings
    from bot.settings import load_settings

    assert (context().relay_hours, context().urgent_accept_hours) == (72, 4)
    monkeypatch.setenv("RELAY_HOURS", "24")
    monkeypatch.setenv("URGENT_ACCEPT_HOURS", "2")
    load_settings.cache_clear()
    ctx = context_from_settings()
    assert (ctx.relay_hours, ctx.urgent_accept_hours) == (24, 2)
