"""Choosing the configured store, and recording what it holds."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

from sqlalchemy.orm import Session

from app.config import Settings
from app.storage.base import ArchiveStore, FixityError
from app.storage.local import LocalStore
from app.storage.models import StoredObject


def store_from_settings(settings: Settings) -> ArchiveStore:
    if settings.storage_backend == "s3":
        from app.storage.s3 import S3Store

        return S3Store.from_settings(settings)
    return LocalStore(settings.archive_dir)


log = logging.getLogger("postvault.storage")

# A temporary file unchanged this long has no writer left: packages and objects being written
# touch theirs continuously, and the longest package takes minutes.
STALE_TEMPORARY_AFTER = dt.timedelta(hours=24)


def remove_stale_temporary_files(settings: Settings) -> list[str]:
    """At startup: remove what processes killed while writing left in the local store's
    temporary folder (`LocalStore.remove_stale_temporary`). An S3 store writes its temporary
    files in the system's temporary folder, which the system cleans."""
    store = store_from_settings(settings)
    if not isinstance(store, LocalStore):
        return []
    try:
        removed = store.remove_stale_temporary(STALE_TEMPORARY_AFTER)
    except OSError as exc:
        log.warning("the archive's temporary folder %s could not be cleaned: %s", store.tmp, exc)
        return []
    if removed:
        log.info(
            "removed %d temporary file(s) left by stopped processes in %s: %s",
            len(removed),
            store.tmp,
            ", ".join(removed),
        )
    return removed


def put_object(
    session: Session,
    store: ArchiveStore,
    data: bytes,
    *,
    mime_type: str,
    kind: str,
    retain_until: dt.date | None = None,
) -> StoredObject:
    """Store bytes and record the object (once: the same bytes are one object).

    `retain_until` asks a store with Object Lock to refuse deletion before that date.
    """
    key = store.put(data, mime_type=mime_type, retain_until=retain_until)
    return _record(session, key, len(data), mime_type=mime_type, kind=kind)


def put_object_file(
    session: Session, store: ArchiveStore, path: Path, *, mime_type: str, kind: str
) -> StoredObject:
    """`put_object` for a file on disk (streamed media), read in chunks, never whole."""
    key = store.put_file(path, mime_type=mime_type)
    return _record(session, key, path.stat().st_size, mime_type=mime_type, kind=kind)


def _record(session: Session, key: str, size: int, *, mime_type: str, kind: str) -> StoredObject:
    row = session.get(StoredObject, key)
    if row is None:
        row = StoredObject(sha256=key, size=size, mime_type=mime_type, kind=kind)
        session.add(row)
        session.flush()
    elif row.destroyed_at is not None:
        # Destroyed by disposition and captured again later: it is archived anew.
        row.destroyed_at = None
    return row


def put_finished_file(
    session: Session,
    store: ArchiveStore,
    path: Path,
    *,
    sha256: str,
    mime_type: str,
    kind: str,
) -> StoredObject:
    """Store a finished file (its SHA-256 taken by the caller) and record the object. A file
    made in `LocalStore.temporary_path` is linked into place, never read into memory; other
    stores stream it with `put_file`. The file is gone afterwards."""
    size = path.stat().st_size
    if isinstance(store, LocalStore) and path.parent == store.tmp:
        store.link_temporary(path, sha256)
    else:
        try:
            key = store.put_file(path, mime_type=mime_type)
        finally:
            path.unlink(missing_ok=True)
        if key != sha256:
            raise FixityError(sha256, key)
    return _record(session, sha256, size, mime_type=mime_type, kind=kind)
