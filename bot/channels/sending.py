"""Pieces every chat channel shares, with no platform library: one lock (or lane) per chat
that is forgotten when idle, and the cutting of long texts into pieces a platform accepts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

KEEP_CHATS = 10_000  # idle per-chat locks and limiters beyond this are forgotten
T = TypeVar("T")


class PerChat(Generic[T]):
    """One T per chat, made on first use; idle ones are dropped when there are too many."""

    def __init__(self, make: Callable[[], T], idle: Callable[[T], bool]) -> None:
        self._make, self._idle = make, idle
        self._items: dict[str, T] = {}

    def __getitem__(self, chat: str) -> T:
        item = self._items.get(chat)
        if item is None:
            if len(self._items) >= KEEP_CHATS:
                self._items = {k: v for k, v in self._items.items() if not self._idle(v)}
            item = self._items[chat] = self._make()
        return item


def split_text(text: str, limit: int) -> list[str]:
    """Pieces of at most `limit` UTF-16 units (how Telegram counts; never more characters
    either), cut after a line break or a space in the second half of the piece when there is
    one; nothing is dropped but whitespace-only pieces."""
    pieces = []
    while (end := _fitting(text, limit)) < len(text):
        cut = next((i + 1 for i in (text.rfind(sep, 0, end) for sep in "\n ")
                    if i >= end // 2), end)
        pieces.append(text[:cut])
        text = text[cut:]
    pieces.append(text)
    return [piece for piece in pieces if piece.strip()] or [pieces[0]]


def _fitting(text: str, limit: int) -> int:
    """How many characters from the start fit in `limit` UTF-16 units."""
    units = 0
    for index, char in enumerate(text):
        units += 2 if ord(char) > 0xFFFF else 1
        if units > limit:
            return index
    return len(text)
