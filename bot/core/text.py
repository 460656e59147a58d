"""Vietnamese text helpers: a diacritics-insensitive, case-insensitive view of text, so
"thon dong" matches "Thôn Đông" and "tdp 1" matches "Tổ dân phố 1"."""

from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r"\s+")
_PUNCT = re.compile(r"[^\w\s]")


def fold(text: str) -> str:
    """Lower-case, no tone or vowel marks, đ -> d, punctuation removed, single spaces."""
    decomposed = unicodedata.normalize("NFD", text.lower().replace("đ", "d").replace("Đ", "d"))
    stripped = "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")
    return _SPACES.sub(" ", _PUNCT.sub(" ", stripped)).strip()


def contains_phrase(haystack: str, phrase: str) -> bool:
    """True when the folded phrase occurs in the folded text on word boundaries."""
    folded_phrase = fold(phrase)
    if not folded_phrase:
        return False
    return re.search(rf"(?<!\w){re.escape(folded_phrase)}(?!\w)", fold(haystack)) is not None
