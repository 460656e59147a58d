"""NLU benchmark: train a Rasa NLU pipeline on nlu_data/, then measure it and score it on the
development set (../shared/nlu_dev, evaluation only, never trained on).

Prints training time, model size, load time, resident memory, parse latency p50/p95,
classify throughput, and per dev file (as written / diacritics stripped) intent accuracy,
category accuracy and macro-F1, kind accuracy, location F1, share routed automatically and its
precision, as Markdown rows for docs/nlu.md and docs/benchmarks.md.

Usage: .venv/bin/python bench/nlu.py [--config config.yml] [--full] [--keep DIR]
  --full  times a full `rasa train` (NLU and dialogue), as `nghedan train` runs it."""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bot.dialogue.nlu_eval import (
    evaluate,
    quiet_rasa,
    read_jsonl,
    stripped_row,
    to_classification,
)
from bot.dialogue.rasa_runtime import rasa_env
from bot.settings import PROJECT_ROOT

DEV = PROJECT_ROOT.parent / "shared" / "nlu_dev"


def train(config: Path, out: Path, full: bool) -> float:
    command = [sys.executable, "-m", "rasa", "train"]
    command += ([] if full else ["nlu"]) + ["--quiet", "--config", str(config), "--domain",
                                            "domain.yml", "--out", str(out),
                                            "--fixed-model-name", "bench"]
    command += ["--data", "nlu_data"] if full else ["--nlu", "nlu_data/nlu"]
    # A fresh Rasa cache, so nothing trained earlier is reused and the time is the whole time.
    env = {**rasa_env(), "RASA_CACHE_DIRECTORY": tempfile.mkdtemp(prefix="rasa-cache-")}
    start = time.perf_counter()
    subprocess.run(command, cwd=PROJECT_ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", type=Path, default=PROJECT_ROOT / "config.yml")
    parser.add_argument("--dev", type=Path, default=DEV)
    parser.add_argument("--full", action="store_true")
    parser.add_argument("--keep", type=Path, help="keep the trained model in this folder")
    args = parser.parse_args()
    os.environ.update(rasa_env())
    out = args.keep or Path(tempfile.mkdtemp(prefix="nlu-bench-"))
    train_s = train(args.config.resolve(), out, args.full)
    model = out / "bench.tar.gz"

    from rasa.core.agent import Agent

    quiet_rasa()
    start = time.perf_counter()
    agent = Agent.load(str(model))
    load_s = time.perf_counter() - start
    files = {path.stem: read_jsonl(path) for path in sorted(args.dev.glob("*.jsonl"))}
    texts = [row["text"] for rows in files.values() for row in rows]

    async def parse_all(batch: list[str]) -> tuple[list[dict], list[float]]:
        parses, took = [], []
        for text in batch:
            begin = time.perf_counter()
            parses.append(await agent.parse_message(text))
            took.append(time.perf_counter() - begin)
        return parses, took

    asyncio.run(parse_all(texts[:10]))  # warm-up
    _, took = asyncio.run(parse_all(texts * 3))
    latencies = sorted(took)
    p50 = statistics.median(latencies) * 1000
    p95 = latencies[int(0.95 * (len(latencies) - 1))] * 1000
    throughput = len(latencies) / sum(latencies)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    print(f"config: {args.config.name}; {'full' if args.full else 'NLU'} training "
          f"{train_s:.0f} s; model {model.stat().st_size / 1e6:.1f} MB; load {load_s:.1f} s; "
          f"peak RSS {rss_mb:.0f} MB; parse p50 {p50:.1f} ms, p95 {p95:.1f} ms; "
          f"classify {throughput:.0f} msg/s")
    print("| file | intent acc. | category acc. | category macro-F1 | kind acc. | location F1 "
          "| routed automatically | its precision |")
    print("|---|---|---|---|---|---|---|---|")
    for name, rows in files.items():
        for label, subset in ((name, rows), (f"{name}, no diacritics",
                                             [stripped_row(r) for r in rows])):
            parses, _ = asyncio.run(parse_all([r["text"] for r in subset]))
            result = evaluate(subset, [to_classification(p) for p in parses])
            location = result["location_f1"]
            print(f"| {label} | {result['intent'].accuracy:.2f} | "
                  f"{result['category'].accuracy:.2f} | {result['category'].macro_f1:.2f} | "
                  f"{result['kind_accuracy']:.2f} | "
                  f"{'—' if location is None else f'{location:.2f}'} | "
                  f"{result['auto_routed_share']:.2f} | {result['auto_routed_precision']:.2f} |")


if __name__ == "__main__":
    main()
