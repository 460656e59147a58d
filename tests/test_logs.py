"""Log lines are JSON, one per event, and never carry names, phone numbers or message texts."""

from __future__ import annotations

import json

import structlog

from bot.logs import configure_logging


def test_personal_data_never_reaches_the_log(capsys):
    configure_logging("INFO", "json")
    log = structlog.get_logger("t")
    log.info("inbound", text="Nhà tôi ở thôn 3", phone="0912345678", channel="web")
    log.warning("send_failed", reason="chat 0912 345 678 not found", full_name="Nguyễn Văn A")
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first["event"] == "inbound" and first["channel"] == "web"
    assert first["text"] == first["phone"] == "[redacted]"
    assert second["reason"] == "chat [phone] not found"
    assert "Nguyễn" not in lines[1] and "0912" not in "".join(lines)
