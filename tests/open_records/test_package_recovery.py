"""Issue 13 item 2: a response package whose process is killed mid-run is found by its lease
and resumed (or marked failed after repeated deaths); a new POST …/package is never refused
for ever because of it."""

from __future__ import annotations

import datetime as dt
import io
import os
import signal
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path
from typing import Any

import bagit
import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.audit.service import Actor
from app.auth.models import User
from app.db import Database, utcnow
from app.open_records import package as package_service
from app.open_records.models import ResponsePackage
from app.storage.local import LocalStore
from tests.conftest import MakePerson, Person
from tests.factories import bluesky_capture
from tests.snapshots.conftest import ArchivePost

LEASE = 60

# The run a killed process leaves behind: it blocks after its first item until killed.
KILLED_RUN = """
import pathlib, sys, time
from app.audit.service import Actor
from app.db import Database
from app.open_records.package import run_package
from app.storage.local import LocalStore

database_url, archive, marker, package_id, lease = sys.argv[1:6]

def progress(done, total):
    pathlib.Path(marker).write_text(f"{done}/{total}")
    time.sleep(3600)

run_package(
    Database(database_url), LocalStore(pathlib.Path(archive)), package_id=int(package_id),
    actor=Actor.system("tests"), progress=progress, lease_seconds=float(lease),
)
"""


def ok(response: httpx.Response) -> Any:
    assert 200 <= response.status_code < 300, response.text
    return response.json()


def request_with_items(
    client: TestClient, officer: Person, archive_post: ArchivePost, posts: int = 3
) -> int:
    post_ids = [
        archive_post([bluesky_capture(image_kind="jpeg", reply_count=1)]).post_id
        for _ in range(posts)
    ]
    request = ok(
        client.post(
            "/api/v1/requests",
            json={
                "received_at": "2026-11-02",
                "description": "Posts about the pool",
                "confirm_nothing_held": True,
            },
            headers=officer.headers,
        )
    )
    ok(
        client.post(
            f"/api/v1/requests/{request['id']}/items",
            json={"post_ids": post_ids},
            headers=officer.headers,
        )
    )
    return int(request["id"])


def queue_package(db: Database, officer: Person, request_id: int) -> int:
    with db.session() as session:
        user = session.get(User, officer.user.id)
        assert user is not None
        return package_service.start_package(
            session, officer=user, request_id=request_id, lease_seconds=LEASE
        ).id


def package_row(db: Database, package_id: int) -> ResponsePackage:
    with db.session() as session:
        row = session.get(ResponsePackage, package_id)
        assert row is not None
        return row


def kill_mid_run(db: Database, store: LocalStore, package_id: int, tmp_path: Path) -> None:
    """Run the package in another process and SIGKILL it once its first item is saved."""
    marker = tmp_path / f"first-item-{package_id}"
    runner = subprocess.Popen(
        [
            sys.executable,
            "-c",
            KILLED_RUN,
            db.url,
            str(store.root),
            str(marker),
            str(package_id),
            str(LEASE),
        ],
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ},
    )
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert runner.poll() is None, "the package run ended before its first item"
            assert time.monotonic() < deadline, "the package run made no item within 120 s"
            time.sleep(0.1)
    finally:
        runner.send_signal(signal.SIGKILL)
        runner.wait()


def later(seconds: float) -> Any:
    return lambda: utcnow() + dt.timedelta(seconds=seconds)


def test_a_killed_package_run_is_resumed_once_its_lease_runs_out(
    client: TestClient,
    db: Database,
    store: LocalStore,
    archive_post: ArchivePost,
    make_person: MakePerson,
    tmp_path: Path,
) -> None:
    officer = make_person("records_officer")
    rid = request_with_items(client, officer, archive_post)
    package_id = queue_package(db, officer, rid)
    kill_mid_run(db, store, package_id, tmp_path)

    killed = package_row(db, package_id)
    assert (killed.status, killed.progress, killed.attempts) == ("running", 1, 1)
    assert killed.lease_owner is not None
    # While its lease lasts it may still be alive: a second run leaves it alone, and a new
    # package is refused with a sentence.
    assert package_service.recover_packages(db, store, lease_seconds=LEASE) == []
    package_service.run_package(
        db, store, package_id=package_id, actor=Actor.system("tests"), lease_seconds=LEASE
    )
    untouched = package_row(db, package_id)
    assert (untouched.status, untouched.lease_owner) == ("running", killed.lease_owner)
    refused = client.post(f"/api/v1/requests/{rid}/package", headers=officer.headers)
    assert refused.status_code == 409
    assert "still being made" in refused.json()["detail"]

    # Once the lease ran out, the recovery job resumes it to the end.
    resumed = package_service.recover_packages(
        db, store, lease_seconds=LEASE, clock=later(LEASE + 1)
    )
    assert resumed == [package_id]
    done = package_row(db, package_id)
    assert (done.status, done.progress, done.total, done.attempts) == ("done", 3, 3, 2)
    assert done.lease_owner is None
    assert done.sha256 is not None
    with zipfile.ZipFile(io.BytesIO(store.get(done.sha256))) as archive:
        archive.extractall(tmp_path / "bag")
    bag = bagit.Bag(str(next((tmp_path / "bag").iterdir())))
    assert bag.is_valid()
    assert len([p for p in bag.payload_files() if p.startswith("data/items/")]) == 3
    with db.session() as session:
        actions = list(
            session.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.object_type == "records_request")
                .where(AuditEvent.object_id == str(rid))
                .order_by(AuditEvent.id)
            )
        )
    assert actions[-2:] == ["request.package_resumed", "request.packaged"]

    # And a new package can be made at once.
    again = client.post(f"/api/v1/requests/{rid}/package", headers=officer.headers)
    assert again.status_code == 202, again.text


