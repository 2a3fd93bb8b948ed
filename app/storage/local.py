"""The default store: a local folder, objects at <root>/objects/ab/cd/<sha256>."""

from __future__ import annotations

import datetime as dt
import errno
import hashlib
import os
import stat
import tempfile
import time
import typing
from collections.abc import Iterator
from pathlib import Path

from app.storage.base import FixityError, ObjectMissing, StoreError, sha256_file, sha256_hex

_READ_ONLY = stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH
_HEX = frozenset("0123456789abcdef")


def _fsync_dir(path: Path) -> None:
    dir_fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


class LocalStore:
    """Write-once files: written to a temporary file, fsynced, made read-only, then linked
    under their hash. A link never replaces an existing file, so an object, once there, is
    never overwritten, not even by a concurrent writer of the same bytes."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.objects = self.root / "objects"
        self.tmp = self.root / "tmp"

    def __repr__(self) -> str:
        return f"LocalStore({str(self.root)!r})"

    def path_for(self, sha256: str) -> Path:
        if len(sha256) != 64 or not _HEX.issuperset(sha256):
            raise StoreError(f"'{sha256}' is not a SHA-256 key")
        return self.objects / sha256[:2] / sha256[2:4] / sha256

    def put(self, data: bytes, *, mime_type: str, retain_until: dt.date | None = None) -> str:
        return self._put(sha256_hex(data), lambda handle: handle.write(data))

    def put_file(self, path: Path, *, mime_type: str, retain_until: dt.date | None = None) -> str:
        key = sha256_file(path)

        def copy(handle: typing.BinaryIO) -> None:
            digest = hashlib.sha256()
            with path.open("rb") as source:
                for chunk in iter(lambda: source.read(1 << 20), b""):
                    digest.update(chunk)
                    handle.write(chunk)
            if digest.hexdigest() != key:
                raise StoreError(f"{path} changed while it was stored as {key}")

        return self._put(key, copy)

    def _put(self, key: str, write: typing.Callable[[typing.BinaryIO], object]) -> str:
        final = self.path_for(key)
        if final.exists():
            return key  # content-addressed: the same bytes are already there
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot write to the archive at {self.root}: {exc}") from exc
        # Temporary file in the same file system, fsync, link, fsync the folder: a crash
        # leaves either no object or the whole object, never a partial one under its key.
        tmp_path = self.temporary_path(f"{key[:12]}.")
        try:
            with tmp_path.open("wb") as handle:
                write(handle)
        except OSError as exc:
            tmp_path.unlink(missing_ok=True)
            raise self._write_error(key, exc) from exc
        except BaseException:
            tmp_path.unlink(missing_ok=True)
            raise
        self.link_temporary(tmp_path, key)
        return key

    def temporary_path(self, prefix: str) -> Path:
        """A new empty file in the store's own temporary folder (the same file system as its
        objects), for `link_temporary`."""
        try:
            self.tmp.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(prefix=prefix, dir=self.tmp)
        except OSError as exc:
            raise StoreError(f"cannot write to the archive at {self.root}: {exc}") from exc
        os.close(fd)
        return Path(name)

    def remove_stale_temporary(
        self, older_than: dt.timedelta, *, now: float | None = None
    ) -> list[str]:
        """Remove the files of the temporary folder left unchanged for `older_than`: what a
        process killed while writing left behind (an object not yet linked, a package's ZIP
        or combined PDF). A writer still at work keeps its file's modification time fresh, and
        nothing in this folder is an archived object (those are linked under `objects/`).
        Returns the names removed."""
        cutoff = (time.time() if now is None else now) - older_than.total_seconds()
        removed: list[str] = []
        try:
            entries = list(self.tmp.iterdir())
        except FileNotFoundError:
            return removed
        for path in sorted(entries):
            try:
                info = path.lstat()
                if stat.S_ISREG(info.st_mode) and info.st_mtime < cutoff:
                    path.unlink()
                    removed.append(path.name)
            except FileNotFoundError:
                continue  # its writer finished with it meanwhile
        return removed

    def _write_error(self, key: str, exc: OSError) -> StoreError:
        if exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
            return StoreError(f"the archive at {self.root} is full: {exc}")
        return StoreError(f"writing object {key} failed: {exc}")

    def link_temporary(self, tmp_path: Path, key: str) -> None:
        """Store a file written in `temporary_path` whose SHA-256 is `key` (the caller hashed
        it as it wrote it): fsync, read-only, link under its hash, fsync the folder. The
        temporary file is gone afterwards."""
        final = self.path_for(key)
        try:
            if final.exists():
                return  # content-addressed: the same bytes are already there
            final.parent.mkdir(parents=True, exist_ok=True)
            with tmp_path.open("rb+") as handle:
                os.fsync(handle.fileno())
            os.chmod(tmp_path, _READ_ONLY)
            try:
                os.link(tmp_path, final)
            except FileExistsError:
                pass  # a concurrent writer stored the same bytes first
            except OSError as exc:
                if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
                    raise
                # File systems without hard links: an atomic rename (the bytes are the same
                # if another writer got there first, so replacing its file loses nothing).
                os.replace(tmp_path, final)
        except OSError as exc:
            raise self._write_error(key, exc) from exc
        finally:
            tmp_path.unlink(missing_ok=True)
        _fsync_dir(final.parent)

    def get(self, sha256: str) -> bytes:
        path = self.path_for(sha256)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise ObjectMissing(f"object {sha256} is missing from {self.objects}") from None
        except OSError as exc:
            raise StoreError(f"object {sha256} cannot be read: {exc}") from exc
        actual = sha256_hex(data)
        if actual != sha256:
            raise FixityError(sha256, actual)
        return data

    def exists(self, sha256: str) -> bool:
        return self.path_for(sha256).exists()

    def verify(self, sha256: str) -> str:
        path = self.path_for(sha256)
        digest = hashlib.sha256()
        try:
            with path.open("rb") as handle:
                for chunk in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(chunk)
        except FileNotFoundError:
            raise ObjectMissing(f"object {sha256} is missing from {self.objects}") from None
        except OSError as exc:
            raise StoreError(f"object {sha256} cannot be read: {exc}") from exc
        return digest.hexdigest()

    def delete(self, sha256: str) -> None:
        path = self.path_for(sha256)
        if path.exists():
            os.chmod(path, _READ_ONLY | stat.S_IWUSR)
            path.unlink()
            _fsync_dir(path.parent)

    def keys(self) -> Iterator[str]:
        if not self.objects.exists():
            return
        for path in sorted(self.objects.glob("??/??/*")):
            if len(path.name) == 64 and _HEX.issuperset(path.name):
                yield path.name

    def set_retention(self, sha256: str, *, retain_until: dt.date | None, legal_hold: bool) -> None:
        # A local folder cannot refuse deletion by itself; PostVault's disposition workflow
        # (holds, due dates, approval) is what protects these objects.
        if not self.path_for(sha256).exists():
            raise ObjectMissing(f"object {sha256} is missing from {self.objects}")
