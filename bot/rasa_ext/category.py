"""A Rasa NLU component that predicts the report's category and kind (shared/taxonomy.md).

Training data: `report` examples whose intent-level metadata names the `category` and whose
example-level metadata names the `kind` (nlu_data/nlu/report_*.yml). Model: TF-IDF over
character n-grams and word n-grams of the diacritics-free, lower-cased text (so "duong thon
ngap" and "đường thôn ngập" share every feature), then a logistic regression; sublinear term
frequencies keep long formal letters from swamping short messages. Adds `category` and `kind`
({name, confidence}) and their rankings to every parse."""

from __future__ import annotations

from typing import Any

import joblib
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import INTENT, METADATA, METADATA_EXAMPLE, METADATA_INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline

from bot.core.text import fold

REPORT_INTENT = "report"
TARGETS = ("category", "kind")
MODEL_FILE = "category_kind.joblib"


def build_model(c: float) -> Pipeline:
    features = FeatureUnion([
        ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True,
                                  min_df=1, max_features=60000)),
        ("words", TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True,
                                  token_pattern=r"(?u)\b\w+\b")),
    ])
    classifier = LogisticRegression(C=c, max_iter=2000, class_weight="balanced")
    return Pipeline([("features", features), ("classifier", classifier)])


def labelled_examples(training_data: TrainingData, target: str) -> tuple[list[str], list[str]]:
    texts, labels = [], []
    for example in training_data.intent_examples:
        if example.get(INTENT) != REPORT_INTENT:
            continue
        metadata = example.get(METADATA) or {}
        label = ((metadata.get(METADATA_EXAMPLE) or {}).get(target)
                 or (metadata.get(METADATA_INTENT) or {}).get(target))
        if label:
            texts.append(fold(example.get(TEXT)))
            labels.append(str(label))
    return texts, labels


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class CategoryKindClassifier(GraphComponent):
    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"C": 8.0}

    def __init__(self, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
                 models: dict[str, Pipeline] | None = None) -> None:
        self.config = config
        self.model_storage = model_storage
        self.resource = resource
        self.models = models or {}

    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> CategoryKindClassifier:
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        for target in TARGETS:
            texts, labels = labelled_examples(training_data, target)
            if len(set(labels)) >= 2:
                self.models[target] = build_model(self.config["C"]).fit(texts, labels)
        with self.model_storage.write_to(self.resource) as directory:
            joblib.dump(self.models, directory / MODEL_FILE)
        return self.resource

    @classmethod
    def load(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> CategoryKindClassifier:
        try:
            with model_storage.read_from(resource) as directory:
                models = joblib.load(directory / MODEL_FILE)
        except ValueError:  # trained without labelled data
            models = {}
        return cls(config, model_storage, resource, models)

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            text = fold(message.get(TEXT) or "")
            for target, model in self.models.items():
                probabilities = model.predict_proba([text])[0]
                ranking = sorted(zip(model.classes_, probabilities, strict=True),
                                 key=lambda pair: -pair[1])
                name, confidence = ranking[0]
                message.set(target, {"name": str(name), "confidence": float(confidence)},
                            add_to_output=True)
                message.set(f"{target}_ranking",
                            [{"name": str(n), "confidence": float(p)} for n, p in ranking[:5]],
                            add_to_output=True)
        return messages
