"""A fake Web Push service on 127.0.0.1 (real HTTP): records every push request (path, headers,
encrypted body) and answers 201, or whatever status a test queued for an endpoint. A
LocalServer (its own event loop in a thread), so tests can drive the (synchronous) delivery job
directly."""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass

from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.local_server import LocalServer


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class BrowserKeys:
    """What a browser keeps for one subscription: its P-256 key pair and auth secret."""

    private_key: ec.EllipticCurvePrivateKey
    auth_secret: bytes

    @classmethod
    def generate(cls) -> BrowserKeys:
        return cls(ec.generate_private_key(ec.SECP256R1()), secrets.token_bytes(16))

    @property
    def p256dh(self) -> str:
        return b64url(self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint))

    @property
    def auth(self) -> str:
        return b64url(self.auth_secret)


class FakePushService(LocalServer):
    def __init__(self) -> None:
        super().__init__()
        self.received: list[Received] = []
        self.answers: dict[str, list[tuple[int, dict[str, str]]]] = {}

    def endpoint(self, name: str | None = None) -> str:
        return f"http://127.0.0.1:{self.port}/push/{name or secrets.token_urlsafe(12)}"

    def answer(self, endpoint: str, status: int, headers: dict[str, str] | None = None) -> None:
        """The next push to `endpoint` gets `status` (queued; 201 when none is left)."""
        path = endpoint.split(str(self.port), 1)[1]
        self.answers.setdefault(path, []).append((status, headers or {}))

    def to(self, endpoint: str) -> list[Received]:
        path = endpoint.split(str(self.port), 1)[1]
        return [item for item in self.received if item.path == path]

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/push/{name}", self._push)

    async def _push(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.received.append(Received(request.path, dict(request.headers), body))
        queued = self.answers.get(request.path)
        if queued:
            status, headers = queued.pop(0)
            return web.Response(status=status, headers=headers, text="fake answer")
        return web.Response(status=201, headers={"Location": f"{request.path}/msg"})
