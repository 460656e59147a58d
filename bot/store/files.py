"""Attachment storage behind one small interface; a local folder by default. Keys are
content-addressed, so storing the same file twice (a retried upload) keeps one copy."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

SAFE_SUFFIX = re.compile(r"^\.[a-z0-9]{1,8}$")


@dataclass(frozen=True)
class StoredFile:
    key: str
    sha256: str
    size_bytes: int


class FileStorage(Protocol):
    def put(self, data: bytes, suffix: str = "") -> StoredFile: ...

    def get(self, key: str) -> bytes: ...

    def delete(self, key: str) -> None: ...


class LocalFileStorage:
    def __init__(self, root: Path) -> None:
        self.root = root

    def put(self, data: bytes, suffix: str = "") -> StoredFile:
        digest = hashlib.sha256(data).hexdigest()
        suffix = suffix.lower() if SAFE_SUFFIX.match(suffix.lower()) else ""
        key = f"{digest[:2]}/{digest}{suffix}"
        path = self._path(key)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            # write then rename: a reader never sees half a file
            with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as handle:
                handle.write(data)
            os.replace(handle.name, path)
        return StoredFile(key, digest, len(data))

    def get(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def local_path(self, key: str) -> Path:
        """Where the file lies, for streaming it (HTTP ranges: a video can be seeked)."""
        path = self._path(key)
        if not path.is_file():
            raise FileNotFoundError(key)
        return path

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise ValueError("storage key outside the storage folder")
        return path
