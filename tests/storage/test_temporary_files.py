"""What a process killed while writing leaves in the store's temporary folder (an object not
yet linked, a package's ZIP and combined PDF) is removed when PostVault next starts; files a
writer may still be at work on, and the archived objects, are left alone."""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.db import Database
from app.main import create_app
from app.storage.local import LocalStore
from app.storage.service import STALE_TEMPORARY_AFTER

DAY = 24 * 3600


def _aged(path: Path, seconds: float) -> Path:
    then = time.time() - seconds
    os.utime(path, (then, then))
    return path


def test_startup_removes_what_killed_writers_left(
    settings: Settings, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    store = LocalStore(settings.archive_dir)
    key = store.put(b"an archived object", mime_type="text/plain")
    os.utime(store.path_for(key), (time.time() - 30 * DAY, time.time() - 30 * DAY))
    # A package killed two days ago: its ZIP and combined PDF, and an object mid-write.
    bag = _aged(store.temporary_path("package."), 2 * DAY)
    combined = bag.with_name(bag.name + ".combined.pdf")
    combined.write_bytes(b"%PDF-1.7")
    _aged(combined, 2 * DAY)
    half_written = _aged(store.temporary_path(f"{key[:12]}."), 3 * DAY)
    # A package being made now, and one written to an hour ago.
    current = store.temporary_path("package.")
    recent = _aged(store.temporary_path("package."), 3600)

    with caplog.at_level(logging.INFO, logger="postvault.storage"):
        with TestClient(create_app(settings, database=db)) as client:
            assert client.get("/healthz").status_code == 200

    left = sorted(p.name for p in store.tmp.iterdir())
    assert left == sorted([current.name, recent.name])
    for gone in (bag, combined, half_written):
        assert not gone.exists()
    assert store.get(key) == b"an archived object"  # archived objects are never swept
    assert "removed 3 temporary file(s)" in caplog.text


def test_a_file_is_stale_only_once_left_unchanged_for_the_whole_period(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "archive")
    assert store.remove_stale_temporary(STALE_TEMPORARY_AFTER) == []  # no folder yet
    path = store.temporary_path("package.")
    now = time.time()
    just_inside = now - STALE_TEMPORARY_AFTER.total_seconds() + 60
    os.utime(path, (just_inside, just_inside))
    assert store.remove_stale_temporary(STALE_TEMPORARY_AFTER, now=now) == []
    assert store.remove_stale_temporary(dt.timedelta(minutes=1), now=now) == [path.name]
    assert not path.exists()
