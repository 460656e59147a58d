"""Admin commands: organisation import/export and officers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
import yaml
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from bot.core.clock import system_clock
from bot.core.officers import add_officer, create_invite
from bot.core.org import export_org, import_org
from bot.core.taxonomy import Role
from bot.store.db import session_scope
from bot.store.models import Officer

org_app = typer.Typer(no_args_is_help=True, help="Units, areas, officers, routing rules, FAQ.")
officer_app = typer.Typer(no_args_is_help=True, help="Officers and their chat accounts.")


NOT_MIGRATED = "Cơ sở dữ liệu chưa được tạo: chạy `nghedan db upgrade` (hoặc `nghedan up`)."
OUTDATED = ("Cơ sở dữ liệu chưa cập nhật (phiên bản {current}, mới nhất {head}): "
            "chạy `nghedan db upgrade`.")
UNREACHABLE = "Không kết nối được cơ sở dữ liệu: kiểm tra DATABASE_URL ({error})."


def _db_url() -> str:
    from bot.cli.main import settings

    return settings().effective_database_url


def require_migrated(url: str) -> None:
    """One line saying what to run (and exit 1) when the database is not at the newest
    migration, instead of a traceback from the first query."""
    from bot.store.migrate import current_revision, head_revision

    try:
        current = current_revision(url)
    except OperationalError as error:
        _fail(UNREACHABLE.format(error=str(error.orig).strip().splitlines()[0]))
    if current is None:
        _fail(NOT_MIGRATED)
    if current != head_revision():
        _fail(OUTDATED.format(current=current, head=head_revision()))


@contextmanager
def admin_session() -> Iterator[Session]:
    """A session on a database checked to be migrated (every admin command uses this)."""
    url = _db_url()
    require_migrated(url)
    with session_scope(url) as session:
        yield session


def _fail(message: str) -> None:
    typer.echo(message, err=True)
    raise typer.Exit(1)


@org_app.command("import")
def org_import(path: Annotated[Path, typer.Argument(exists=True, dir_okay=False)]) -> None:
    """Add what a YAML file describes (existing codes are kept as they are)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    try:
        with admin_session() as session:
            added = import_org(session, data, system_clock())
    except (ValueError, KeyError) as error:
        typer.echo(f"Không nhập được: {error}", err=True)
        raise typer.Exit(1) from None
    typer.echo("Đã nhập: " + ", ".join(f"{k} +{v}" for k, v in added.items()))


@org_app.command("export")
def org_export(path: Annotated[Path | None, typer.Argument(help="File (default: stdout).")]
               = None) -> None:
    """Write the whole organisation as YAML (the format `org import` reads)."""
    with admin_session() as session:
        text = yaml.safe_dump(export_org(session), allow_unicode=True, sort_keys=False)
    if path is None:
        typer.echo(text, nl=False)
    else:
        path.write_text(text, encoding="utf-8")


@officer_app.command("add")
def officer_add(
    username: str, full_name: str,
    unit: Annotated[str, typer.Option(help="Unit code.")],
    role: Annotated[list[Role], typer.Option(help="Repeat for several roles.")],
) -> None:
    """Create an officer in a unit with one or more roles."""
    try:
        with admin_session() as session:
            add_officer(session, username, full_name, unit, [r.value for r in role],
                        system_clock())
    except ValueError as error:
        typer.echo(f"Không thêm được: {error}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"Đã thêm cán bộ {username}.")


@officer_app.command("list")
def officer_list() -> None:
    """List officers: username, unit, roles, linked chat accounts."""
    with admin_session() as session:
        for officer in session.scalars(select(Officer).order_by(Officer.id)):
            roles = ",".join(sorted(r.role for r in officer.roles))
            linked = ",".join(sorted({i.channel for i in _identities(session, officer)})) or "-"
            state = "" if officer.active else " (ngừng)"
            typer.echo(f"{officer.username}\t{officer.unit.code}\t{roles}\t{linked}{state}")


def _identities(session, officer: Officer):
    from bot.store.models import ChannelIdentity

    return session.scalars(select(ChannelIdentity).where(ChannelIdentity.officer_id == officer.id))


@officer_app.command("invite")
def officer_invite(username: str) -> None:
    """Print a one-time code (valid 3 days); the officer sends it to the bot to link the chat
    account they send it from."""
    with admin_session() as session:
        officer = session.scalar(select(Officer).where(Officer.username == username))
        if officer is None:
            typer.echo(f"Không có cán bộ {username}.", err=True)
            raise typer.Exit(1)
        code = create_invite(session, officer, system_clock())
    typer.echo(f"Mã mời cho {username}: {code}\nGửi mã này cho bot (Telegram/Zalo) từ tài khoản "
               "của cán bộ; mã dùng một lần, hết hạn sau 3 ngày.")


def _read_new_password() -> str:
    """From standard input, never from an argument (argv shows in `ps` and shell history):
    asked twice without echo on a terminal, else the first line of piped input."""
    import getpass
    import sys

    if sys.stdin.isatty():
        first = getpass.getpass("Mật khẩu mới: ")
        if getpass.getpass("Nhập lại: ") != first:
            _fail("Hai lần nhập không giống nhau; chưa đổi mật khẩu.")
        return first
    return sys.stdin.readline().rstrip("\r\n")


@officer_app.command("passwd")
def officer_passwd(username: str) -> None:
    """Set an officer's desk password, read from standard input (e.g. `nghedan officer passwd
    an < file`). Their open desk sessions end."""
    from bot.core.passwords import PasswordError, set_password

    with admin_session() as session:
        if session.scalar(select(Officer).where(Officer.username == username)) is None:
            _fail(f"Không có cán bộ {username}.")
    password = _read_new_password()
    try:
        with admin_session() as session:
            set_password(session, username, password, system_clock())
    except PasswordError as error:
        _fail(f"Chưa đặt được mật khẩu: {error}")
    typer.echo(f"Đã đặt mật khẩu bàn làm việc cho {username}.")
