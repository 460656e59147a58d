"""Rasa NLU components for Vietnamese as citizens type it.

`VietnameseTokenizer` splits like Rasa's WhitespaceTokenizer (so entity offsets stay those of
the original text) and gives every token the normalised word as its lemma (bot.core.normalize:
NFC, one tone-mark style, abbreviations, stretched letters, emojis). Featurizers read lemmas,
so "ko dc", "không được" and "k đc" share features.

`FoldedCountVectorsFeaturizer` is Rasa's CountVectorsFeaturizer over the diacritics-free view
of those lemmas (bot.core.text.fold), so "duong thon 3 ngap" and "đường thôn 3 ngập" share
every feature of this view.

`FoldedCRFEntityExtractor` is Rasa's CRFEntityExtractor whose word features (lower case,
prefixes, suffixes) are those of the diacritics-free word: a place typed without marks looks
like the same place typed with them."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.extractors.crf_entity_extractor import (
    CRFEntityExtractor,
    CRFEntityExtractorOptions,
)
from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import (
    CountVectorsFeaturizer,
)
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.nlu.training_data.message import Message

from bot.core.normalize import normalize_word
from bot.core.text import fold


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=False)
class VietnameseTokenizer(WhitespaceTokenizer):
    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return WhitespaceTokenizer.get_default_config()

    @classmethod
    def create(cls, config: dict[str, Any], model_storage: Any, resource: Any,
               execution_context: ExecutionContext) -> VietnameseTokenizer:
        return cls(config)

    def tokenize(self, message: Message, attribute: str) -> list[Token]:
        tokens = super().tokenize(message, attribute)
        for token in tokens:
            token.lemma = normalize_word(token.text) or token.text
        return tokens


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=True)
class FoldedCountVectorsFeaturizer(CountVectorsFeaturizer):
    def _get_message_tokens_by_attribute(self, message: Message, attribute: str) -> list[str]:
        tokens = message.get(TOKENS_NAMES[attribute]) or []
        return [fold(token.lemma or token.text) or token.text for token in tokens]


@lru_cache(maxsize=65536)  # each word's features ask for it many times
def _fold_word(text: str) -> str:
    return fold(text) or text.lower()


def _folded(token: Any) -> str:
    return _fold_word(token.text)


Option = CRFEntityExtractorOptions


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=True)
class FoldedCRFEntityExtractor(CRFEntityExtractor):
    function_dict = {
        **CRFEntityExtractor.function_dict,
        Option.LOW: _folded,
        Option.PREFIX5: lambda token: _folded(token)[:5],
        Option.PREFIX2: lambda token: _folded(token)[:2],
        Option.SUFFIX5: lambda token: _folded(token)[-5:],
        Option.SUFFIX3: lambda token: _folded(token)[-3:],
        Option.SUFFIX2: lambda token: _folded(token)[-2:],
        Option.SUFFIX1: lambda token: _folded(token)[-1:],
    }
