"""Issue 13 item 2 for disposition runs: a run killed mid-batch is found by its lease and
resumed to the same end state; two runs never work one batch at once; a run told to stop
ends between steps and is resumed at once."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.audit.service import Actor
from app.db import Database, utcnow
from app.errors import Conflict
from app.retention.models import DispositionBatch
from app.retention.run_lease import RunInterrupted, resume_disposition, run_batch_leased
from app.storage.local import LocalStore
from tests.conftest import wipe
from tests.factories import TODAY, TZ, build_world
from tests.retention.test_disposition import propose_and_approve, state_of

ACTOR = Actor.system("tests")
LEASE = 60

KILLED_RUN = """
import datetime as dt, pathlib, sys, time
from app.audit.service import Actor
from app.db import Database
from app.retention.run_lease import run_batch_leased
from app.storage.local import LocalStore

database_url, archive, marker, batch_id, today = sys.argv[1:6]

def step(name):
    if name.endswith(": decided"):
        pathlib.Path(marker).write_text(name)
        time.sleep(3600)

run_batch_leased(
    Database(database_url), batch_id=int(batch_id), store=LocalStore(pathlib.Path(archive)),
    actor=Actor.system("tests"), today=dt.date.fromisoformat(today), timezone="America/Chicago",
    lease_seconds=60, on_step=step,
)
"""


def batch_row(db: Database, batch_id: int) -> DispositionBatch:
    with db.session() as session:
        row = session.get(DispositionBatch, batch_id)
        assert row is not None
        return row


def test_a_killed_run_is_resumed_to_the_same_end_state(db: Database, tmp_path: Path) -> None:
    # The end state of an uninterrupted run, for comparison.
    clean_store = LocalStore(tmp_path / "clean")
    world = build_world(db, clean_store)
    batch_id = propose_and_approve(db, world, notice=TODAY - dt.timedelta(days=61))
    run_batch_leased(
        db, batch_id=batch_id, store=clean_store, actor=ACTOR, today=TODAY, timezone=TZ
    )
    expected = state_of(db, clean_store, world, batch_id)
    assert expected["batch"] == "completed"
    assert batch_row(db, batch_id).lease_owner is None

    wipe(db)
    store = LocalStore(tmp_path / "killed")
    world = build_world(db, store)
    batch_id = propose_and_approve(db, world, notice=TODAY - dt.timedelta(days=61))
    marker = tmp_path / "decided"
    runner = subprocess.Popen(
        [
            sys.executable,
            "-c",
            KILLED_RUN,
            db.url,
            str(store.root),
            str(marker),
            str(batch_id),
            TODAY.isoformat(),
        ],
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ},
    )
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert runner.poll() is None, "the run ended before its first post"
            assert time.monotonic() < deadline, "the run decided no post within 120 s"
            time.sleep(0.1)
    finally:
        runner.send_signal(signal.SIGKILL)
        runner.wait()

    killed = batch_row(db, batch_id)
    assert killed.status == "running"
    assert killed.lease_owner is not None
    # While its lease lasts the run may be alive: nobody else runs the batch.
    with pytest.raises(Conflict, match="being run by another process"):
        run_batch_leased(db, batch_id=batch_id, store=store, actor=ACTOR, today=TODAY, timezone=TZ)
    assert resume_disposition(db, store, today=TODAY, timezone=TZ, lease_seconds=LEASE) == []

    later = utcnow() + dt.timedelta(seconds=LEASE + 1)
    resumed = resume_disposition(
        db, store, today=TODAY, timezone=TZ, lease_seconds=LEASE, clock=lambda: later
    )
    assert resumed == [batch_id]
    assert state_of(db, store, world, batch_id) == expected
    assert batch_row(db, batch_id).lease_owner is None
    with db.session() as session:
        actions = list(
            session.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.object_type == "disposition_batch")
                .where(AuditEvent.object_id == str(batch_id))
                .order_by(AuditEvent.id)
            )
        )
    assert actions[-2:] == ["disposition.resumed", "disposition.completed"]


def test_a_run_told_to_stop_lets_go_and_is_resumed_at_once(db: Database, tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "archive")
    world = build_world(db, store)
    batch_id = propose_and_approve(db, world, notice=TODAY - dt.timedelta(days=61))
    stop = threading.Event()

    def stop_after_first_post(step: str) -> None:
        if step.endswith(": decided"):
            stop.set()

    with pytest.raises(RunInterrupted):
        run_batch_leased(
            db,
            batch_id=batch_id,
            store=store,
            actor=ACTOR,
            today=TODAY,
            timezone=TZ,
            stop=stop,
            on_step=stop_after_first_post,
        )
    stopped = batch_row(db, batch_id)
    assert (stopped.status, stopped.lease_owner) == ("running", None)
    assert resume_disposition(db, store, today=TODAY, timezone=TZ) == [batch_id]
    assert state_of(db, store, world, batch_id)["batch"] == "completed"
