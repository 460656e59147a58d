"""`nghedan`: the command line. Operator-facing output is Vietnamese; --help is English."""

from __future__ import annotations

import asyncio
import sys
from typing import Annotated

import typer

from bot.cli.admin import officer_app, org_app
from bot.cli.digest import digest_command
from bot.cli.nlu import nlu_app
from bot.cli.report import report_command
from bot.settings import Settings, SettingsError, load_settings

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  help="Nghe Dân: citizen feedback chatbot and ticket desk for communes.")
db_app = typer.Typer(no_args_is_help=True, help="Database migrations (Alembic).")
app.add_typer(db_app, name="db")
app.add_typer(org_app, name="org")
app.add_typer(officer_app, name="officer")
app.add_typer(nlu_app, name="nlu")
app.command("digest")(digest_command)
app.command("report")(report_command)


def settings() -> Settings:
    from bot.logs import configure_logging

    loaded = load_settings()
    configure_logging(loaded.log_level, loaded.log_format)
    return loaded


def fail(message: str, code: int = 1) -> None:
    typer.echo(message, err=True)
    raise typer.Exit(code)


@app.command()
def up() -> None:
    """Run everything: migrate (and seed the demo commune on an empty database), then start and
    supervise the Rasa server, the action server and the bot (channels, workers, web)."""
    from bot.cli.run import run_up

    run_up(settings())


@app.command()
def serve() -> None:
    """Run the bot process only: web chat and desk, channels, workers, scheduler."""
    from bot.cli.run import run_bot

    asyncio.run(run_bot(settings()))


@app.command()
def train(if_stale: Annotated[bool, typer.Option(
        "--if-stale", help="Skip when the model matches config, domain and data.")] = False,
) -> None:
    """Train the Rasa model into RASA_MODEL_DIR."""
    from bot.dialogue import rasa_runtime

    loaded = settings()
    exported = rasa_runtime.rebuild_corrections(loaded)  # first: erasures reach the model
    if exported:
        typer.echo(f"Kèm {exported} câu đã được cán bộ sửa phân loại (nghedan nlu corrections).")
    if if_stale and rasa_runtime.model_is_current(loaded):
        typer.echo("Mô hình Rasa đã cập nhật, không cần huấn luyện lại.")
        return
    typer.echo("Đang huấn luyện mô hình Rasa...")
    try:
        rasa_runtime.train(loaded, rebuild=False)
    except Exception as error:  # noqa: BLE001 - report any failure in one line
        fail(f"Huấn luyện thất bại: {error}")
    typer.echo(f"Đã lưu mô hình: {rasa_runtime.model_path(loaded)}")


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Migrate the database up (default: to the newest revision)."""
    from bot.store.migrate import current_revision, upgrade

    url = settings().effective_database_url
    upgrade(url, revision)
    typer.echo(f"Cơ sở dữ liệu ở phiên bản {current_revision(url)}.")


@db_app.command("downgrade")
def db_downgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "-1") -> None:
    """Migrate the database down (default: one step)."""
    from bot.store.migrate import current_revision, downgrade

    url = settings().effective_database_url
    downgrade(url, revision)
    typer.echo(f"Cơ sở dữ liệu ở phiên bản {current_revision(url) or '(trống)'}.")


@db_app.command("current")
def db_current() -> None:
    """Print the database's migration revision."""
    from bot.store.migrate import current_revision, head_revision

    current = current_revision(settings().effective_database_url)
    typer.echo(f"{current or '(trống)'} (mới nhất: {head_revision()})")


@app.command("seed-demo")
def seed_demo() -> None:
    """Load the demo commune (units, areas, officers, FAQ); running it again adds nothing."""
    from bot.cli.run import prepare_database

    added = prepare_database(settings(), seed=True)
    typer.echo("Đã nạp xã mẫu: " + ", ".join(f"{k} +{v}" for k, v in added.items()))


@app.command()
def chat(user: Annotated[str, typer.Option(help="Who you are in this chat.")] = "local") -> None:
    """Talk to the bot in this terminal, through the same pipeline as every channel. Uses the
    running Rasa server, or starts one (about 30 s) when none answers."""
    from bot.channels.terminal import run_chat

    asyncio.run(run_chat(settings(), user))


def main() -> None:
    try:
        app()
    except SettingsError as error:
        typer.echo(f"Lỗi cấu hình: {error}", err=True)
        sys.exit(2)
