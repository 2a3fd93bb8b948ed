"""`postvault verify` and `postvault snapshots rerender`, run as the real command."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from app.config import Settings
from app.db import Database
from app.snapshots import service
from app.snapshots.models import Snapshot
from app.snapshots.render import render_snapshot
from app.snapshots.version import RENDERER_VERSION
from app.storage.local import LocalStore
from tests.factories import bluesky_capture
from tests.snapshots.conftest import ArchivePost

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def postvault(args: list[str], settings: Settings) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": "/usr/bin:/bin",
        "POSTVAULT_DATABASE_URL": settings.database_url,
        "POSTVAULT_ARCHIVE_DIR": str(settings.archive_dir),
        "POSTVAULT_RENDER_WORKERS": "1",
    }
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=PROJECT_ROOT,
        timeout=300,
        check=False,
    )


def test_verify_passes_an_intact_archive_and_names_what_is_missing_or_changed(
    db: Database, store: LocalStore, settings: Settings, archive_post: ArchivePost
) -> None:
    assert store.root == settings.archive_dir
    post, media = bluesky_capture(image_kind="jpeg")
    version_id = archive_post([(post, media)]).version_ids[0]
    with db.session() as session:
        snapshot_key = service.snapshot_version(
            session, store=store, version_id=version_id, renderer=render_snapshot
        ).sha256

    intact = postvault(["verify"], settings)
    assert intact.returncode == 0, intact.stderr
    assert "all 3 stored objects verified intact" in intact.stdout

    changed = store.path_for(media[1].sha256)
    os.chmod(changed, stat.S_IRUSR | stat.S_IWUSR)
    changed.write_bytes(changed.read_bytes()[:-1] + b"\x00")
    gone = store.path_for(snapshot_key)
    os.chmod(gone, stat.S_IRUSR | stat.S_IWUSR)
    gone.unlink()
    damaged = postvault(["verify"], settings)
    assert damaged.returncode == 1
    assert f"MISMATCH media object {media[1].sha256}" in damaged.stdout
    assert f"MISSING  snapshot object {snapshot_key}" in damaged.stdout
    assert "2 of 3 objects failed" in damaged.stderr
    assert "verifying" in damaged.stderr  # the progress bar


def test_rerender_renders_missing_and_outdated_snapshots_in_the_pool(
    db: Database, settings: Settings, archive_post: ArchivePost
) -> None:
    archived = archive_post()
    result = postvault(["snapshots", "rerender"], settings)
    assert result.returncode == 0, result.stderr
    assert f"renderer {RENDERER_VERSION}: 1 new snapshots, 0 unchanged, 0 failed" in result.stdout
    assert "rendering" in result.stderr  # the progress bar
    again = postvault(["snapshots", "rerender", "--all", "--quiet"], settings)
    assert again.returncode == 0, again.stderr
    assert "0 new snapshots, 1 unchanged" in again.stdout
    with db.session() as session:
        rows = session.scalars(
            select(Snapshot).where(Snapshot.version_id == archived.version_ids[0])
        ).all()
    assert [(r.renderer_version, r.is_current) for r in rows] == [(RENDERER_VERSION, True)]
