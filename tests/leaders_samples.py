"""The samples of the leaders' guide (docs/huong-dan-lanh-dao.md), made by the real commands on
the demo commune with FIG's seeded history (tests/figures_history.py, April..September 2026):

    .venv/bin/python -m tests.leaders_samples [DIR]     # default docs/samples

runs, in a fresh SQLite database of its own,
    nghedan digest --week 2026-W20 --unit xa-an-binh --out DIR          (digest.txt, chart.png)
    nghedan report --from 2025-10-16 --to 2026-10-15 --unit xa-an-binh --format md
                   --out DIR/report.md
and keeps digest.txt, chart.png and report.md (the workbook is left out of git: a binary that
changes with every figure). tests/test_docs_leaders.py makes the digest again from the same
seed and compares, so a sample that no longer matches the code fails there."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bot.core.org import load_demo
from bot.store.db import engine_for, session_scope
from bot.store.migrate import upgrade
from tests.figures_history import History, seed_history
from tests.helpers import NOW

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "docs" / "samples"
NGHEDAN = Path(sys.executable).with_name("nghedan")
WEEK = "2026-W20"  # Monday 11/05 .. Sunday 17/05/2026: overdue tickets, ratings, a reopen
UNIT = "xa-an-binh"
REPORT_YEAR = ("2025-10-16", "2026-10-15")  # the dân vận reporting year
# The address the sample's link shows (PUBLIC_URL); a reserved .example name, not a real site.
PUBLIC_URL = "https://nghedan.an-binh.example"
KEPT = ("digest.txt", "chart.png", "report.md")


@contextmanager
def seeded(directory: Path) -> Iterator[History]:
    """A migrated SQLite database in `directory` with the demo commune and the history."""
    url = f"sqlite:///{directory / 'nghedan.db'}"
    upgrade(url)
    with session_scope(url) as session:
        load_demo(session, NOW)
    try:
        yield seed_history(url)
    finally:
        engine_for(url).dispose()


def command_env(db_url: str, data_dir: Path) -> dict[str, str]:
    """The environment of the sample commands: this database, nothing from a local .env."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("DATABASE_", "PUBLIC_", "SMTP_", "TELEGRAM_"))}
    env.update(DATABASE_URL=db_url, DATA_DIR=str(data_dir), PUBLIC_URL=PUBLIC_URL,
               LOG_LEVEL="WARNING")
    return env


def run(args: list[str], db_url: str, data_dir: Path) -> str:
    done = subprocess.run([str(NGHEDAN), *args], cwd=data_dir, env=command_env(db_url, data_dir),
                          capture_output=True, text=True, timeout=300, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"nghedan {' '.join(args)}: {done.returncode}\n{done.stderr}")
    return done.stdout


def make_samples(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        with seeded(work) as history:
            files = work / "files"
            run(["digest", "--week", WEEK, "--unit", UNIT, "--out", str(files)],
                history.url, work)
            run(["report", "--from", REPORT_YEAR[0], "--to", REPORT_YEAR[1], "--unit", UNIT,
                 "--format", "md", "--out", str(files / "report.md")], history.url, work)
        written = []
        for name in KEPT:
            target = out / name
            target.write_bytes((files / name).read_bytes())
            written.append(target)
    return written


if __name__ == "__main__":
    for path in make_samples(Path(sys.argv[1]) if len(sys.argv) > 1 else SAMPLES):
        print(path)
