"""Intent, category and kind classifiers compared on the development set outside Rasa (seconds,
not minutes): the features and model of bot/rasa_ext/category.py against simpler baselines.
Trains on nlu_data only; ../shared/nlu_dev is for evaluation only.

Usage: .venv/bin/python bench/nlu_category.py [--dev ../shared/nlu_dev]"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

from rasa.shared.nlu.constants import INTENT
from rasa.shared.nlu.training_data.loading import load_data
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from bot.core.text import fold
from bot.dialogue.nlu_eval import read_jsonl, score, strip_marks
from bot.rasa_ext.category import build_model, features_text, labelled_examples
from bot.settings import PROJECT_ROOT

Variant = tuple[Callable[[], Pipeline], Callable[[str], str]]


def variants() -> dict[str, Variant]:
    def words() -> Pipeline:
        return Pipeline([("features", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)),
                         ("classifier", LogisticRegression(C=8.0, max_iter=3000,
                                                           class_weight="balanced"))])

    return {
        "baseline: word 1-2 tf-idf + LR, raw text": (words, str.lower),
        "char+word, folded, not normalised": (lambda: build_model(8.0, False), fold),
        "char+word, normalised + folded, no edges": (lambda: build_model(8.0, False),
                                                     features_text),
        "char+word, normalised + folded, C=2": (lambda: build_model(2.0), features_text),
        "char+word, normalised + folded, C=8 (shipped)": (lambda: build_model(8.0),
                                                          features_text),
        "char+word, normalised + folded, C=32": (lambda: build_model(32.0), features_text),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dev", type=Path, default=PROJECT_ROOT.parent / "shared" / "nlu_dev")
    args = parser.parse_args()
    data = load_data(str(PROJECT_ROOT / "nlu_data" / "nlu"))
    files = sorted(args.dev.glob("*.jsonl"))
    for target in (INTENT, "category", "kind"):
        texts, labels = labelled_examples(data, target, view=str)
        print(f"\n## {target}: {len(texts)} training examples")
        print("| model | train s | " + " | ".join(
            f"{f.stem} acc / macro-F1 (no diacritics)" for f in files) + " |")
        print("|---|---|" + "---|" * len(files))
        for name, (make, view) in variants().items():
            model = make()
            start = time.perf_counter()
            model.fit([view(t) for t in texts], labels)
            cells = [name, f"{time.perf_counter() - start:.1f}"]
            for path in files:
                rows = [r for r in read_jsonl(path)
                        if target == INTENT or r["intent"] == "report"]
                gold = [r[target] for r in rows]
                plain = score(gold, list(model.predict([view(r["text"]) for r in rows])))
                no_marks = score(gold, list(model.predict(
                    [view(strip_marks(r["text"])) for r in rows])))
                cells.append(f"{plain.accuracy:.2f} / {plain.macro_f1:.2f} "
                             f"({no_marks.accuracy:.2f})")
            print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
