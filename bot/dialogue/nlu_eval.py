"""`nghedan nlu classify` and `nghedan nlu eval`: the trained Rasa NLU, loaded once in-process,
run over JSON lines. Category and kind are read from the parse result when the pipeline
provides them (`category`/`kind` keys or `category`/`kind` entities), else left empty."""

from __future__ import annotations

import asyncio
import json
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPORT = "report"
TRIAGE_THRESHOLD = 0.5  # for parses without the model's own calibrated `needs_triage`


def strip_marks(text: str) -> str:
    """The same text as typed without diacritics (case and punctuation kept, đ -> d)."""
    text = text.replace("đ", "d").replace("Đ", "D")
    decomposed = unicodedata.normalize("NFD", text)
    return unicodedata.normalize("NFC", "".join(
        ch for ch in decomposed if unicodedata.category(ch) != "Mn"))


def stripped_row(row: dict) -> dict:
    """A labelled row as typed without diacritics: its text and its gold location."""
    location = row.get("location")
    return {**row, "text": strip_marks(row["text"]),
            "location": strip_marks(location) if location else location}


def _named(parse: dict[str, Any], key: str) -> tuple[str, float]:
    value = parse.get(key)
    if isinstance(value, dict) and value.get("name"):
        return str(value["name"]), float(value.get("confidence") or 0.0)
    for entity in parse.get("entities") or []:
        if entity.get("entity") == key:
            return str(entity.get("value")), float(entity.get("confidence_entity") or 1.0)
    return "", 0.0


def to_classification(parse: dict[str, Any], threshold: float = TRIAGE_THRESHOLD) -> dict:
    """The shape `nghedan nlu classify` prints. `needs_triage` is the model's own (its
    threshold is calibrated at training) when the parse has it."""
    intent = (parse.get("intent") or {}).get("name") or ""
    confidence = float((parse.get("intent") or {}).get("confidence") or 0.0)
    category, category_confidence = _named(parse, "category")
    kind, _ = _named(parse, "kind")
    if intent != REPORT:
        category = kind = ""
    elif not category:
        category = "khac"
    if intent == REPORT and category_confidence:
        confidence = min(confidence, category_confidence)
    needs_triage = parse.get("needs_triage")
    if needs_triage is None:
        needs_triage = confidence < threshold or category == "khac"
    entities = [{"entity": e["entity"], "value": e.get("value"), "start": e.get("start"),
                 "end": e.get("end")} for e in parse.get("entities") or []
                if e.get("entity") not in ("category", "kind")]
    return {"text": parse.get("text", ""), "intent": intent, "category": category,
            "kind": kind, "confidence": round(confidence, 4),
            "needs_triage": intent == REPORT and bool(needs_triage), "entities": entities}


def quiet_rasa() -> None:
    """Rasa's in-process debug log prints every parsed text; message texts never go to logs."""
    import logging

    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)


def classify(model_path: Path, texts: list[str]) -> list[dict]:
    """Load the model once and classify every text."""
    from rasa.core.agent import Agent

    quiet_rasa()
    agent = Agent.load(model_path)

    async def run() -> list[dict]:
        return [to_classification(await agent.parse_message(text)) for text in texts]

    return asyncio.run(run())


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()]


ANNOTATION = re.compile(r"\[([^\]]+)\]\([^)]*\)")


def read_report_yaml(path: Path) -> list[dict]:
    """Labelled rows (the shape of `read_jsonl`) from Rasa NLU YAML whose report blocks carry
    `metadata: {category, kind}` (the corrections export, nlu_data/nlu/report_*.yml)."""
    import yaml

    rows = []
    for block in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu") or []:
        metadata = block.get("metadata") or {}
        if block.get("intent") != REPORT or not metadata.get("category"):
            continue
        for line in str(block.get("examples") or "").splitlines():
            text = ANNOTATION.sub(r"\1", line.strip().removeprefix("- ").strip())
            if text:
                rows.append({"text": text, "intent": REPORT, "category": metadata["category"],
                             "kind": metadata.get("kind") or "", "location": None})
    return rows


@dataclass
class Scores:
    accuracy: float
    macro_f1: float
    per_class: dict[str, dict[str, float]] = field(default_factory=dict)
    labels: list[str] = field(default_factory=list)
    confusion: list[list[int]] = field(default_factory=list)


