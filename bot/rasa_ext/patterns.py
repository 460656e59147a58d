"""A Rasa NLU component that finds ticket codes, phone numbers and dates by pattern.

These have a fixed shape, so a pattern is exact where a learned tagger only guesses: it runs
after DIET and replaces whatever DIET tagged as one of these entities."""

from __future__ import annotations

import re
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message

TICKET_CODE = re.compile(r"(?<![\w-])[Kk][Nn]\s?-\s?\d{4}\s?-\s?\d{1,6}(?![\w-])")
PHONE = re.compile(r"(?<![\d+])(?:0|\+84)(?:[ .]?\d){9,10}(?!\d)")  # mobile 10, landline 11
_DAY_MONTH = r"(?:0?[1-9]|[12]\d|3[01])[/.-](?:0?[1-9]|1[0-2])(?:[/.-](?:19|20)\d{2})?"
_WORDS = (r"ng[aà]y\s+(?:0?[1-9]|[12]\d|3[01])\s+th[aá]ng\s+(?:0?[1-9]|1[0-2])"
          r"(?:\s+n[aă]m\s+(?:19|20)\d{2})?")
DATE = re.compile(rf"(?<![\w/.-])(?:{_DAY_MONTH}|{_WORDS})(?![\w/-])", re.IGNORECASE)
PATTERNS = {"ticket_code": TICKET_CODE, "phone": PHONE, "date": DATE}


def ticket_code_value(span: str) -> str:
    """KN-2026-123 and "kn 2026 000123" alike become KN-2026-000123."""
    prefix, year, number = re.findall(r"[A-Za-z]+|\d+", span)
    return f"{prefix.upper()}-{year}-{int(number):06d}"


def find(text: str) -> list[dict[str, Any]]:
    found = []
    for name, pattern in PATTERNS.items():
        for match in pattern.finditer(text):
            value = match.group(0)
            if name == "ticket_code":
                value = ticket_code_value(value)
            elif name == "phone":
                value = re.sub(r"[ .]", "", value)
            found.append({"entity": name, "value": value, "start": match.start(),
                          "end": match.end(), "confidence_entity": 1.0,
                          "extractor": "PatternEntityExtractor"})
    # A phone number is never also a date, nor a code's digits a phone number.
    found.sort(key=lambda e: (e["start"], -(e["end"] - e["start"])))
    kept: list[dict[str, Any]] = []
    for entity in found:
        if all(entity["start"] >= k["end"] or entity["end"] <= k["start"] for k in kept):
            kept.append(entity)
    return kept


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False)
class PatternEntityExtractor(GraphComponent):
    @classmethod
    def create(cls, config: dict[str, Any], model_storage: Any, resource: Any,
               execution_context: ExecutionContext) -> PatternEntityExtractor:
        return cls()

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            text = message.get(TEXT) or ""
            found = find(text)
            others = [e for e in message.get(ENTITIES, []) if e.get("entity") not in PATTERNS
                      and all(e["end"] <= f["start"] or e["start"] >= f["end"] for f in found)]
            message.set(ENTITIES, sorted(others + found, key=lambda e: e["start"]),
                        add_to_output=True)
        return messages

