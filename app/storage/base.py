"""The archive store contract: content-addressed, write-once objects with verified reads."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol


class StoreError(Exception):
    """The store could not do what was asked; the message says what and where."""


class ObjectMissing(StoreError):
    pass


class FixityError(StoreError):
    """The bytes read back do not hash to the key they are stored under."""

    def __init__(self, key: str, actual: str) -> None:
        super().__init__(
            f"object {key} reads back as {actual}: its bytes changed since it was stored"
        )
        self.key = key
        self.actual = actual


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class ArchiveStore(Protocol):
    """Objects are named by the SHA-256 of their bytes.

    `put` is atomic and idempotent (existing content is a no-op); objects are read-only once
    written; `get` verifies the hash; `delete` is called only by an approved disposition.
    """

    def put(self, data: bytes, *, mime_type: str, retain_until: dt.date | None = None) -> str: ...

    def put_file(self, path: Path, *, mime_type: str, retain_until: dt.date | None = None) -> str:
        """`put` for a file too large to hold in memory (a podcast's audio): read in chunks."""
        ...

    def get(self, sha256: str) -> bytes: ...

    def exists(self, sha256: str) -> bool: ...

    def verify(self, sha256: str) -> str:
        """Re-hash the stored bytes and return the actual SHA-256 (raises ObjectMissing)."""
        ...

    def delete(self, sha256: str) -> None: ...

    def keys(self) -> Iterator[str]: ...

    def set_retention(self, sha256: str, *, retain_until: dt.date | None, legal_hold: bool) -> None:
        """Tell the store how long it must refuse deletion (Object Lock where it has it)."""
        ...
