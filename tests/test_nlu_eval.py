"""The NLU tools: classification output shape from the real trained model, and the metrics
`nghedan nlu eval` prints (checked on hand-made predictions)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from bot.dialogue.nlu_eval import evaluate, location_f1, score, strip_marks, to_classification
from bot.settings import PROJECT_ROOT


def test_strip_marks_keeps_case_and_punctuation():
    assert strip_marks("Đường THÔN 3 ngập, cống tắc!") == "Duong THON 3 ngap, cong tac!"


def test_scores_and_macro_f1_over_gold_labels():
    result = score(["a", "a", "b", "c"], ["a", "b", "b", "c"])
    assert result.accuracy == 0.75
    assert result.per_class["a"] == {"precision": 1.0, "recall": 0.5, "f1": pytest.approx(2 / 3),
                                     "support": 2}
    assert result.macro_f1 == pytest.approx((2 / 3 + 2 / 3 + 1) / 3)
    assert result.confusion == [[1, 1, 0], [0, 1, 0], [0, 0, 1]]


def test_location_f1_is_token_overlap():
    assert location_f1(["hẻm 12"], [["hẻm 12"]]) == 1.0
    assert location_f1(["thôn 3 xã An Bình"], [["thôn 3"]]) == pytest.approx(2 * 1 * 0.4 / 1.4)
    assert location_f1([""], [[]]) == 1.0
    assert location_f1(["thôn 3"], [[]]) == 0.0


def test_triage_share_and_precision_of_automatic_routing():
    rows = [{"text": t, "intent": "report", "category": c, "kind": "phan_anh", "location": None}
            for t, c in (("a", "ha_tang"), ("b", "moi_truong"), ("c", "ha_tang"))]
    parses = [
        {"text": "a", "intent": {"name": "report", "confidence": 0.9},
         "category": {"name": "ha_tang", "confidence": 0.9}},
        {"text": "b", "intent": {"name": "report", "confidence": 0.9},
         "category": {"name": "ha_tang", "confidence": 0.8}},
        {"text": "c", "intent": {"name": "report", "confidence": 0.9},
         "category": {"name": "ha_tang", "confidence": 0.3}},
    ]
    predictions = [to_classification(p) for p in parses]
    assert [p["needs_triage"] for p in predictions] == [False, False, True]
    result = evaluate(rows, predictions)
    assert result["auto_routed_share"] == pytest.approx(2 / 3)
    assert result["auto_routed_precision"] == 0.5
    assert result["category"].accuracy == pytest.approx(2 / 3)


def test_classify_command_uses_the_trained_model(tmp_path):
    lines = ["xin chào", "đơn KN-2026-000123 của tôi sao rồi",
             "Đường bê tông thôn 3 bị ngập sâu mấy hôm nay, cống bị tắc"]
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(json.dumps({"text": t}, ensure_ascii=False) for t in lines))
    result = subprocess.run([sys.executable, "-m", "bot.cli", "nlu", "classify", str(source)],
                            capture_output=True, text=True, timeout=300, env=dict(os.environ))
    assert result.returncode == 0, result.stderr[-2000:]
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["intent"] for o in out] == ["greet", "check_status", "report"]
    assert out[0]["category"] == "" and out[2]["category"]
    assert ("ticket_code", "KN-2026-000123") in [(e["entity"], e["value"])
                                                 for e in out[1]["entities"]]
    assert any(e["entity"] == "location" and "thôn 3" in e["value"] for e in out[2]["entities"])
    assert all(set(o) == {"text", "intent", "category", "kind", "confidence", "needs_triage",
                          "entities"} for o in out)


DEV = PROJECT_ROOT.parent / "shared" / "nlu_dev"


def _eval_sections(path) -> list[dict[str, float]]:
    result = subprocess.run([sys.executable, "-m", "bot.cli", "nlu", "eval", str(path)],
                            capture_output=True, text=True, timeout=600, env=dict(os.environ))
    assert result.returncode == 0, result.stderr[-2000:]
    sections = []
    for block in result.stdout.split("== ")[1:]:
        numbers = {
            "intent": r"intent accuracy ([\d.]+)", "category": r"category accuracy ([\d.]+)",
            "category_f1": r"category accuracy [\d.]+\s+macro-F1 ([\d.]+)",
            "kind": r"kind accuracy ([\d.]+)", "location": r"location F1 ([\d.]+)",
            "auto": r"routed automatically ([\d.]+)", "auto_precision": r"with precision ([\d.]+)",
        }
        sections.append({k: float(m[1]) for k, p in numbers.items()
                         if (m := re.search(p, block))})
    return sections


@pytest.mark.skipif(not (DEV / "chat_messages.jsonl").exists(), reason="no shared/nlu_dev")
def test_chat_messages_meet_the_acceptance_bar_with_and_without_diacritics():
    written, stripped = _eval_sections(DEV / "chat_messages.jsonl")
    assert written["intent"] >= 0.90 and written["category"] >= 0.85
    assert written["category_f1"] >= 0.80 and written["kind"] >= 0.80
    assert written["location"] >= 0.75
    assert written["auto"] >= 0.80 and written["auto_precision"] >= 0.95
    for key in ("intent", "category", "category_f1", "kind", "location"):
        assert stripped[key] >= written[key] - 0.03, key
