"""The Rasa project itself: data and domain validate, and every test story in tests/rasa is
predicted exactly by the trained model (rules, form, fallbacks)."""

from __future__ import annotations

import subprocess
import sys

from bot.dialogue.rasa_runtime import model_path, rasa_env
from bot.settings import PROJECT_ROOT, load_settings


def rasa(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rasa", *args], cwd=PROJECT_ROOT,
                          env=rasa_env(), capture_output=True, text=True, timeout=timeout)


def test_training_data_and_domain_validate():
    result = rasa("data", "validate", "--data", "nlu_data", "--domain", "domain.yml",
                  "--config", "config.yml")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def test_every_test_story_passes(tmp_path):
    model = model_path(load_settings())
    assert model.exists(), "train first: nghedan train"
    result = rasa("test", "core", "--stories", "tests/rasa", "--model", str(model),
                  "--out", str(tmp_path), "--fail-on-prediction-errors")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    failed = (tmp_path / "failed_test_stories.yml").read_text()
    assert "None of the test stories failed" in failed
