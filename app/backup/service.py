"""Backup and restore of a whole deployment: the database and every stored object.

A backup is a folder:

    manifest.json        what the backup holds; written last, so a folder without it is
                         an unfinished backup and `restore` refuses it
    database.sqlite      SQLite: a copy made with SQLite's online backup API
    database.pgdump      PostgreSQL: `pg_dump --format=custom` taken in an exported snapshot
    objects/ab/cd/<sha>  every object the database copy names and has not destroyed
    keys/                the key files the deployment generated for itself (cookie signing,
                         secret encryption): without them the restored copy could not read
                         its own encrypted secrets. A backup is therefore as secret as the
                         deployment.

Consistency: the database copy is one point in time (SQLite's backup API copies a
transaction-consistent image; PostgreSQL's dump reads an exported REPEATABLE READ snapshot),
and the list of objects is read from that same point in time. Archive objects are write-once
and only an approved disposition deletes them, so every object that point in time names is
still in the store while the backup copies it (a disposition that ran in between is reported
as an object missing from the store, and the backup fails rather than being incomplete).
Objects stored after that point are not in the backup, as their rows are not either.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

from app import __version__
from app.config import Settings
from app.storage.base import ArchiveStore, StoreError
from app.storage.local import LocalStore

BACKUP_FORMAT = "postvault-backup/1"
MANIFEST = "manifest.json"
SQLITE_FILE = "database.sqlite"
PGDUMP_FILE = "database.pgdump"
_CHUNK = 1024 * 1024


class BackupError(Exception):
    """The backup or restore cannot go on; the message says what and where."""


@dataclass(frozen=True)
class ObjectEntry:
    sha256: str
    size: int
    mime_type: str
    kind: str


@dataclass
class DatabaseState:
    """What was read from the database's point in time."""

    revision: str | None
    objects: list[ObjectEntry]
    audit_events: int
    audit_head: str | None


@dataclass
class BackupReport:
    dest: Path
    database_file: str
    objects: int
    object_bytes: int
    keys: list[str] = field(default_factory=list)


@dataclass
class RestoreReport:
    database_file: str
    objects: int
    object_bytes: int
    keys: list[str] = field(default_factory=list)


Progress = Callable[[int], object]

_STATE_QUERIES = {
    "revision": "SELECT version_num FROM alembic_version",
    "objects": "SELECT sha256, size, mime_type, kind FROM stored_objects "
    "WHERE destroyed_at IS NULL ORDER BY sha256",
    "audit_events": "SELECT count(*) FROM audit_events",
    "audit_head": "SELECT hash FROM audit_events ORDER BY id DESC LIMIT 1",
}


def _state_from_rows(fetch: Callable[[str], list[tuple[Any, ...]]]) -> DatabaseState:
    revision_rows = fetch(_STATE_QUERIES["revision"])
    head_rows = fetch(_STATE_QUERIES["audit_head"])
    return DatabaseState(
        revision=str(revision_rows[0][0]) if revision_rows else None,
        objects=[
            ObjectEntry(str(sha), int(size), str(mime), str(kind))
            for sha, size, mime, kind in fetch(_STATE_QUERIES["objects"])
        ],
        audit_events=int(fetch(_STATE_QUERIES["audit_events"])[0][0]),
        audit_head=str(head_rows[0][0]) if head_rows else None,
    )


def _sqlite_path(database_url: str) -> Path:
    url = make_url(database_url)
    if not url.database or url.database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up or restored")
    return Path(url.database)


