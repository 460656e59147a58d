"""Admin CLI: organisation YAML export/import round-trip, officers, one-time invite codes that
link a chat account through the normal message pipeline."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys

import yaml
from sqlalchemy import select

from bot.core.messaging import Inbound, store_inbound
from bot.dialogue.pipeline import Pipeline
from bot.dialogue.rasa_client import RasaClient
from bot.store.db import session_scope
from bot.store.models import ChannelIdentity, Officer, OutboxMessage
from tests.helpers import NOW


def cli(url: str, *args: str, data_dir=None) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": url, "DATA_DIR": str(data_dir or "/tmp")}
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], capture_output=True,
                          text=True, env=env, timeout=60)


def test_org_export_import_round_trip(db_url, tmp_path):
    exported = cli(db_url, "org", "export")
    assert exported.returncode == 0, exported.stderr
    data = yaml.safe_load(exported.stdout)
    assert data["units"][0]["children"][0]["code"] == "xa-an-binh"
    assert {"kind": "to_cao", "unit": "xa-an-binh", "officer": "chutich"} in data["routing"]
    assert "ha_tang" in {t.get("category") for t in data["answer_templates"]}
    path = tmp_path / "org.yml"
    path.write_text(exported.stdout, encoding="utf-8")
    fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
    assert cli(fresh, "db", "upgrade", data_dir=tmp_path).returncode == 0
    imported = cli(fresh, "org", "import", str(path), data_dir=tmp_path)
    assert imported.returncode == 0, imported.stderr
    assert yaml.safe_load(cli(fresh, "org", "export", data_dir=tmp_path).stdout) == data
    again = cli(fresh, "org", "import", str(path), data_dir=tmp_path)
    assert "units +0" in again.stdout and "routing +0" in again.stdout


def test_officer_add_list_and_invite_links_a_chat_account(db_url, tmp_path):
    added = cli(db_url, "officer", "add", "diachinh", "Lê Thị Địa Chính",
                "--unit", "xa-an-binh-kinh-te", "--role", "officer", "--role", "unit_head")
    assert added.returncode == 0, added.stderr
    listing = cli(db_url, "officer", "list").stdout
    assert "diachinh\txa-an-binh-kinh-te\tofficer,unit_head\t-" in listing
    assert cli(db_url, "officer", "add", "diachinh", "X", "--unit", "xa-an-binh",
               "--role", "officer").returncode == 1
    invite = cli(db_url, "officer", "invite", "diachinh")
    code = re.search(r"[A-Z2-9]{4}-[A-Z2-9]{4}", invite.stdout)[0]

    pipeline = Pipeline(db_url, RasaClient("http://127.0.0.1:9", "t", timeout=1),
                        clock=lambda: NOW)

    def say(text: str, message_id: str) -> str:
        with session_scope(db_url) as session:
            row = store_inbound(session, Inbound("telegram", message_id, "555", text), NOW)
        asyncio.run(pipeline.process_inbound(row.id))
        with session_scope(db_url) as session:
            return session.scalars(select(OutboxMessage.text).where(
                OutboxMessage.in_reply_to == row.id)).one()

    assert "Đã liên kết tài khoản này với cán bộ Lê Thị Địa Chính" in say(code.lower(), "m1")
    assert "không hợp lệ" in say(code, "m2")  # one time only
    assert "không hợp lệ" in say("ABCD-EFGH", "m3")
    with session_scope(db_url) as session:
        identity = session.scalar(select(ChannelIdentity).where(
            ChannelIdentity.external_id == "555"))
        assert session.get(Officer, identity.officer_id).username == "diachinh"
    assert "telegram" in cli(db_url, "officer", "list").stdout
