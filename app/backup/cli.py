"""`postvault backup DEST` and `postvault restore SRC`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from app.audit.service import Actor, record
from app.backup import service
from app.config import Settings
from app.db import Database
from app.migrate import migrated_database, upgrade_to_head
from app.storage.service import store_from_settings


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")


def _fail(text: str) -> int:
    sys.stderr.write(f"postvault: {text}\n")
    return 2


def cmd_backup(args: argparse.Namespace, settings: Settings) -> int:
    from tqdm import tqdm

    dest = Path(args.dest)
    database = migrated_database(settings)
    try:
        with tqdm(unit="object", desc="copying", file=sys.stderr, disable=args.quiet) as bar:
            report = service.backup(
                settings, dest, store=store_from_settings(settings), progress=bar.update
            )
        # The export itself is a fact for the audit log (after the copy: the copy's own
        # chain ends just before it).
        with database.session() as session:
            record(
                session,
                actor=Actor.system("cli"),
                action="backup.created",
                object_type="deployment",
                object_id="backup",
                details={
                    "dest": str(dest.resolve()),
                    "objects": report.objects,
                    "object_bytes": report.object_bytes,
                },
            )
    except service.BackupError as exc:
        return _fail(str(exc))
    finally:
        database.dispose()
    _out(
        f"backup written to {dest}: {report.database_file}, {report.objects} objects "
        f"({report.object_bytes} bytes), keys: {', '.join(report.keys) or 'none'}"
    )
    return 0


def cmd_restore(args: argparse.Namespace, settings: Settings) -> int:
    from tqdm import tqdm

    src = Path(args.src)
    try:
        with tqdm(unit="object", desc="restoring", file=sys.stderr, disable=args.quiet) as bar:
            report = service.restore(
                settings, src, store=store_from_settings(settings), progress=bar.update
            )
    except service.BackupError as exc:
        return _fail(str(exc))
    # A backup of an older PostVault is brought up to this version's schema.
    upgrade_to_head(settings.database_url)
    database = Database(settings.database_url)
    try:
        with database.session() as session:
            record(
                session,
                actor=Actor.system("cli"),
                action="backup.restored",
                object_type="deployment",
                object_id="restore",
                details={"src": str(src.resolve()), "objects": report.objects},
            )
    finally:
        database.dispose()
    _out(
        f"restored {report.database_file} and {report.objects} objects from {src}; "
        "check it with: postvault verify && postvault audit verify"
    )
    return 0


def register(sub: Any) -> None:
    backup = sub.add_parser(
        "backup",
        help="write a consistent copy of the database and every stored object to a new folder",
    )
    backup.add_argument("dest", help="a new or empty folder")
    backup.add_argument("--quiet", action="store_true", help="no progress bar")
    backup.set_defaults(handler=cmd_backup)
    restore = sub.add_parser(
        "restore", help="restore a backup into an empty deployment (empty database and archive)"
    )
    restore.add_argument("src", help="a folder written by `postvault backup`")
    restore.add_argument("--quiet", action="store_true", help="no progress bar")
    restore.set_defaults(handler=cmd_restore)
