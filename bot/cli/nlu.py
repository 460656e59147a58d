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
    path: InputFile,
    png: Annotated[Path | None, typer.Option(help="Write confusion matrices here (PNG).")]
    = None,
) -> None:
    """Score labelled lines (text, intent, category, kind, location) as written and with
    diacritics stripped: accuracy, macro-F1, per-class P/R/F1, confusion, kind accuracy,
    location F1, share routed automatically and its precision."""
    from bot.dialogue.nlu_eval import (
        classify,
        evaluate,
        format_report,
        read_jsonl,
        save_confusion_png,
        stripped_row,
    )

    rows = read_jsonl(path)
    plain = [stripped_row(r) for r in rows]
    texts = [r["text"] for r in rows] + [r["text"] for r in plain]
    predictions = classify(_model(), texts)
    for title, subset, predicted in (("as written", rows, predictions[:len(rows)]),
                                     ("diacritics stripped", plain, predictions[len(rows):])):
        result = evaluate(subset, predicted)
        typer.echo(format_report(f"{path.name}, {title}", result))
        if png is not None:
            suffix = "" if title == "as written" else "-stripped"
            for name in ("intent", "category"):
                save_confusion_png(result[name], f"{path.name} {name} ({title})",
                                   png.with_name(f"{png.stem}-{name}{suffix}.png"))
