"""Issue 13 item 9: snapshots missing after a crash are made when the app starts, not ten
minutes later; the start-up run goes batch after batch until none is missing."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.config import Settings
from app.db import Database
from app.main import create_app
from app.snapshots import jobs as snapshot_jobs
from app.snapshots.models import Snapshot
from app.worker import START_UP_JOBS
from tests.factories import bluesky_capture, mastodon_capture
from tests.snapshots.conftest import ArchivePost


def test_missing_snapshots_are_made_at_start_up(
    db: Database,
    settings: Settings,
    archive_post: ArchivePost,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # What a crash between capture and snapshot leaves: versions with no snapshot.
    versions = [
        *archive_post([bluesky_capture(image_kind="jpeg", reply_count=1)]).version_ids,
        *archive_post([mastodon_capture()]).version_ids,
    ]
    monkeypatch.setattr(snapshot_jobs, "BACKFILL_BATCH", 1)  # two batches in one run
    assert "snapshot_backfill" in START_UP_JOBS
    slow = settings.model_copy(update={"capture_interval_seconds": 3600})

    def made() -> int:
        with db.session() as session:
            return (
                session.scalar(
                    select(func.count())
                    .select_from(Snapshot)
                    .where(Snapshot.version_id.in_(versions), Snapshot.is_current.is_(True))
                )
                or 0
            )

    assert made() == 0
    with TestClient(create_app(slow, database=db)) as client:
        assert client.get("/healthz").status_code == 200
        deadline = time.monotonic() + 120
        while made() < len(versions):
            assert time.monotonic() < deadline, "the start-up backfill made no snapshot in 120 s"
            time.sleep(0.2)
    assert made() == len(versions)