def test_a_package_that_keeps_dying_is_marked_failed(
    client: TestClient,
    db: Database,
    store: LocalStore,
    archive_post: ArchivePost,
    make_person: MakePerson,
    tmp_path: Path,
) -> None:
    officer = make_person("records_officer")
    rid = request_with_items(client, officer, archive_post, posts=2)
    package_id = queue_package(db, officer, rid)
    for _ in range(package_service.MAX_ATTEMPTS):
        kill_mid_run(db, store, package_id, tmp_path)
        (tmp_path / f"first-item-{package_id}").unlink()
        with db.session() as session:  # time passes: the dead run's lease runs out
            row = session.get(ResponsePackage, package_id)
            assert row is not None
            row.lease_expires_at = utcnow() - dt.timedelta(seconds=1)
    assert package_row(db, package_id).attempts == package_service.MAX_ATTEMPTS

    assert package_service.recover_packages(db, store, lease_seconds=LEASE) == []
    failed = package_row(db, package_id)
    assert failed.status == "failed"
    assert failed.error is not None
    assert "stopped 3 times" in failed.error
    assert failed.lease_owner is None
    shown = ok(client.get(f"/api/v1/requests/{rid}/package/{package_id}", headers=officer.headers))
    assert shown["status"] == "failed"


def test_a_new_package_replaces_one_whose_process_died(
    client: TestClient,
    db: Database,
    archive_post: ArchivePost,
    make_person: MakePerson,
) -> None:
    """What a process killed before the recovery job ran leaves: `running`, its lease run out."""
    officer = make_person("records_officer")
    rid = request_with_items(client, officer, archive_post, posts=1)
    package_id = queue_package(db, officer, rid)
    with db.session() as session:
        row = session.get(ResponsePackage, package_id)
        assert row is not None
        row.status, row.attempts, row.lease_owner = "running", 1, "dead-host:1:0"
        row.lease_expires_at = utcnow() - dt.timedelta(minutes=5)
    started = client.post(f"/api/v1/requests/{rid}/package", headers=officer.headers)
    assert started.status_code == 202, started.text
    replaced = package_row(db, package_id)
    assert replaced.status == "failed"
    assert replaced.error is not None
    assert "a new package was started" in replaced.error


def test_a_stopped_run_lets_its_lease_go_and_is_resumed_at_once(
    client: TestClient,
    db: Database,
    store: LocalStore,
    archive_post: ArchivePost,
    make_person: MakePerson,
) -> None:
    """A clean shutdown mid-package: the run stops between items and lets its lease go, so
    the next start resumes it without waiting for the lease to run out."""
    officer = make_person("records_officer")
    rid = request_with_items(client, officer, archive_post, posts=2)
    package_id = queue_package(db, officer, rid)
    stop = threading.Event()
    stopped = package_service.run_package(
        db,
        store,
        package_id=package_id,
        actor=Actor.system("tests"),
        progress=lambda _done, _total: stop.set(),
        lease_seconds=LEASE,
        stop=stop,
    )
    assert (stopped.status, stopped.progress, stopped.lease_owner) == ("running", 1, None)
    assert package_service.recover_packages(db, store, lease_seconds=LEASE) == [package_id]
    assert package_row(db, package_id).status == "done"


@pytest.mark.parametrize("status", ["done", "failed"])
def test_a_finished_package_is_never_run_again(
    db: Database,
    store: LocalStore,
    client: TestClient,
    archive_post: ArchivePost,
    make_person: MakePerson,
    status: str,
) -> None:
    officer = make_person("records_officer")
    rid = request_with_items(client, officer, archive_post, posts=1)
    package_id = queue_package(db, officer, rid)
    with db.session() as session:
        row = session.get(ResponsePackage, package_id)
        assert row is not None
        row.status = status
    again = package_service.run_package(
        db, store, package_id=package_id, actor=Actor.system("tests"), lease_seconds=LEASE
    )
    assert (again.status, again.attempts) == (status, 0)
