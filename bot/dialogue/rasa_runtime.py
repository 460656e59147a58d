"""Everything about running Rasa as processes: training when stale, the command lines of the
Rasa and action servers, and the endpoints file they read."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

import yaml

from bot.core.service import REDIS_KEY_PREFIX
from bot.settings import PROJECT_ROOT, Settings

MODEL_NAME = "nghedan"
# The custom NLU components and the text helpers they call change the model too.
TRAINING_INPUTS = ("config.yml", "domain.yml", "bot/core/normalize.py", "bot/core/text.py",
                   "bot/rasa_ext/vietnamese.py", "bot/rasa_ext/patterns.py",
                   "bot/rasa_ext/category.py")
TRAINING_DATA_DIR = "nlu_data"


def rasa_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update({"RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2",
                "TQDM_DISABLE": "1",
                "PYTHONWARNINGS": "ignore", "SQLALCHEMY_SILENCE_UBER_WARNING": "1"})
    return env


def corrections_path(settings: Settings) -> Path:
    """The export of officers' corrections (outside git): extra training data when present."""
    from bot.core.corrections import export_path

    return export_path(settings)


def rebuild_corrections(settings: Settings) -> int | None:
    """Export the corrections again (bot.core.corrections.rebuild_export): an erasure or a
    withdrawn yes since the last export reaches the next model."""
    from bot.core.corrections import rebuild_export

    return rebuild_export(settings)


def extra_training_files(settings: Settings) -> list[Path]:
    path = corrections_path(settings)
    return [path] if path.is_file() and path.stat().st_size else []


def training_data_paths(settings: Settings) -> list[str]:
    """What `rasa train --data` reads: the project's data, and the corrections when exported."""
    return [TRAINING_DATA_DIR, *(str(p.resolve()) for p in extra_training_files(settings))]


def training_fingerprint(root: Path = PROJECT_ROOT, extra: list[Path] | None = None) -> str:
    """Every input of the model: config, domain, custom components, data, and the extra data
    files (the corrections export) with their content."""
    digest = hashlib.sha256()
    files = [root / name for name in TRAINING_INPUTS]
    files += sorted((root / TRAINING_DATA_DIR).rglob("*.yml"))
    for path in files:
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    for path in extra or []:
        digest.update(b"extra:" + path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def model_path(settings: Settings) -> Path:
    return settings.rasa_model_dir / f"{MODEL_NAME}.tar.gz"


def model_is_current(settings: Settings) -> bool:
    stamp = settings.rasa_model_dir / f"{MODEL_NAME}.sha256"
    return (model_path(settings).exists() and stamp.exists()
            and stamp.read_text().strip()
            == training_fingerprint(extra=extra_training_files(settings)))


def train_command(settings: Settings) -> list[str]:
    return [sys.executable, "-m", "rasa", "train", "--quiet",
            "--data", *training_data_paths(settings),
            "--config", "config.yml", "--domain", "domain.yml", "--out",
            str(settings.rasa_model_dir), "--fixed-model-name", MODEL_NAME]


def train(settings: Settings, rebuild: bool = True) -> None:
    """Train the model into RASA_MODEL_DIR (the corrections export rebuilt first unless the
    caller just did); raises CalledProcessError on failure."""
    if rebuild:
        rebuild_corrections(settings)
    settings.rasa_model_dir.mkdir(parents=True, exist_ok=True)
    extra = extra_training_files(settings)
    fingerprint = training_fingerprint(extra=extra)  # of what this run reads
    subprocess.run(train_command(settings), cwd=PROJECT_ROOT, env=rasa_env(), check=True)
    (settings.rasa_model_dir / f"{MODEL_NAME}.sha256").write_text(fingerprint)


def endpoints_config(settings: Settings) -> dict:
    config: dict = {
        "action_endpoint": {"url": f"http://127.0.0.1:{settings.action_server_port}/webhook"},
    }
    if settings.redis_url:
        redis = urlparse(settings.redis_url)
        common = {"url": redis.hostname or "127.0.0.1", "port": redis.port or 6379,
                  "db": int((redis.path or "/0").lstrip("/") or 0)}
        if redis.password:
            common["password"] = redis.password
        config["tracker_store"] = {"type": "redis", "key_prefix": REDIS_KEY_PREFIX, **common}
        config["lock_store"] = {"type": "redis", "key_prefix": REDIS_KEY_PREFIX, **common}
    else:
        config["tracker_store"] = {
            "type": "bot.rasa_ext.tracker_store.ProjectTrackerStore",
            "db_url": settings.effective_database_url,
        }
    return config


def write_runtime_files(settings: Settings) -> tuple[Path, Path]:
    """endpoints.yml and credentials.yml for this run, in DATA_DIR/run (they hold URLs)."""
    run_dir = settings.data_dir / "run"
    run_dir.mkdir(parents=True, exist_ok=True)
    endpoints, credentials = run_dir / "endpoints.yml", run_dir / "credentials.yml"
    endpoints.write_text(yaml.safe_dump(endpoints_config(settings), sort_keys=False))
    endpoints.chmod(0o600)
    credentials.write_text(yaml.safe_dump({"rest": None}))
    return endpoints, credentials


def rasa_server_command(settings: Settings, endpoints: Path, credentials: Path) -> list[str]:
    url = urlparse(settings.rasa_url)
    return [
        sys.executable, "-m", "rasa", "run", "--enable-api",
        # one argument: a token may start with "-", which argparse would read as an option
        f"--auth-token={settings.ensure_rasa_token()}",
        "--interface", url.hostname or "127.0.0.1", "--port", str(url.port or 5005),
        "--model", str(model_path(settings)),
        "--endpoints", str(endpoints), "--credentials", str(credentials),
    ]


def action_server_command(settings: Settings) -> list[str]:
    return [sys.executable, "-m", "rasa_sdk", "--actions", "actions",
            "--port", str(settings.action_server_port)]
