"""Admin commands: organisation import/export and officers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
import yaml
from sqlalchemy import select

from bot.core.clock import system_clock
from bot.core.officers import add_officer, create_invite
from bot.core.org import export_org, import_org
from bot.core.taxonomy import Role
from bot.store.db import session_scope
from bot.store.models import Officer

org_app = typer.Typer(no_args_is_help=True, help="Units, areas, officers, routing rules, FAQ.")
officer_app = typer.Typer(no_args_is_help=True, help="Officers and their chat accounts.")


def _db_url() -> str:
    from bot.cli.main import settings

    return settings().effective_database_url


@org_app.command("import")
def org_import(path: Annotated[Path, typer.Argument(exists=True, dir_okay=False)]) -> None:
    """Add what a YAML file describes (existing codes are kept as they are)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    try:
        with session_scope(_db_url()) as session:
            added = import_org(session, data, system_clock())
    except (ValueError, KeyError) as error:
        typer.echo(f"Không nhập được: {error}", err=True)
        raise typer.Exit(1) from None
    typer.echo("Đã nhập: " + ", ".join(f"{k} +{v}" for k, v in added.items()))


@org_app.command("export")
def org_export(path: Annotated[Path | None, typer.Argument(help="File (default: stdout).")]
               = None) -> None:
    """Write the whole organisation as YAML (the format `org import` reads)."""
    with session_scope(_db_url()) as session:
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
        with session_scope(_db_url()) as session:
            add_officer(session, username, full_name, unit, [r.value for r in role],
                        system_clock())
    except ValueError as error:
        typer.echo(f"Không thêm được: {error}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"Đã thêm cán bộ {username}.")


@officer_app.command("list")
def officer_list() -> None:
    """List officers: username, unit, roles, linked chat accounts."""
    with session_scope(_db_url()) as session:
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
    with session_scope(_db_url()) as session:
        officer = session.scalar(select(Officer).where(Officer.username == username))
        if officer is None:
            typer.echo(f"Không có cán bộ {username}.", err=True)
            raise typer.Exit(1)
        code = create_invite(session, officer, system_clock())
    typer.echo(f"Mã mời cho {username}: {code}\nGửi mã này cho bot (Telegram/Zalo) từ tài khoản "
               "của cán bộ; mã dùng một lần, hết hạn sau 3 ngày.")
