"""`nghedan nlu`: classify texts and evaluate the trained NLU on labelled JSON lines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

nlu_app = typer.Typer(no_args_is_help=True, help="Run and evaluate the trained NLU model.")

InputFile = Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="JSON lines.")]


def _model() -> Path:
    from bot.cli.main import fail, settings
    from bot.dialogue.rasa_runtime import model_path

    path = model_path(settings())
    if not path.exists():
        fail("Chưa có mô hình: chạy `nghedan train` trước.")
    return path


@nlu_app.command("classify")
def classify_command(path: InputFile) -> None:
    """Read {"text": ...} lines; write one JSON line per input: intent, category, kind,
    confidence, needs_triage, entities."""
    from bot.dialogue.nlu_eval import classify, read_jsonl

    rows = read_jsonl(path)
    for result in classify(_model(), [str(r["text"]) for r in rows]):
        typer.echo(json.dumps(result, ensure_ascii=False))


@nlu_app.command("eval")
def eval_command(
    path: Annotated[Path | None, typer.Argument(
        exists=True, dir_okay=False, help="JSON lines (text, intent, category, kind, location).")]
    = None,
    corrections: Annotated[bool, typer.Option(
        "--corrections", help="Score the corrections export (`nghedan nlu corrections`): "
        "the officers' categories and kinds against the current model.")] = False,
    png: Annotated[Path | None, typer.Option(help="Write confusion matrices here (PNG).")]
    = None,
) -> None:
    """Score labelled lines (text, intent, category, kind, location) as written and with
    diacritics stripped: accuracy, macro-F1, per-class P/R/F1, confusion, kind accuracy,
    location F1, share routed automatically and its precision. With --corrections (and no
    PATH, or PATH a corrections YAML file): the texts officers corrected, run before and after
    `nghedan train` to see what retraining changed (docs/nlu.md)."""
    from bot.dialogue.nlu_eval import read_jsonl, read_report_yaml

    if corrections:
        from bot.cli.main import fail, settings
        from bot.dialogue.rasa_runtime import corrections_path

        source = path or corrections_path(settings())
        if not source.is_file():
            fail(f"Chưa có tệp {source}: chạy `nghedan nlu corrections` trước.")
        rows = read_report_yaml(source)
        if not rows:
            fail(f"Tệp {source} không có câu nào.")
    elif path is None:
        from bot.cli.main import fail

        fail("Cần tệp JSON lines, hoặc --corrections.")
    else:
        rows = read_jsonl(path)
        source = path
    _score(source, rows, png)


def _score(source: Path, rows: list[dict], png: Path | None) -> None:
    from bot.dialogue.nlu_eval import (
        classify,
        evaluate,
        format_report,
        save_confusion_png,
        stripped_row,
    )

    plain = [stripped_row(r) for r in rows]
    texts = [r["text"] for r in rows] + [r["text"] for r in plain]
    predictions = classify(_model(), texts)
    for title, subset, predicted in (("as written", rows, predictions[:len(rows)]),
                                     ("diacritics stripped", plain, predictions[len(rows):])):
        result = evaluate(subset, predicted)
        typer.echo(format_report(f"{source.name}, {title}", result))
        if png is not None:
            suffix = "" if title == "as written" else "-stripped"
            for name in ("intent", "category"):
                save_confusion_png(result[name], f"{source.name} {name} ({title})",
                                   png.with_name(f"{png.stem}-{name}{suffix}.png"))


@nlu_app.command("corrections")
def corrections_command(
    out: Annotated[Path | None, typer.Option(
        help="Where to write (default DATA_DIR/nlu/corrections.yml, outside git).")] = None,
) -> None:
    """Export the texts officers corrected at acceptance (citizens who agreed to training
    only; never confidential or erased tickets; phones, names, house numbers masked) as Rasa
    NLU training data, and print how many. `nghedan train` rebuilds and includes it."""
    from bot.cli.main import fail, settings
    from bot.core.corrections import export_corrections
    from bot.dialogue.rasa_runtime import corrections_path
    from bot.store.db import session_scope

    loaded = settings()
    target = out or corrections_path(loaded)
    try:
        with session_scope(loaded.effective_database_url) as session:
            count = export_corrections(session, target)
    except Exception as error:  # noqa: BLE001 - one line for the operator, no traceback
        fail(f"Không đọc được cơ sở dữ liệu ({type(error).__name__}): chạy `nghedan db "
             "upgrade` trước.")
    typer.echo(f"{count} câu -> {target}" if count else
               f"0 câu: không có đơn nào đủ điều kiện, đã xóa {target} nếu có.")
