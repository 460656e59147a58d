"""Talks to the Rasa server over HTTP (REST channel); nothing else in the bot knows Rasa."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from prometheus_client import Histogram

# Per process: each bot process times its own turns (bot/web/ops.py serves it on /metrics).
TURN_SECONDS = Histogram("nghedan_nlu_turn_seconds", "Rasa's answer to one turn (NLU, dialogue "
                         "and actions), this process only", ["outcome"], registry=None,
                         buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30))


class DialogueUnavailable(Exception):
    """Rasa could not be reached, timed out or answered 5xx; the message stays queued."""

    def __init__(self, reason: str, server_error: bool = False) -> None:
        super().__init__(reason)
        self.server_error = server_error  # Rasa answered 5xx: down, or this message broke it


class DialogueRejected(Exception):
    """Rasa answered, but not with replies (4xx, or a body that is not a list of messages):
    about this message, not an outage."""


@dataclass
class Reply:
    text: str | None
    buttons: list[dict[str, str]] = field(default_factory=list)
    custom: dict[str, Any] = field(default_factory=dict)  # instructions for the bot itself


class RasaClient:
    def __init__(self, base_url: str, token: str, timeout: float = 30.0) -> None:
        self._base_url = base_url.rstrip("/")
        self._token = token
        self._http = httpx.AsyncClient(timeout=timeout)

    async def respond(self, sender_key: str, text: str, metadata: dict[str, Any]) -> list[Reply]:
        outcome, started = "unavailable", time.perf_counter()
        try:
            response = await self._http.post(
                f"{self._base_url}/webhooks/rest/webhook",
                json={"sender": sender_key, "message": text, "metadata": metadata},
            )
            replies = _replies(response)
            outcome = "answered"
        except httpx.TransportError as error:  # refused, reset, timed out
            raise DialogueUnavailable(type(error).__name__) from error
        except httpx.HTTPError as error:
            raise DialogueRejected(type(error).__name__) from error
        finally:
            TURN_SECONDS.labels(outcome).observe(time.perf_counter() - started)
        return replies

    async def is_ready(self) -> bool:
        """True once the server answers and has a model loaded."""
        try:
            response = await self._http.get(
                f"{self._base_url}/status", params={"token": self._token}
            )
            status = response.json() if response.status_code == 200 else {}
        except (httpx.HTTPError, ValueError):
            return False
        return isinstance(status, dict) and bool(status.get("model_file"))

    async def aclose(self) -> None:
        await self._http.aclose()


def _replies(response: httpx.Response) -> list[Reply]:
    if response.status_code >= 500:
        raise DialogueUnavailable(f"HTTP {response.status_code}", server_error=True)
    if response.status_code >= 400:
        raise DialogueRejected(f"HTTP {response.status_code}")
    try:
        return [_reply(item) for item in response.json()]
    except (ValueError, TypeError, AttributeError) as error:
        raise DialogueRejected(f"unreadable answer ({type(error).__name__})") from error


def _reply(item: dict[str, Any]) -> Reply:
    buttons = [
        {"title": str(b.get("title", "")), "payload": str(b.get("payload", ""))}
        for b in item.get("buttons") or []
    ]
    custom = item.get("custom") if isinstance(item.get("custom"), dict) else {}
    return Reply(text=item.get("text"), buttons=buttons, custom=custom)
