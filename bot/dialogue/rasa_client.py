"""Talks to the Rasa server over HTTP (REST channel); nothing else in the bot knows Rasa."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx


class DialogueUnavailable(Exception):
    """Rasa could not be reached or answered with an error; the message stays queued."""


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
        try:
            response = await self._http.post(
                f"{self._base_url}/webhooks/rest/webhook",
                json={"sender": sender_key, "message": text, "metadata": metadata},
            )
            response.raise_for_status()
        except httpx.HTTPError as error:
            raise DialogueUnavailable(type(error).__name__) from error
        return [_reply(item) for item in response.json()]

    async def is_ready(self) -> bool:
        """True once the server answers and has a model loaded."""
        try:
            response = await self._http.get(
                f"{self._base_url}/status", params={"token": self._token}
            )
        except httpx.HTTPError:
            return False
        return response.status_code == 200 and bool(response.json().get("model_file"))

    async def aclose(self) -> None:
        await self._http.aclose()


def _reply(item: dict[str, Any]) -> Reply:
    buttons = [
        {"title": str(b.get("title", "")), "payload": str(b.get("payload", ""))}
        for b in item.get("buttons") or []
    ]
    custom = item.get("custom") if isinstance(item.get("custom"), dict) else {}
    return Reply(text=item.get("text"), buttons=buttons, custom=custom)
