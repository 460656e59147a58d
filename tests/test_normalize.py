"""Vietnamese normalisation (bot.core.normalize) and the Rasa tokenizer/featurizer built on it:
what citizens type in different ways ends up as the same features."""

from __future__ import annotations

import unicodedata

import pytest
from rasa.shared.nlu.training_data.message import Message

from bot.core.normalize import normalize, normalize_words, place_tone
from bot.core.text import fold
from bot.rasa_ext.patterns import find
from bot.rasa_ext.vietnamese import FoldedCountVectorsFeaturizer, VietnameseTokenizer


@pytest.mark.parametrize(("typed", "expected"), [
    ("hoà", "hòa"), ("Thuý", "Thúy"), ("khoẻ", "khỏe"), ("HOÁ", "HÓA"), ("hoạ", "họa"),
    ("quả", "quả"), ("giữa", "giữa"), ("người", "người"), ("ngoài", "ngoài"),
    ("thuở", "thuở"), ("quyết", "quyết"), ("hoàn", "hoàn"), ("tuyển", "tuyển"),
])
def test_one_tone_mark_style(typed, expected):
    assert place_tone(typed) == expected


def test_decomposed_input_becomes_nfc():
    typed = unicodedata.normalize("NFD", "Đường thôn 3 ngập")
    assert normalize(typed) == "Đường thôn 3 ngập"
    assert unicodedata.is_normalized("NFC", normalize(typed))


def test_abbreviations_teencode_stretching_and_emojis():
    assert normalize("ko dc j z mn") == "không được gì vậy mọi người"
    assert normalize("k đc, ng ta ko sửa") == "không được, người ta không sửa"
    assert normalize("ngập quáaaa 😡😡") == "ngập quá bực bực"
    assert normalize("xoong nồi cứuuuu") == "xoong nồi cứu"
    # Words that only look like abbreviations typed without marks stay as they are.
    assert normalize("hem 12 den hong") == "hem 12 den hong"


def test_whitespace_and_control_characters():
    assert normalize("  đường\tthôn\u200b 3 \n ngập ") == "đường thôn 3 ngập"
    assert normalize("\x00\x07") == ""


def test_word_positions_are_those_of_the_original_text():
    text = "ko  dc hẻm 5"
    assert [(text[s:e], n) for s, e, n in normalize_words(text)] == [
        ("ko", "không"), ("dc", "được"), ("hẻm", "hẻm"), ("5", "5")]


def test_with_and_without_diacritics_fold_alike():
    assert fold(normalize("đường thôn 3 ngập ko ai sửa")) == fold(
        normalize("duong thon 3 ngap k ai sua"))


def test_tokenizer_keeps_offsets_and_normalises_lemmas():
    message = Message(data={"text": "đèn ko sáng ở hẻm 12"})
    tokens = VietnameseTokenizer(VietnameseTokenizer.get_default_config()).tokenize(
        message, "text")
    assert [(t.text, t.start, t.end) for t in tokens][1] == ("ko", 4, 6)
    assert [t.lemma for t in tokens][:3] == ["đèn", "không", "sáng"]


def test_folded_featurizer_reads_folded_lemmas():
    tokenizer = VietnameseTokenizer(VietnameseTokenizer.get_default_config())
    message = Message(data={"text": "Đường ngập, ko ai sửa"})
    tokenizer.process([message])
    words = FoldedCountVectorsFeaturizer._get_message_tokens_by_attribute(
        object.__new__(FoldedCountVectorsFeaturizer), message, "text")
    assert words == ["duong", "ngap", "khong", "ai", "sua"]


def test_codes_phones_and_dates_by_pattern():
    found = find("Đơn kn-2026-45 ngày 12/3/2026, sđt 0905 123 456; lúc 7h ngày 5 tháng 6")
    assert [(e["entity"], e["value"]) for e in found] == [
        ("ticket_code", "KN-2026-000045"), ("date", "12/3/2026"), ("phone", "0905123456"),
        ("date", "ngày 5 tháng 6")]
    assert find("kiệt 240/144 Lý Nam Đế") == []
