"""A running bot web server (`nghedan serve`) on a fresh SQLite database with the demo commune,
a few tickets in several states and officers with passwords: what the desk's browser tests and
`make screenshots` look at. No Rasa is needed for the desk pages."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import select

from bot.core import desk
from bot.core.authz import Caller
from bot.core.citizens import citizen_for
from bot.core.passwords import set_password
from bot.core.tickets import TicketDraft, create_ticket
from bot.store.db import session_scope
from bot.store.migrate import upgrade
from bot.store.models import Officer
from tests.e2e import free_port
from tests.helpers import TestClock, context

PASSWORD = "mat-khau-thu-nghiem-2026"
REPORTS = [  # (text, place, category, kind)
    ("Đường bê tông thôn 3 bị ngập sâu, cống thoát nước tắc hoàn toàn mấy hôm nay",
     "Thôn 3", "ha_tang", "phan_anh"),
    ("Bãi rác tự phát cạnh trường tiểu học bốc mùi, ruồi muỗi nhiều", "Thôn 1", "moi_truong",
     "phan_anh"),
    ("Đèn đường trục chính thôn Đông hỏng cả tháng nay, tối đi lại rất nguy hiểm",
     "Thôn Đông", "ha_tang", "kien_nghi"),
    ("Hộ bên cạnh xây lấn sang đất nhà tôi khoảng nửa mét, đề nghị xã xem xét",
     "Xóm Bãi", "dat_dai", "khieu_nai"),
    ("Quán karaoke hát đến 1 giờ sáng, ảnh hưởng người già và trẻ nhỏ", "Tổ dân phố 1",
     "an_ninh_trat_tu", "phan_anh"),
    ("Tôi muốn hỏi thủ tục đăng ký khai sinh cho cháu mất bao lâu", None, "khac", "kien_nghi"),
]


@dataclass
class DeskServer:
    url: str
    db_url: str
    codes: list[str]


def demo_commune(db_url: str, now: datetime) -> None:
    """A migrated database with the demo commune and every officer's password PASSWORD."""
    from bot.core.org import load_demo

    upgrade(db_url)
    with session_scope(db_url) as session:
        load_demo(session, now)
        for officer in session.scalars(select(Officer)):
            set_password(session, officer.username, PASSWORD)


def seed(db_url: str, clock: TestClock) -> list[str]:
    """Demo commune, officers' passwords, and tickets at several steps of their life."""
    demo_commune(db_url, clock())
    codes = []
    for index, (text, place, category, kind) in enumerate(REPORTS):
        with session_scope(db_url) as session:
            citizen = citizen_for(session, "web", f"demo-citizen-{index}", clock())
            citizen.display_name, citizen.phone = f"Người dân {index + 1}", f"090512345{index}"
            draft = TicketDraft(text=text, channel="web", citizen_id=citizen.id,
                                category=category, kind=kind, location_text=place,
                                needs_triage=category == "khac")
            codes.append(create_ticket(session, draft, Caller.citizen(citizen.id, "web").actor,
                                       context(clock())).code)
        clock.advance(hours=3)
    _work_on(db_url, codes, clock)
    return codes


def _work_on(db_url: str, codes: list[str], clock: TestClock) -> None:
    """The first ticket accepted and asked about, the second resolved."""
    with session_scope(db_url) as session:
        head = session.scalar(select(Officer).where(Officer.username == "truongkt"))
        caller = Caller.officer(head.id)
        ctx = context(clock())
        desk.accept(session, caller, codes[0], ctx, kind="phan_anh", category="ha_tang")
        desk.ask_for_information(session, caller, codes[0], ctx,
                                 "Ông/Bà cho biết đoạn ngập gần nhà văn hóa hay gần chợ ạ?")
        desk.accept(session, caller, codes[1], ctx, kind="phan_anh", category="moi_truong")
        desk.resolve(session, caller, codes[1], ctx,
                     "Xã đã cho thu gom bãi rác và đặt biển cấm đổ rác ngày 03/03.")


@contextlib.contextmanager
def desk_server(root: Path, clock: TestClock | None = None) -> Iterator[DeskServer]:
    """`nghedan serve` on a seeded database in `root`; stopped afterwards."""
    db_url = f"sqlite:///{root / 'nghedan.db'}"
    # Filed yesterday: deadlines ahead of the server's real clock, one ticket an hour apart.
    codes = seed(db_url, clock or TestClock(datetime.now(UTC) - timedelta(days=1)))
    with serve(root, db_url) as url:
        yield DeskServer(url, db_url, codes)


@contextlib.contextmanager
def serve(root: Path, db_url: str, name: str = "serve") -> Iterator[str]:
    """One bot process (`nghedan serve`) on `db_url`; yields its address once the desk answers."""
    port = free_port()
    env = {**os.environ, "DATA_DIR": str(root), "DATABASE_URL": db_url, "WEB_PORT": str(port),
           "RASA_URL": f"http://127.0.0.1:{free_port()}", "RASA_TOKEN": "test-token"}
    env.pop("TELEGRAM_TOKEN", None)
    output = root / f"{name}.out"
    process = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve"], env=env,
                               stdout=output.open("wb"), stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, output.read_text()
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/desk/login", timeout=2).status_code == 200:
                    break
            assert time.monotonic() < deadline, output.read_text()
            time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
