"""Structured logs, one line per event. Personal data never reaches a log line: keys that may
carry it are dropped, and phone-like numbers in what is left are masked."""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

import structlog

SENSITIVE_KEYS = frozenset({
    "text", "message", "phone", "name", "full_name", "display_name", "address", "body",
    "comment", "answer", "location", "location_text", "content", "username",
})
PHONE = re.compile(r"(?<!\d)(?:\+?84|0)(?:[\s.\-]?\d){8,10}(?!\d)")


def redact(_logger: Any, _method: str, event: dict[str, Any]) -> dict[str, Any]:
    for key in list(event):
        if key in SENSITIVE_KEYS:
            event[key] = "[redacted]"
        elif isinstance(event[key], str):
            event[key] = PHONE.sub("[phone]", event[key])
    return event


class _StderrLogger:
    """Writes each line to the *current* sys.stderr (it may be replaced after configuration)."""

    def msg(self, message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    log = debug = info = warning = warn = error = critical = exception = fatal = msg


def configure_logging(level: str = "INFO", fmt: str = "json") -> None:
    renderer = (structlog.processors.JSONRenderer(ensure_ascii=False) if fmt == "json"
                else structlog.dev.ConsoleRenderer(colors=False))
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redact,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=lambda *_args: _StderrLogger(),
        cache_logger_on_first_use=False,
    )
    # Libraries log through the standard library: keep them quiet and on one line too.
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format='{"level":"%(levelname)s","logger":"%(name)s","event":"%(message)s"}')
