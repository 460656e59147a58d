"""The production setup for real: `nghedan up` on PostgreSQL with Rasa's trackers and locks in
Redis. A citizen's half-filled form survives a restart of every process, and /xoadulieu deletes
the conversation from Redis itself (the key Rasa's RedisTrackerStore really uses)."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select

from bot.core.service import redis_tracker_key
from bot.store.db import session_scope
from bot.store.models import ChannelIdentity, Citizen, Ticket
from tests.conftest import REDIS_URL, reachable_redis
from tests.e2e import CODE, press, running_setup, say, start_and_consent, text_of, to_summary


@pytest.mark.parametrize("empty_db_url", ["postgresql"], indirect=True)
def test_form_survives_a_restart_and_erasure_reaches_redis(empty_db_url, tmp_path):
    client = reachable_redis()
    if client is None:
        pytest.skip(f"Redis not reachable at {REDIS_URL}")
    report = "Cột điện bị nghiêng sắp đổ, dây điện võng xuống rất thấp"
    with running_setup(tmp_path, DATABASE_URL=empty_db_url, REDIS_URL=REDIS_URL) as setup, \
            httpx.Client() as chat:
        start_and_consent(chat, setup)
        assert "ở đâu" in text_of(say(chat, setup, text=report))
        with session_scope(empty_db_url) as session:
            identity = session.scalar(select(ChannelIdentity).join(Citizen).where(
                ChannelIdentity.channel == "web").order_by(ChannelIdentity.id.desc()))
            sender = f"web:{identity.external_id}"
        assert client.get(redis_tracker_key(sender)) is not None
        setup.stop()
        setup.start()
        files = say(chat, setup, text="đầu ngõ 5 Thôn 1")
        assert "ảnh" in text_of(files), files
        summary = to_summary(chat, setup, files)
        code = CODE.search(text_of(press(chat, setup, summary, "Gửi")))[0]
        with session_scope(empty_db_url) as session:
            assert session.scalar(select(Ticket).where(Ticket.code == code)).text == report
        erased = press(chat, setup, say(chat, setup, text="/xoadulieu"), "Xóa dữ liệu")
        assert "đã được xóa" in text_of(erased)
        assert client.get(redis_tracker_key(sender)) is None
