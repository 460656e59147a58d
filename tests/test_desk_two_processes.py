"""Two real bot processes (`nghedan serve`) on one database: a login lock-out earned on one is
enforced by the other, and a session opened on one is valid (and ended by logout) on the other,
because sessions and throttles live in the database, not in a process's memory."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from bot.settings import Settings
from tests.desk_demo import PASSWORD, seed, serve
from tests.helpers import TestClock

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
WRONG = "khong-phai-mat-khau"


def form_token(client: httpx.Client, url: str) -> str:
    page = client.get(f"{url}/desk/login")
    assert page.status_code == 200
    return TOKEN.search(page.text).group(1)


def try_login(client: httpx.Client, url: str, password: str) -> httpx.Response:
    return client.post(f"{url}/desk/login", data={
        "username": "truongkt", "password": password,
        "csrf_token": form_token(client, url)})


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory):
    root = tmp_path_factory.mktemp("two")
    db_url = f"sqlite:///{root / 'nghedan.db'}"
    seed(db_url, TestClock(datetime.now(UTC) - timedelta(days=1)))
    with serve(root, db_url, "one") as one, serve(root, db_url, "two") as two:
        yield one, two


def test_lock_out_earned_on_one_process_holds_on_the_other(two_processes):
    one, two = two_processes
    failures = Settings().login_max_failures
    with httpx.Client() as first:
        codes = [try_login(first, one, WRONG).status_code for _ in range(failures)]
    assert codes[:-1] == [401] * (failures - 1) and codes[-1] == 429
    with httpx.Client() as second:
        refused = try_login(second, two, PASSWORD)
    assert refused.status_code == 429 and "nd_desk" not in refused.cookies


def test_a_session_from_one_process_works_on_the_other_until_logout(tmp_path):
    db_url = f"sqlite:///{tmp_path / 'nghedan.db'}"
    seed(db_url, TestClock(datetime.now(UTC) - timedelta(days=1)))
    with serve(tmp_path, db_url, "one") as one, serve(tmp_path, db_url, "two") as two, \
            httpx.Client() as client:
        assert try_login(client, one, PASSWORD).status_code == 302
        queue = client.get(f"{two}/desk/")
        assert queue.status_code == 200 and "Đăng xuất" in queue.text
        token = TOKEN.search(queue.text).group(1)
        assert client.post(f"{two}/desk/logout", data={"csrf_token": token}).status_code == 302
        assert client.get(f"{one}/desk/").status_code == 302  # back to the login page
