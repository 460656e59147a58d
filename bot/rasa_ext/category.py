"""A Rasa NLU component with the classifiers chosen by measurement (docs/nlu.md): the intent,
and for reports their category and kind (shared/taxonomy.md), and for questions the FAQ entry.

Training data: every intent example for the intent; `report` examples whose metadata names the
`category` and `kind` (nlu_data/nlu/report_*.yml, on the block or the example); `faq` examples
whose metadata names the `faq` key (nlu_data/nlu/faq_entries.yml). Model: TF-IDF over character
and word n-grams of the normalised, diacritics-free text (so "duong thon ngap" and "đường thôn
ngập" share every feature), then a logistic regression; sublinear term frequencies and L2
normalisation keep long formal letters from swamping short messages.

The triage threshold is calibrated at training: cross-validated category probabilities on the
training reports give the lowest confidence above which the category is right at least
`target_precision` of the time. Each parse carries `category`, `kind`, `faq` ({name,
confidence}), their rankings, and `needs_triage`."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import joblib
import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import (
    INTENT,
    INTENT_RANKING_KEY,
    METADATA,
    METADATA_EXAMPLE,
    METADATA_INTENT,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import FeatureUnion, Pipeline

from bot.core.normalize import normalize
from bot.core.text import fold

REPORT_INTENT = "report"
FAQ_INTENT = "faq"
LABELS = {"category": REPORT_INTENT, "kind": REPORT_INTENT, "faq": FAQ_INTENT}
MODEL_FILE = "text_classifiers.joblib"


SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|\n+")


def features_text(text: str) -> str:
    """What the model reads: the normalised text (bot.core.normalize); the vectorizers fold it."""
    return normalize(text or "")


@lru_cache(maxsize=512)  # the char and word views fold the same text: do it once
def folded(text: str) -> str:
    return fold(text)


def edges(text: str) -> str:
    """The first sentence and the last two, folded: where a letter names its subject and says
    what it asks for ("Xin hỏi...", "Kính mong... xử lý", "Đề nghị lắp..."), which a long
    description in between would otherwise drown."""
    sentences = [s for s in SENTENCE_END.split(text) if s.strip()]
    if len(sentences) > 3:
        sentences = [sentences[0], *sentences[-2:]]
    return fold(" ".join(sentences))


# The kind a citizen names ("Tôi xin tố cáo...", "Kiến nghị lắp đèn...") is what they intend
# (shared/taxonomy.md: the citizen says it, the officer fixes the legal kind later).
DECLARED_KINDS = {"kien_nghi": "kien nghi", "khieu_nai": "khieu nai", "to_cao": "to cao"}
GENERIC_PAIR = re.compile(r"phan anh,? kien nghi|kien nghi,? phan anh")


def declared_kind(text: str) -> str | None:
    """The one kind the text names for itself, if it names exactly one."""
    plain = GENERIC_PAIR.sub(" ", fold(text))
    named = [kind for kind, words in DECLARED_KINDS.items()
             if re.search(rf"\b{words}\b", plain)]
    return named[0] if len(named) == 1 else None


def build_features(with_edges: bool = True) -> FeatureUnion:
    branches = [
        ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True,
                                  preprocessor=folded, max_features=80000)),
        ("words", TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True,
                                  preprocessor=folded, token_pattern=r"(?u)\b\w+\b")),
    ]
    if with_edges:
        branches.append(("edges", TfidfVectorizer(
            analyzer="word", ngram_range=(1, 3), sublinear_tf=True, preprocessor=edges,
            token_pattern=r"(?u)\b\w+\b")))
    return FeatureUnion(branches)


def build_classifier(c: float, solver: str = "liblinear") -> LogisticRegression:
    # liblinear (one-vs-rest) trains ten times faster than lbfgs here (docs/nlu.md).
    return LogisticRegression(C=c, solver=solver, max_iter=3000, class_weight="balanced")


def build_model(c: float, with_edges: bool = True) -> Pipeline:
    """Features and classifier in one (the bench's way; the component shares the features)."""
    return Pipeline([("features", build_features(with_edges)),
                     ("classifier", build_classifier(c))])


def _label(example: Message, target: str) -> str | None:
    metadata = example.get(METADATA) or {}
    return ((metadata.get(METADATA_EXAMPLE) or {}).get(target)
            or (metadata.get(METADATA_INTENT) or {}).get(target))


def labelled_examples(training_data: TrainingData, target: str,
                      view: Callable[[str], str] = features_text) -> tuple[list[str], list[str]]:
    """Texts (as the model sees them, by default) and labels for `intent` or a metadata
    target."""
    texts, labels = [], []
    for example in training_data.intent_examples:
        if target == INTENT:
            label = example.get(INTENT)
        elif example.get(INTENT) == LABELS[target]:
            label = _label(example, target)
        else:
            label = None
        if label:
            texts.append(view(example.get(TEXT)))
            labels.append(str(label))
    return texts, labels


def calibrated_threshold(features: Any, labels: list[str], classifier: LogisticRegression,
                         target_precision: float, folds: int = 5) -> float:
    """Lowest confidence whose above-threshold predictions reach the target precision in
    cross-validation (1.0 when none does: then everything goes to triage)."""
    smallest = min(labels.count(label) for label in set(labels))
    folds = max(2, min(folds, smallest))
    probabilities = cross_val_predict(
        classifier, features, labels, method="predict_proba",
        cv=StratifiedKFold(folds, shuffle=True, random_state=0))
    classes = np.array(sorted(set(labels)))
    best = probabilities.max(axis=1)
    right = classes[probabilities.argmax(axis=1)] == np.array(labels)
    order = np.argsort(-best, kind="stable")
    ranked = best[order]
    precision = np.cumsum(right[order]) / np.arange(1, len(order) + 1)
    # Only cut between different confidences: tied predictions are routed alike.
    cuts = np.nonzero(np.append(ranked[1:] < ranked[:-1], True))[0]
    reaching = cuts[precision[cuts] >= target_precision]
    return float(ranked[reaching[-1]]) if len(reaching) else 1.0


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class CategoryKindClassifier(GraphComponent):
    @staticmethod
    def get_default_config() -> dict[str, Any]:
        # predict_intent: replace the intent of earlier classifiers (DIET) with this one's.
        return {"C": 8.0, "solver": "liblinear", "predict_intent": True,
                "target_precision": 0.95}

    def __init__(self, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
                 saved: dict[str, Any] | None = None) -> None:
        self.config = config
        self.model_storage = model_storage
        self.resource = resource
        saved = saved or {}
        self.features: FeatureUnion | None = saved.get("features")
        self.classifiers: dict[str, LogisticRegression] = saved.get("classifiers", {})
        self.triage_threshold: float = saved.get("triage_threshold", 0.5)

    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> CategoryKindClassifier:
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        """One feature space fitted on every example; one classifier per target on it."""
        texts, _ = labelled_examples(training_data, INTENT)
        targets = ([INTENT] if self.config["predict_intent"] else []) + list(LABELS)
        if texts:
            self.features = build_features().fit(texts)
        for target in targets:
            texts, labels = labelled_examples(training_data, target)
            if len(set(labels)) < 2:
                continue
            matrix = self.features.transform(texts)
            classifier = build_classifier(self.config["C"], self.config["solver"])
            self.classifiers[target] = classifier.fit(matrix, labels)
            if target == "category":
                self.triage_threshold = calibrated_threshold(
                    matrix, labels, build_classifier(self.config["C"], self.config["solver"]),
                    self.config["target_precision"])
        with self.model_storage.write_to(self.resource) as directory:
            joblib.dump({"features": self.features, "classifiers": self.classifiers,
                         "triage_threshold": self.triage_threshold}, directory / MODEL_FILE)
        return self.resource

    @classmethod
    def load(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> CategoryKindClassifier:
        try:
            with model_storage.read_from(resource) as directory:
                saved = joblib.load(directory / MODEL_FILE)
        except ValueError:  # trained without labelled data
            saved = {}
        return cls(config, model_storage, resource, saved)

    def process(self, messages: list[Message]) -> list[Message]:
        if self.features is None:
            return messages
        for message in messages:
            matrix = self.features.transform([features_text(message.get(TEXT) or "")])
            for target, classifier in self.classifiers.items():
                probabilities = classifier.predict_proba(matrix)[0]
                ranking = sorted(zip(classifier.classes_, probabilities, strict=True),
                                 key=lambda pair: -pair[1])
                top = [{"name": str(n), "confidence": float(p)} for n, p in ranking[:5]]
                key = INTENT_RANKING_KEY if target == INTENT else f"{target}_ranking"
                message.set(target, top[0], add_to_output=True)
                message.set(key, top, add_to_output=True)
            declared = declared_kind(message.get(TEXT) or "")
            if declared and "kind" in self.classifiers:
                message.set("kind", {"name": declared, "confidence": 1.0}, add_to_output=True)
            if "category" in self.classifiers:
                category = message.get("category")
                message.set("needs_triage", category["name"] == "khac"
                            or category["confidence"] < self.triage_threshold,
                            add_to_output=True)
        return messages
