"""Likely duplicates of a ticket, shown to officers as candidates (an officer links them; nothing
is linked automatically): same category, same area (or the same place in words), received
within 30 days of each other, and similar words. Similarity is the cosine of TF-IDF vectors of
character 3-5-grams of the folded text (no case, no diacritics), with the place's own words and
common function words left out, so "đèn đường thôn 3 hỏng" is not a duplicate of "đường thôn 3
ngập" just because both name the road of Thôn 3. Never for khiếu nại or tố cáo: each of those
is a person's own case under its own law."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from bot.core.taxonomy import STATUS_LABELS, Kind
from bot.core.text import fold
from bot.store.models import Area, Ticket

NEVER_DUPLICATES = frozenset({Kind.KHIEU_NAI.value, Kind.TO_CAO.value})
POOL_LIMIT = 300  # most recent tickets compared; a commune gets tens a day
NGRAMS = (3, 5)
FUNCTION_WORDS = (
    "bị ở đã rồi không được có của và là một những các cho tôi này đó thì rất quá nhiều gì mà "
    "để về từ đến tại sau trước thế nào xin ạ em anh chị ông bà nhà mình hiện nay đang vẫn "
    "cũng lại nữa với như khi")
STOPWORDS = frozenset(fold(w) for w in FUNCTION_WORDS.split())


@dataclass(frozen=True)
class Candidate:
    code: str
    similarity: float
    status_label: str
    received_at: datetime | None = None


def _place_words(session: Session, ticket: Ticket) -> list[str]:
    names = [ticket.location_text or ""]
    if ticket.area_id and (area := session.get(Area, ticket.area_id)) is not None:
        names += [area.name, *area.aliases]
    return sorted({fold(n) for n in names if n and fold(n)}, key=len, reverse=True)


def comparable_text(text: str, place_words: list[str]) -> str:
    """The folded words that describe the problem: place names and function words removed."""
    folded = fold(text or "")
    for name in place_words:
        folded = re.sub(rf"(?<!\w){re.escape(name)}(?!\w)", " ", folded)
    return " ".join(w for w in folded.split() if w not in STOPWORDS)


def similarities(text: str, others: list[str]) -> list[float]:
    """Cosine similarity of `text` to each of `others` (already comparable_text)."""
    if not others:
        return []
    try:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.metrics.pairwise import cosine_similarity
    except ImportError:  # scikit-learn comes with Rasa; trigram Jaccard otherwise
        return [_jaccard(text, other) for other in others]
    docs = [text, *others]
    if not any(len(d) >= NGRAMS[0] for d in docs):
        return [0.0] * len(others)
    vectors = TfidfVectorizer(analyzer="char_wb", ngram_range=NGRAMS,
                              sublinear_tf=True).fit_transform(docs)
    return [float(x) for x in cosine_similarity(vectors[0], vectors[1:])[0]]


def _jaccard(a: str, b: str) -> float:
    def grams(s: str) -> set[str]:
        s = f" {s} "
        return {s[i:i + 3] for i in range(len(s) - 2)}

    ga, gb = grams(a), grams(b)
    return len(ga & gb) / len(ga | gb) if ga | gb else 0.0


def candidates(session: Session, ticket: Ticket, threshold: float,
               days: int = 30) -> list[Candidate]:
    """Tickets that may report the same problem, most similar first (at most 10). Confidential
    tickets, khiếu nại and tố cáo are never candidates, nor is the ticket already linked."""
    if ticket.kind in NEVER_DUPLICATES or ticket.confidential:
        return []
    window = timedelta(days=days)
    place = fold(ticket.location_text or "")
    same_place = []
    if ticket.area_id is not None:
        same_place.append(Ticket.area_id == ticket.area_id)
    if place:
        same_place.append(Ticket.location_text.is_not(None))
    if not same_place:
        return []
    query = (select(Ticket).where(
        Ticket.id != ticket.id, Ticket.category == ticket.category,
        Ticket.kind.not_in(sorted(NEVER_DUPLICATES)), Ticket.confidential.is_(False),
        Ticket.received_at >= ticket.received_at - window,
        Ticket.received_at <= ticket.received_at + window,
        or_(*same_place))
        .order_by(Ticket.received_at.desc()).limit(POOL_LIMIT))
    pool = [t for t in session.scalars(query)
            if t.id != ticket.duplicate_of_id and t.duplicate_of_id != ticket.id
            and ((ticket.area_id is not None and t.area_id == ticket.area_id)
                 or (place and fold(t.location_text or "") == place))]
    words = _place_words(session, ticket)
    scores = similarities(comparable_text(ticket.text, words),
                          [comparable_text(t.text, words) for t in pool])
    found = [Candidate(t.code, round(score, 2), STATUS_LABELS.get(t.status, t.status),
                       t.received_at)
             for t, score in zip(pool, scores, strict=True) if score >= threshold]
    return sorted(found, key=lambda c: -c.similarity)[:10]
