"""Answers from the FAQ entries officers maintain (no retraining when an answer changes)."""

from __future__ import annotations

from sqlalchemy import select

from bot.core.text import fold
from bot.settings import load_settings
from bot.store.db import session_scope
from bot.store.models import FaqEntry

MIN_OVERLAP = 0.34  # share of the entry's question words found in the citizen's question
STOPWORDS = frozenset({
    "cho", "toi", "hoi", "xin", "a", "ak", "la", "o", "cua", "va", "thi", "co", "khong", "ko",
    "k", "vay", "the", "nao", "gi",
})


def _words(text: str) -> set[str]:
    return {w for w in fold(text).split() if w not in STOPWORDS and len(w) > 1}


def best_answer(question: str, key: str | None = None) -> str | None:
    """The answer of the entry the NLU picked (`key`) when it is active; else of the entry
    whose question shares most words with this one, if close enough."""
    asked = _words(question)
    best: tuple[float, str] | None = None
    with session_scope(load_settings().effective_database_url) as session:
        if key:
            chosen = session.scalar(select(FaqEntry).where(FaqEntry.key == key, FaqEntry.active))
            if chosen is not None:
                return chosen.answer
        for entry in session.scalars(select(FaqEntry).where(FaqEntry.active)):
            words = _words(entry.question)
            if not words:
                continue
            overlap = len(asked & words) / len(words)
            if overlap >= MIN_OVERLAP and (best is None or overlap > best[0]):
                best = (overlap, entry.answer)
    return best[1] if best else None