def score(gold: list[str], predicted: list[str]) -> Scores:
    from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

    if not gold:
        return Scores(0.0, 0.0)
    labels = sorted(set(gold) | set(predicted))
    p, r, f, n = precision_recall_fscore_support(gold, predicted, labels=labels,
                                                 zero_division=0)
    gold_labels = sorted(set(gold))
    macro = sum(f[labels.index(lbl)] for lbl in gold_labels) / len(gold_labels)
    per_class = {lbl: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]),
                       "support": int(n[i])} for i, lbl in enumerate(labels)}
    return Scores(float(accuracy_score(gold, predicted)), float(macro), per_class, labels,
                  confusion_matrix(gold, predicted, labels=labels).tolist())


def location_f1(gold: Iterable[str], predicted: Iterable[list[str]]) -> float:
    """Token-level micro F1 of predicted location spans against the gold span per row."""
    hits = gold_total = predicted_total = 0
    for want, got in zip(gold, predicted, strict=True):
        want_tokens = want.lower().split()
        got_tokens = " ".join(got).lower().split()
        remaining = list(want_tokens)
        for token in got_tokens:
            if token in remaining:
                remaining.remove(token)
                hits += 1
        gold_total += len(want_tokens)
        predicted_total += len(got_tokens)
    if not gold_total and not predicted_total:
        return 1.0
    precision = hits / predicted_total if predicted_total else 0.0
    recall = hits / gold_total if gold_total else 0.0
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def evaluate(rows: list[dict], predictions: list[dict]) -> dict[str, Any]:
    intents = score([r["intent"] for r in rows], [p["intent"] for p in predictions])
    reports = [(r, p) for r, p in zip(rows, predictions, strict=True) if r["intent"] == REPORT]
    categories = score([r["category"] for r, _ in reports], [p["category"] for _, p in reports])
    kinds = score([r["kind"] for r, _ in reports], [p["kind"] for _, p in reports])
    located = [(r, p) for r, p in zip(rows, predictions, strict=True)
               if r.get("location") is not None]
    auto = [(r, p) for r, p in reports if p["intent"] == REPORT and not p["needs_triage"]]
    return {
        "rows": len(rows), "intent": intents, "category": categories, "kind_accuracy":
        kinds.accuracy,
        "location_f1": location_f1(
            [r["location"] for r, _ in located],
            [[str(e["value"]) for e in p["entities"] if e["entity"] == "location"]
             for _, p in located]) if located else None,
        "auto_routed_share": len(auto) / len(reports) if reports else 0.0,
        "auto_routed_precision": (sum(r["category"] == p["category"] for r, p in auto)
                                  / len(auto)) if auto else 0.0,
    }


def format_report(title: str, result: dict[str, Any]) -> str:
    lines = [f"== {title} ({result['rows']} rows)",
             f"intent accuracy {result['intent'].accuracy:.3f}  "
             f"macro-F1 {result['intent'].macro_f1:.3f}",
             f"category accuracy {result['category'].accuracy:.3f}  "
             f"macro-F1 {result['category'].macro_f1:.3f}",
             f"kind accuracy {result['kind_accuracy']:.3f}"]
    if result["location_f1"] is not None:
        lines.append(f"location F1 {result['location_f1']:.3f}")
    lines.append(f"routed automatically {result['auto_routed_share']:.3f} "
                 f"with precision {result['auto_routed_precision']:.3f}")
    for name in ("intent", "category"):
        scores: Scores = result[name]
        lines.append(f"-- {name}: precision recall f1 support")
        lines += [f"   {lbl:<22} {v['precision']:.2f} {v['recall']:.2f} {v['f1']:.2f} "
                  f"{v['support']}" for lbl, v in scores.per_class.items()]
        lines.append(f"-- {name} confusion (rows gold, columns predicted: "
                     f"{', '.join(scores.labels)})")
        lines += ["   " + " ".join(f"{n:3d}" for n in row) for row in scores.confusion]
    return "\n".join(lines)


def save_confusion_png(scores: Scores, title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    size = max(4, len(scores.labels) * 0.6)
    figure, axes = plt.subplots(figsize=(size + 2, size))
    axes.imshow(scores.confusion or [[0]], cmap="Blues")
    axes.set_xticks(range(len(scores.labels)), scores.labels, rotation=60, ha="right")
    axes.set_yticks(range(len(scores.labels)), scores.labels)
    for i, row in enumerate(scores.confusion):
        for j, value in enumerate(row):
            axes.text(j, i, str(value), ha="center", va="center", fontsize=8)
    axes.set_xlabel("predicted")
    axes.set_ylabel("gold")
    axes.set_title(title)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
