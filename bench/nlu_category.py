"""Category and kind classifiers compared on the development set, outside Rasa (seconds, not
minutes): the features and model of bot/rasa_ext/category.py against simpler variants.
Trains on nlu_data only; ../shared/nlu_dev is for evaluation only.

Usage: .venv/bin/python bench/nlu_category.py [--dev ../shared/nlu_dev]"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from rasa.shared.nlu.training_data.loading import load_data
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from bot.core.text import fold
from bot.dialogue.nlu_eval import read_jsonl, score, strip_marks
from bot.rasa_ext.category import build_model, labelled_examples
from bot.settings import PROJECT_ROOT


def variants() -> dict[str, Pipeline]:
    def single(vectorizer: TfidfVectorizer) -> Pipeline:
        return Pipeline([("features", vectorizer), ("classifier", LogisticRegression(
            C=8.0, max_iter=2000, class_weight="balanced"))])

    return {
        "word 1-2 tf-idf + LR": single(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)),
        "char_wb 2-5 tf-idf + LR": single(TfidfVectorizer(analyzer="char_wb",
                                                          ngram_range=(2, 5), sublinear_tf=True)),
        "char+word (shipped), C=2": build_model(2.0),
        "char+word (shipped), C=8": build_model(8.0),
        "char+word (shipped), C=32": build_model(32.0),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dev", type=Path, default=PROJECT_ROOT.parent / "shared" / "nlu_dev")
    args = parser.parse_args()
    data = load_data(str(PROJECT_ROOT / "nlu_data" / "nlu"))
    for target in ("category", "kind"):
        texts, labels = labelled_examples(data, target)
        print(f"\n## {target}: {len(texts)} training examples")
        files = sorted(args.dev.glob("*.jsonl"))
        print("| model | train s | " + " | ".join(
            f"{f.stem} acc / macro-F1 (no diacritics)" for f in files) + " |")
        print("|---|---|" + "---|" * len(files))
        for name, model in variants().items():
            start = time.perf_counter()
            model.fit(texts, labels)
            cells = [name, f"{time.perf_counter() - start:.1f}"]
            for path in files:
                rows = [r for r in read_jsonl(path) if r["intent"] == "report"]
                gold = [r[target] for r in rows]
                plain = score(gold, list(model.predict([fold(r["text"]) for r in rows])))
                stripped = score(gold, list(model.predict(
                    [fold(strip_marks(r["text"])) for r in rows])))
                cells.append(f"{plain.accuracy:.2f} / {plain.macro_f1:.2f} "
                             f"({stripped.accuracy:.2f})")
            print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
