"""Starts the processes of a setup, restarts one that dies, stops all on Ctrl-C / SIGTERM."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import structlog

log = structlog.get_logger(__name__)

STOP_GRACE_SECONDS = 15.0
MAX_BACKOFF_SECONDS = 30.0
HEALTHY_AFTER_SECONDS = 60.0


@dataclass
class ProcessSpec:
    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    cwd: Path | None = None


@dataclass
class _Running:
    spec: ProcessSpec
    process: subprocess.Popen | None = None
    started_at: float = 0.0
    restarts: int = 0
    next_start_at: float = 0.0


class Supervisor:
    def __init__(self, specs: list[ProcessSpec], log_dir: Path, pid_file: Path | None = None,
                 on_event: Callable[[str], None] = print) -> None:
        self._procs = [_Running(spec) for spec in specs]
        self._log_dir = log_dir
        self._pid_file = pid_file
        self._on_event = on_event
        self._stopping = False

    def pids(self) -> dict[str, int]:
        return {p.spec.name: p.process.pid for p in self._procs if p.process}

    def _write_pid_file(self) -> None:
        # Written beside and renamed over, so a reader never sees a half-written file.
        assert self._pid_file is not None
        partial = self._pid_file.with_suffix(".partial")
        partial.write_text(json.dumps(self.pids()))
        os.replace(partial, self._pid_file)

    def request_stop(self, *_args) -> None:
        self._stopping = True

    def run(self, poll_seconds: float = 0.5) -> None:
        signal.signal(signal.SIGTERM, self.request_stop)
        signal.signal(signal.SIGINT, self.request_stop)
        for running in self._procs:
            self._start(running)
        try:
            while not self._stopping:
                self._check(time.monotonic())
                time.sleep(poll_seconds)
        finally:
            self.stop_all()

    def _start(self, running: _Running) -> None:
        self._log_dir.mkdir(parents=True, exist_ok=True)
        logfile = (self._log_dir / f"{running.spec.name}.log").open("ab")
        running.process = subprocess.Popen(
            running.spec.argv, env=running.spec.env, cwd=running.spec.cwd,
            stdout=logfile, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,  # our own signals decide the shutdown order
        )
        logfile.close()
        running.started_at = time.monotonic()
        if self._pid_file is not None:  # lets operators (and tests) see who runs what
            self._write_pid_file()
        log.info("process_started", process=running.spec.name, pid=running.process.pid)

    def _check(self, now: float) -> None:
        for running in self._procs:
            process = running.process
            if process is not None and process.poll() is None:
                if now - running.started_at > HEALTHY_AFTER_SECONDS:
                    running.restarts = 0
                continue
            if process is not None:  # it died: schedule a restart with back-off
                code = process.returncode
                running.process = None
                delay = min(2.0 ** running.restarts, MAX_BACKOFF_SECONDS)
                running.restarts += 1
                running.next_start_at = now + delay
                self._on_event(f"Tiến trình {running.spec.name} đã dừng (mã {code}); "
                               f"khởi động lại sau {delay:.0f} giây.")
                log.warning("process_died", process=running.spec.name, code=code, delay=delay)
            elif now >= running.next_start_at:
                self._start(running)

    def stop_all(self) -> None:
        alive = [r.process for r in self._procs if r.process and r.process.poll() is None]
        for process in alive:
            _signal_group(process, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for process in alive:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(process, signal.SIGKILL)
                process.wait()
        log.info("all_stopped", count=len(alive))


def _signal_group(process: subprocess.Popen, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)
