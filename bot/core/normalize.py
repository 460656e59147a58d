"""Vietnamese normalisation of what citizens type: Unicode NFC, one tone-mark placement style,
common chat abbreviations and teencode, stretched letters, emojis. Works word by word, so a
channel or the NLU can keep each word's position in the original text (`normalize_words`).

Tone placement follows the traditional style most keyboards and newspapers use ("hòa", "thúy",
"khỏe"): in an open syllable with two vowels the mark goes on the first vowel; a vowel with a
quality mark (ă â ê ô ơ ư) always carries it; otherwise the last vowel before a final consonant
and the middle one of three."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

TONES = {"\u0300", "\u0301", "\u0303", "\u0309", "\u0323"}  # huyền sắc ngã hỏi nặng
VOWELS = set("aăâeêioôơuưy")
MARKED_VOWELS = set("ăâêôơư")
WORD = re.compile(r"\S+")
EMOJI_WORDS = {"👍": "ok", "👌": "ok", "🙏": "cảm ơn", "❤": "cảm ơn", "😡": "bực", "😠": "bực"}

# Chat abbreviations and teencode, keyed by the lower-cased word without diacritics. Ambiguous
# short forms ("a", "bt", "k" alone in a list) are left out or resolved to their usual meaning
# in messages to an authority.
ABBREVIATIONS = {
    "ko": "không", "k": "không", "kg": "không", "khg": "không", "hok": "không",
    "hông": "không", "kh": "không", "dc": "được", "đc": "được",
    "ng": "người", "ngta": "người ta", "j": "gì", "ji": "gì", "z": "vậy", "zay": "vậy",
    "v": "vậy", "r": "rồi", "mn": "mọi người", "mng": "mọi người", "vs": "với",
    "ntn": "như thế nào",
    "sdt": "số điện thoại", "sđt": "số điện thoại", "đt": "điện thoại",
    "cty": "công ty", "ubnd": "ủy ban nhân dân", "tdp": "tổ dân phố", "kp": "khu phố",
    "bn": "bao nhiêu", "trc": "trước", "hnay": "hôm nay", "hqua": "hôm qua", "wa": "quá",
    "qa": "quá", "bik": "biết", "tks": "cảm ơn", "thanks": "cảm ơn",
    "thank": "cảm ơn", "oy": "rồi", "roai": "rồi", "ak": "à", "uh": "ừ",
    "uk": "ừ", "okie": "ok", "oke": "ok", "okela": "ok", "nhiu": "nhiêu", "lun": "luôn",
    "mik": "mình", "mk": "mình", "bjo": "bây giờ", "bh": "bây giờ", "bgio": "bây giờ",
    "cx": "cũng", "cg": "cũng", "ns": "nói", "nc": "nước", "ad": "admin", "add": "admin",
}
# Left out on purpose: "hem" and "hong" (hẻm, hỏng typed without marks), "bit" (bịt), "dt"
# (diện tích), "cam" (cam).


def strip_tone(syllable: str) -> tuple[str, str | None]:
    """The syllable without its tone mark (NFC), and the tone's combining character."""
    decomposed = unicodedata.normalize("NFD", syllable)
    tone = next((ch for ch in decomposed if ch in TONES), None)
    bare = "".join(ch for ch in decomposed if ch not in TONES)
    return unicodedata.normalize("NFC", bare), tone


def _tone_position(word: str) -> int | None:
    """Index (in the lower-cased, tone-less word) of the vowel that carries the tone."""
    lower = word.lower()
    start = 0
    if lower.startswith("qu") or (lower.startswith("gi") and len(lower) > 2
                                  and lower[2] in VOWELS):
        start = 2
    positions = [i for i in range(start, len(lower)) if lower[i] in VOWELS]
    if not positions:
        positions = [i for i in range(len(lower)) if lower[i] in VOWELS]
    if not positions:
        return None
    cluster_end = positions[-1]
    cluster = [i for i in positions if i <= cluster_end]
    marked = [i for i in cluster if lower[i] in MARKED_VOWELS]
    if marked:
        return marked[-1]
    has_final = cluster_end < len(lower) - 1
    if len(cluster) == 1:
        return cluster[0]
    if has_final:
        return cluster[-1]
    if len(cluster) >= 3:
        return cluster[1]
    return cluster[0]


def place_tone(word: str) -> str:
    """One Vietnamese syllable with its tone mark on the vowel of the traditional style."""
    bare, tone = strip_tone(word)
    if tone is None or not bare.isalpha():
        return unicodedata.normalize("NFC", word)
    position = _tone_position(bare)
    if position is None:
        return unicodedata.normalize("NFC", word)
    marked = unicodedata.normalize("NFC", bare[position] + tone)
    return bare[:position] + marked + bare[position + 1:]


def _plain(word: str) -> str:
    decomposed = unicodedata.normalize("NFD", word.lower().replace("đ", "d"))
    return "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")


def _toneless(ch: str) -> str:
    return strip_tone(ch.lower())[0]


def unstretch(word: str) -> str:
    """"quáaaa" -> "quá", "ngậpppp" -> "ngập": runs of one letter (tone aside) of three or
    more, or of two that differ only in tone, become the letter with its tone."""
    out: list[str] = []
    run: list[str] = []
    for ch in [*word, ""]:
        if run and ch and ch.isalpha() and _toneless(ch) == _toneless(run[0]):
            run.append(ch)
            continue
        if len(run) >= 3 or (len(run) == 2 and run[0] != run[1]):
            out.append(max(run, key=lambda c: len(unicodedata.normalize("NFD", c))))
        else:
            out.extend(run)
        run = [ch] if ch else []
    return "".join(out)


def _is_emoji(ch: str) -> bool:
    return unicodedata.category(ch) in ("So", "Sk", "Cs") or ch in "\u200d\ufe0f"


@lru_cache(maxsize=65536)  # words repeat: the cache makes long letters cheap to normalise
def normalize_word(word: str) -> str:
    """One whitespace-separated word, normalised; may expand to several words, or to ""."""
    word = unicodedata.normalize("NFC", word)
    emoji_words = [EMOJI_WORDS[ch] for ch in word if ch in EMOJI_WORDS]
    word = "".join(ch for ch in word if not _is_emoji(ch) and unicodedata.category(ch)[0] != "C")
    word = unstretch(word)
    core = word.strip(".,!?;:…\"'()")
    key = core.lower()
    if key in ABBREVIATIONS:
        expansion = ABBREVIATIONS[key]
        word = word.replace(core, expansion, 1)
    else:
        word = re.sub(r"[^\W\d_]+", lambda m: place_tone(m.group(0)), word)
    return " ".join(part for part in [word, *emoji_words] if part)


def normalize_words(text: str) -> list[tuple[int, int, str]]:
    """(start, end, normalised) for every word of the original text."""
    return [(m.start(), m.end(), normalize_word(m.group(0))) for m in WORD.finditer(text)]


def normalize(text: str) -> str:
    """The whole text normalised, words joined by single spaces."""
    return " ".join(n for _, _, n in normalize_words(unicodedata.normalize("NFC", text)) if n)
