"""`postvault disposition report|propose|run` against a real database and archive folder."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

from app.config import Settings
from app.db import Database
from app.retention import disposition
from app.storage.local import LocalStore
from tests.factories import build_world

ROOT = Path(__file__).resolve().parents[2]


def run(args: list[str], settings: Settings) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        capture_output=True,
        text=True,
        env={
            "PATH": "/usr/bin:/bin",
            "POSTVAULT_DATABASE_URL": settings.database_url,
            "POSTVAULT_ARCHIVE_DIR": str(settings.archive_dir),
        },
        cwd=ROOT,
        check=False,
    )


def test_report_propose_and_run(db: Database, settings: Settings) -> None:
    store = LocalStore(settings.archive_dir)
    world = build_world(db, store)
    files_before = set(store.keys())

    report = run(["disposition", "report", "--today", "2026-11-25"], settings)
    assert report.returncode == 0, report.stderr
    assert "3 post(s) would be destroyed" in report.stdout
    assert f"DESTROY post {world.posts['a']} " in report.stdout
    assert f"keep    post {world.posts['d']} " in report.stdout
    assert set(store.keys()) == files_before  # a report changes nothing

    proposed = run(["disposition", "propose", "--today", "2026-11-25"], settings)
    assert proposed.returncode == 0, proposed.stderr
    assert "proposed disposition batch" in proposed.stdout
    with db.session() as session:
        batch_id = disposition.list_batches(session)[0][0].id
        from app.auth.models import User

        officer = session.get(User, world.officer_id)
        assert officer is not None
        disposition.approve_batch(
            session,
            batch_id=batch_id,
            officer=officer,
            authority="schedule",
            whs_notice_on=dt.date(2026, 9, 1),
        )
        disposition.attach_whs_reply(
            session, batch_id=batch_id, officer=officer, reference="WHS ok"
        )

    ran = run(["disposition", "run", "--today", "2026-11-25"], settings)
    assert ran.returncode == 0, ran.stderr
    assert f"batch {batch_id} completed: destroyed 3 post(s)" in ran.stdout
    assert "certificate of destruction" in ran.stdout