def _libpq_url(database_url: str) -> str:
    """The SQLAlchemy URL as libpq understands it (no "+psycopg" driver suffix)."""
    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _write_atomically(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _run(command: list[str], what: str) -> None:
    try:
        result = subprocess.run(command, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise BackupError(
            f"{command[0]} is not installed; {what} of a PostgreSQL database needs the "
            "PostgreSQL client programs (Debian: postgresql-client)"
        ) from None
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()
        raise BackupError(f"{what} failed: {detail[-1] if detail else 'no message'}")


# --- the database copy -------------------------------------------------------------------


def _backup_sqlite(database_url: str, target: Path) -> DatabaseState:
    source_path = _sqlite_path(database_url)
    if not source_path.exists():
        raise BackupError(f"the SQLite database {source_path} does not exist")
    source = sqlite3.connect(f"file:{source_path}?mode=ro", uri=True, timeout=30)
    copy = sqlite3.connect(target)
    try:
        # The online backup API copies a consistent image while writers go on.
        source.backup(copy)
        copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        return _state_from_rows(lambda sql: copy.execute(sql).fetchall())
    finally:
        copy.close()
        source.close()


def _backup_postgres(database_url: str, target: Path) -> DatabaseState:
    conninfo = _libpq_url(database_url)
    with psycopg.connect(conninfo, autocommit=False) as conn:
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        row = conn.execute("SELECT pg_export_snapshot()").fetchone()
        assert row is not None
        snapshot = str(row[0])
        # pg_dump reads the very snapshot this transaction holds open, so the dump and the
        # object list below are the same point in time.
        _run(
            [
                "pg_dump",
                "--format=custom",
                "--no-owner",
                "--no-privileges",
                f"--snapshot={snapshot}",
                f"--file={target}",
                f"--dbname={conninfo}",
            ],
            "pg_dump",
        )
        state = _state_from_rows(lambda sql: list(conn.execute(sql).fetchall()))
        conn.rollback()
    return state


# --- keys --------------------------------------------------------------------------------


# The files a deployment generates for itself beside its archive folder: the cookie-signing
# key (app/web/security.py) and the key that encrypts stored secrets (app/crypto.py).
KEY_FILE_NAMES = ("secret_key", "secrets_key")


def key_files(settings: Settings) -> list[Path]:
    folder = settings.archive_dir.parent
    return [folder / name for name in KEY_FILE_NAMES if (folder / name).is_file()]


# --- backup ------------------------------------------------------------------------------


def _empty_folder(dest: Path) -> None:
    if dest.exists():
        if not dest.is_dir():
            raise BackupError(f"{dest} exists and is not a folder")
        if any(dest.iterdir()):
            raise BackupError(f"{dest} is not empty; give a new or empty folder for the backup")
    else:
        dest.mkdir(parents=True)


def backup(
    settings: Settings,
    dest: Path,
    *,
    store: ArchiveStore,
    progress: Progress | None = None,
) -> BackupReport:
    """Copy the database and every object it names into `dest` (a new or empty folder)."""
    _empty_folder(dest)
    if settings.is_sqlite:
        database_file = SQLITE_FILE
        state = _backup_sqlite(settings.database_url, dest / SQLITE_FILE)
    else:
        database_file = PGDUMP_FILE
        state = _backup_postgres(settings.database_url, dest / PGDUMP_FILE)

    copies = LocalStore(dest)
    total = 0
    for entry in state.objects:
        try:
            data = store.get(entry.sha256)  # the store checks the hash on read
        except StoreError as exc:
            raise BackupError(
                f"object {entry.sha256} ({entry.kind}) could not be read from the archive: "
                f"{exc}; the backup is incomplete and was not finished"
            ) from exc
        if copies.put(data, mime_type=entry.mime_type) != entry.sha256:
            raise BackupError(f"object {entry.sha256} changed while it was copied")
        total += len(data)
        if progress is not None:
            progress(1)

    keys: list[str] = []
    for path in key_files(settings):
        (dest / "keys").mkdir(exist_ok=True)
        shutil.copy2(path, dest / "keys" / path.name)
        os.chmod(dest / "keys" / path.name, 0o600)
        keys.append(path.name)

    manifest = {
        "format": BACKUP_FORMAT,
        "created_at": dt.datetime.now(dt.UTC).isoformat(),
        "postvault_version": __version__,
        "database": {
            "backend": "sqlite" if settings.is_sqlite else "postgresql",
            "file": database_file,
            "sha256": _sha256_file(dest / database_file),
            "size": (dest / database_file).stat().st_size,
            "alembic_revision": state.revision,
        },
        "audit": {"events": state.audit_events, "head_hash": state.audit_head},
        "objects": [
            {"sha256": e.sha256, "size": e.size, "mime_type": e.mime_type, "kind": e.kind}
            for e in state.objects
        ],
        "object_count": len(state.objects),
        "object_bytes": total,
        "keys": keys,
    }
    _write_atomically(dest / MANIFEST, json.dumps(manifest, indent=1).encode() + b"\n")
    return BackupReport(dest, database_file, len(state.objects), total, keys)


# --- restore -----------------------------------------------------------------------------


def read_manifest(src: Path) -> dict[str, Any]:
    path = src / MANIFEST
    if not path.is_file():
        raise BackupError(
            f"{src} has no {MANIFEST}: it is not a PostVault backup, or the backup did not finish"
        )
    try:
        manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise BackupError(f"{path} is not valid JSON: {exc}") from exc
    if manifest.get("format") != BACKUP_FORMAT:
        raise BackupError(
            f"{path} is format {manifest.get('format')!r}; this PostVault reads {BACKUP_FORMAT}"
        )
    return manifest


def _target_is_empty(settings: Settings, store: ArchiveStore) -> None:
    if settings.is_sqlite:
        path = _sqlite_path(settings.database_url)
        if path.exists() and path.stat().st_size > 0:
            with sqlite3.connect(path) as conn:
                tables = conn.execute(
                    "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
                ).fetchone()
            if tables and tables[0]:
                raise BackupError(
                    f"the database {path} is not empty; restore only into a new deployment"
                )
    else:
        with psycopg.connect(_libpq_url(settings.database_url)) as conn:
            row = conn.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
            ).fetchone()
        if row and row[0]:
            raise BackupError(
                "the PostgreSQL database is not empty; restore only into a new (empty) database"
            )
    if next(iter(store.keys()), None) is not None:
        raise BackupError("the archive store already holds objects; restore only into a new one")


def _iter_checked_objects(src: Path, entries: Iterable[dict[str, Any]]) -> Iterator[bytes]:
    copies = LocalStore(src)
    for entry in entries:
        sha = str(entry["sha256"])
        try:
            data = copies.path_for(sha).read_bytes()
        except (OSError, StoreError) as exc:
            raise BackupError(f"object {sha} is missing from the backup: {exc}") from exc
        if hashlib.sha256(data).hexdigest() != sha:
            raise BackupError(f"object {sha} in the backup does not match its hash: it changed")
        yield data


def restore(
    settings: Settings,
    src: Path,
    *,
    store: ArchiveStore,
    progress: Progress | None = None,
) -> RestoreReport:
    """Restore a backup into an empty deployment (empty database, empty archive store)."""
    manifest = read_manifest(src)
    database = manifest["database"]
    backend = "sqlite" if settings.is_sqlite else "postgresql"
    if database["backend"] != backend:
        raise BackupError(
            f"the backup is of a {database['backend']} database; the configured database is "
            f"{backend} (POSTVAULT_DATABASE_URL)"
        )
    dump = src / str(database["file"])
    if not dump.is_file():
        raise BackupError(f"the database copy {dump} is missing")
    if _sha256_file(dump) != database["sha256"]:
        raise BackupError(f"the database copy {dump} does not match its hash in {MANIFEST}")
    _target_is_empty(settings, store)
    entries: list[dict[str, Any]] = list(manifest["objects"])
    # Every object is checked before anything is written, so a damaged backup leaves the
    # new deployment untouched.
    for _data in _iter_checked_objects(src, entries):
        pass

    if settings.is_sqlite:
        target = _sqlite_path(settings.database_url)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
        os.close(fd)
        try:
            shutil.copyfile(dump, tmp)
            with sqlite3.connect(tmp) as conn:
                check = conn.execute("PRAGMA integrity_check").fetchone()
            if not check or check[0] != "ok":
                raise BackupError(f"the database copy {dump} fails SQLite's integrity check")
            for suffix in ("-wal", "-shm"):
                Path(f"{target}{suffix}").unlink(missing_ok=True)
            os.replace(tmp, target)
        finally:
            Path(tmp).unlink(missing_ok=True)
    else:
        _run(
            [
                "pg_restore",
                "--no-owner",
                "--no-privileges",
                "--exit-on-error",
                "--single-transaction",
                f"--dbname={_libpq_url(settings.database_url)}",
                str(dump),
            ],
            "pg_restore",
        )

    total = 0
    for entry, data in zip(entries, _iter_checked_objects(src, entries), strict=True):
        if store.put(data, mime_type=str(entry["mime_type"])) != entry["sha256"]:
            raise BackupError(f"object {entry['sha256']} was stored under another hash")
        total += len(data)
        if progress is not None:
            progress(1)

    keys: list[str] = []
    key_folder = settings.archive_dir.parent
    for name in manifest.get("keys", []):
        source = src / "keys" / str(name)
        target_key = key_folder / Path(str(name)).name
        if not source.is_file():
            raise BackupError(f"the key file {source} named in {MANIFEST} is missing")
        # The deployment was checked empty above: a key it generated for itself on its first
        # start protects nothing yet, and the restored data needs the backup's key.
        key_folder.mkdir(parents=True, exist_ok=True)
        if not target_key.exists() or target_key.read_bytes() != source.read_bytes():
            _write_atomically(target_key, source.read_bytes())
            os.chmod(target_key, 0o600)
        keys.append(str(name))
    return RestoreReport(str(database["file"]), len(entries), total, keys)
