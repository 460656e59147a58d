"""A missing or malformed setting stops the CLI with one clear line, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from bot.store.migrate import head_revision


def run_cli(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], capture_output=True,
                          text=True, env={**os.environ, **env}, timeout=60)


@pytest.mark.parametrize("url, expected", [
    ("not a url", "is not a database URL"),
    ("mysql://root@localhost/x", "database 'mysql' is not supported"),
])
def test_bad_database_url_is_refused_clearly(tmp_path, url, expected):
    result = run_cli("db", "current", DATABASE_URL=url, DATA_DIR=str(tmp_path))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("Lỗi cấu hình: Setting DATABASE_URL")
    assert expected in result.stderr


def test_bad_port_and_time_zone_are_named(tmp_path):
    result = run_cli("db", "current", WEB_PORT="eighty", TIMEZONE="Mars/Olympus",
                     DATA_DIR=str(tmp_path))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "WEB_PORT" in result.stderr and "TIMEZONE" in result.stderr


def test_default_setup_needs_no_setting(tmp_path):
    env = {"DATA_DIR": str(tmp_path)}
    assert run_cli("db", "upgrade", **env).returncode == 0
    result = run_cli("db", "current", **env)
    assert result.returncode == 0 and result.stdout.startswith(head_revision())
    assert (tmp_path / "nghedan.db").exists()


def test_every_command_has_help():
    for command in (["up"], ["serve"], ["train"], ["db", "upgrade"], ["db", "downgrade"],
                    ["db", "current"], ["seed-demo"], ["chat"], ["org", "import"],
                    ["org", "export"], ["officer", "add"], ["officer", "list"],
                    ["officer", "invite"], ["nlu", "classify"], ["nlu", "eval"]):
        result = run_cli(*command, "--help")
        assert result.returncode == 0, command
        assert "Usage:" in result.stdout


def test_a_rasa_token_starting_with_a_dash_still_reaches_rasa(tmp_path):
    """argparse reads "-gM..." after --auth-token as an option; rasa then exits with code 2."""
    import argparse

    from bot.dialogue.rasa_runtime import rasa_server_command
    from bot.settings import Settings

    settings = Settings(data_dir=tmp_path, rasa_token="-gM3x_token")
    command = rasa_server_command(settings, tmp_path / "e.yml", tmp_path / "c.yml")
    parser = argparse.ArgumentParser()
    parser.add_argument("--auth-token")
    known, _ = parser.parse_known_args(command[4:])
    assert known.auth_token == "-gM3x_token"
    generated = Settings(data_dir=tmp_path / "fresh").ensure_rasa_token()
    assert generated and not generated.startswith("-")
