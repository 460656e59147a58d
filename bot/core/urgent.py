"""Is a report about danger to life or property now? Rules on its words, written with or
without diacritics: a landslide, a fire, a fallen live wire, deep flooding, a collapsing
structure, a fight, someone drowning.

A word of a rule matches a word of the text written exactly so, or written without any marks
(folded: "chay" for "cháy"). A word written with other marks never matches: "chạy" (to run) is
not "cháy" (fire). Words that are ambiguous without marks ("cháy"/"chạy", "sập"/"sắp") only
count alone when written with their marks; without marks they count inside phrases that say it
("chay nha", "do sap"). Phrases that only look dangerous ("cháy túi", "cơm cháy", "sập nguồn")
are taken out first."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from bot.core.text import fold

GAP = "~"  # in a rule: up to MAX_GAP words of anything
MAX_GAP = 3
HARMLESS_GAP = 6  # "bóng đèn đường ở ngõ 5 bị cháy": the lamp, far from its verb
EXACT = "="  # before a word of a rule: must be written with its marks


@dataclass(frozen=True)
class Urgency:
    urgent: bool
    life_at_risk: bool
    matched: str | None  # the rule that matched (for logs and tests; never the citizen's words)


NOT_URGENT = Urgency(False, False, None)


@dataclass(frozen=True)
class Rule:
    words: tuple[str, ...]
    life_at_risk: bool

    @property
    def name(self) -> str:
        return " ".join(w.lstrip(EXACT) for w in self.words)


def _rules(life: bool, *phrases: str) -> list[Rule]:
    return [Rule(tuple(phrase.split()), life) for phrase in phrases]


# Checked in this order; the first match decides (those with lives at risk first).
RULES: list[Rule] = [
    # fire, explosion, gas
    *_rules(True, "=cháy", "hoả hoạn", "hỏa hoạn", "cháy nhà", "nhà ~ bị cháy",
            "nhà ~ đang cháy", "bốc cháy", "đám cháy", "vụ cháy", "cháy rừng", "=cháy chợ",
            "cháy lớn", "cháy xưởng", "cháy kho", "cháy quán", "=cháy xe", "cháy nổ",
            "nổ bình ga", "nổ bình gas", "rò rỉ ga", "rò rỉ gas", "rò rỉ khí ga",
            "khí ga rò", "=nổ lớn"),
    # fallen or live wires, electrocution
    *_rules(True, "dây điện ~ đứt", "dây điện ~ rơi", "dây điện ~ rớt", "dây điện ~ chạm đất",
            "dây điện ~ sà xuống", "dây điện ~ tóe lửa", "dây điện ~ chập", "đứt dây điện",
            "điện giật", "giật điện", "rò điện", "cột điện ~ đổ", "cột điện ~ gãy",
            "đổ cột điện", "gãy cột điện"),
    # landslide, flash flood, drowning
    *_rules(True, "sạt lở", "sạt núi", "sạt đồi", "sạt taluy", "lở đất", "lở núi", "đất đá ~ lăn",
            "đất đá ~ tràn", "lũ quét", "lũ cuốn", "nước cuốn", "cuốn trôi", "đuối nước",
            "chết đuối", "=ngã xuống sông", "=rơi xuống sông"),
    # collapse
    *_rules(True, "=sập", "đổ sập", "sập đổ", "sắp đổ", "sập nhà", "nhà ~ bị sập", "nhà ~ đã sập",
            "sập cầu", "cầu ~ bị sập", "sập mái", "sập tường", "tường ~ bị sập", "tường ~ đổ",
            "bị sập", "cây ~ đổ ~ đè", "=nứt toác", "nguy cơ sập"),
    # fights, weapons
    *_rules(True, "đánh nhau", "ẩu đả", "hỗn chiến", "chém nhau", "đâm chém", "đâm nhau",
            "cầm dao ~ đánh", "=cầm dao", "hung khí", "=đánh người", "đánh ~ trọng thương"),
    # danger to property or passage now, lives not said to be at risk
    *_rules(False, "ngập sâu", "ngập ~ đến ngực", "ngập ~ quá đầu gối", "ngập ~ ngang ngực",
            "ngập ~ đến nóc", "ngập ~ tới nóc", "nước ~ dâng cao", "ngập ~ vào nhà ~ sâu",
            "lũ ~ dâng", "vỡ đê", "tràn đê", "vỡ đập", "=vỡ ống nước lớn",
            "hố tử thần", "cây đổ", "đổ cây", "cây gãy ~ chắn"),
]
# Phrases that only look like danger; their words are taken out before the rules run.
HARMLESS: list[tuple[str, ...]] = [tuple(p.split()) for p in (
    "cháy túi", "cháy nắng", "cháy hàng", "cháy vé", "cháy phim", "cháy da", "cơm cháy",
    "cháy máy in", "cháy bỏng", "khát cháy", "sập nguồn", "sập bẫy", "sập web", "sập mạng",
    "sập hệ thống", "sập app", "sập ứng dụng", "sập cửa", "sập tối", "cửa sập", "ghế sập",
    "giường sập", "điện giật mình", "bóng đèn ~ cháy", "đèn ~ cháy", "cháy bóng",
    "cháy đèn", "cháy cầu chì", "giật mình", "hỏa hoạn giả định", "diễn tập",
)]


@dataclass(frozen=True)
class _Word:
    plain: str  # folded
    written: str  # lower case, NFC, as typed (with whatever marks it had)

    @property
    def marked(self) -> bool:
        return self.written != self.plain


def _words(text: str) -> list[_Word]:
    normal = unicodedata.normalize("NFC", text.lower())
    return [_Word(fold(w), w) for w in re.findall(r"\w+", normal) if fold(w)]


def _word_matches(rule_word: str, word: _Word) -> bool:
    exact = rule_word.startswith(EXACT)
    rule_word = unicodedata.normalize("NFC", rule_word.lstrip(EXACT))
    if word.written == rule_word:
        return True
    return not exact and not word.marked and word.plain == fold(rule_word)


def _match_at(rule: tuple[str, ...], words: list[_Word | None], start: int,
              max_gap: int) -> int | None:
    """The index after a match of `rule` starting at `start`, or None."""
    if not rule:
        return start
    head, rest = rule[0], rule[1:]
    if head == GAP:
        for skip in range(max_gap + 1):
            if (end := _match_at(rest, words, start + skip, max_gap)) is not None:
                return end
        return None
    if start < len(words) and words[start] is not None and _word_matches(head, words[start]):
        return _match_at(rest, words, start + 1, max_gap)
    return None


def _find(rule: tuple[str, ...], words: list[_Word | None],
          max_gap: int = MAX_GAP) -> range | None:
    for start in range(len(words)):
        if (end := _match_at(rule, words, start, max_gap)) is not None:
            return range(start, end)
    return None


def _without(phrases: list[tuple[str, ...]], words: list[_Word | None]) -> list[_Word | None]:
    words = list(words)
    for phrase in phrases:
        while (span := _find(phrase, words, HARMLESS_GAP)) is not None:
            for index in span:
                words[index] = None
    return words


def detect(text: str | None) -> Urgency:
    """Urgent (and lives at risk) when a rule's phrase is in the text. Harmless phrases with a
    gap ("đèn ... cháy") only stop one-word rules: "đèn dầu đổ làm cháy nhà" is a fire."""
    near = _without([h for h in HARMLESS if GAP not in h], _words(text or ""))
    far = _without([h for h in HARMLESS if GAP in h], near)
    for rule in RULES:
        if _find(rule.words, far if len(rule.words) == 1 else near) is not None:
            return Urgency(True, rule.life_at_risk, rule.name)
    return NOT_URGENT
