"""Local attachment storage: content-addressed, atomic, never outside its folder."""

from __future__ import annotations

import pytest

from bot.store.files import LocalFileStorage


def test_put_get_delete_and_deduplicate(tmp_path):
    storage = LocalFileStorage(tmp_path)
    first = storage.put(b"\x89PNG photo", ".PNG")
    again = storage.put(b"\x89PNG photo", ".png")
    assert first == again and first.key.endswith(".png") and first.size_bytes == 10
    assert storage.get(first.key) == b"\x89PNG photo"
    assert len([p for p in tmp_path.rglob("*") if p.is_file()]) == 1
    storage.delete(first.key)
    with pytest.raises(FileNotFoundError):
        storage.get(first.key)


def test_suspicious_suffix_and_key_are_refused(tmp_path):
    storage = LocalFileStorage(tmp_path / "files")
    assert "/" not in storage.put(b"x", "/../../etc/passwd").key.split("/", 1)[1]
    with pytest.raises(ValueError):
        storage.get("../outside")
