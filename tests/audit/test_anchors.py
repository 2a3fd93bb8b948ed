"""The audit chain anchored outside the database: a daily write-once object in the archive
store (and a TSA timestamp of it when configured), checked by `audit verify`; on PostgreSQL
the audit tables refuse UPDATE, DELETE and TRUNCATE."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.expression import Executable

from app.anchors import jobs as anchor_jobs
from app.anchors.service import ANCHOR_KIND, anchor_chain, verify_anchored
from app.audit.models import AuditAnchor, AuditChainHead, AuditEvent
from app.audit.service import Actor, _event_hash, record, verify_chain
from app.config import Settings
from app.db import Database
from app.storage.local import LocalStore
from app.storage.models import StoredObject
from app.timestamps.models import TimestampStatus, TimestampToken
from app.worker import DELAYED_START_UP_JOBS
from tests.conftest import MakePerson, is_postgres, tamper_with_audit
from tests.tsa import LoopbackTSA, running_tsa

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _write_events(db: Database, n: int, start: int = 0) -> None:
    with db.session() as session:
        for i in range(start, start + n):
            record(
                session,
                actor=Actor.system("tests"),
                action="test.event",
                object_type="thing",
                object_id=i,
                details={"i": i, "note": f"original {i}"},
            )


def _anchor(db: Database, store: LocalStore, settings: Settings) -> int | None:
    with db.session() as session:
        anchor = anchor_chain(session, store=store, settings=settings)
        return anchor.id if anchor is not None else None


def _rewrite_whole_chain(db: Database) -> None:
    """What someone with the database in hand does: change every event, recompute every hash
    in order, and the head, so that the chain walk alone finds nothing wrong."""
    with db.session() as session:
        tamper_with_audit(session)
        prev = "0" * 64
        last = None
        events = session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
        for event in events:
            details = dict(event.details)
            if "note" in details:
                details["note"] = "rewritten"
            event.details = details
            # Placeholders first: both hash columns are unique.
            event.prev_hash = f"p{event.id:063d}"
            event.hash = f"h{event.id:063d}"
            session.flush()
        for event in events:
            event.prev_hash = prev
            event.hash = _event_hash(event)
            session.flush()
            prev, last = event.hash, event
        assert last is not None
        session.execute(
            update(AuditChainHead)
            .where(AuditChainHead.id == 1)
            .values(last_hash=last.hash, last_event_id=last.id, event_count=len(events))
        )


@pytest.fixture
def store(settings: Settings) -> LocalStore:
    return LocalStore(settings.archive_dir)


def test_the_head_is_written_once_a_day_as_a_write_once_object(
    db: Database, store: LocalStore, settings: Settings
) -> None:
    assert "audit.anchor" in DELAYED_START_UP_JOBS
    assert [name for name, _job, _t in anchor_jobs.JOBS] == ["audit.anchor"]
    assert anchor_jobs.JOBS[0][2] == {"trigger": "interval", "hours": 24}
    assert _anchor(db, store, settings) is None  # an empty chain has no head to anchor
    _write_events(db, 3)
    anchor_jobs.anchor_job(db, settings)
    anchor_jobs.anchor_job(db, settings)  # idempotent: only its own event is new since
    with db.session() as session:
        anchors = session.scalars(select(AuditAnchor)).all()
        assert len(anchors) == 1
        anchor = anchors[0]
        head_event = session.scalars(select(AuditEvent).where(AuditEvent.id == 3)).one()
        assert (anchor.last_event_id, anchor.event_count) == (3, 3)
        assert anchor.head_hash == head_event.hash
        assert anchor.previous_object_sha256 is None
        row = session.get(StoredObject, anchor.object_sha256)
        assert row is not None
        assert row.kind == ANCHOR_KIND
        event = session.get(AuditEvent, anchor.audit_event_id)
        assert event is not None
        assert event.action == "audit.anchored"
        assert event.details["head_hash"] == anchor.head_hash
        object_sha = anchor.object_sha256
    path = store.path_for(object_sha)
    assert not os.stat(path).st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    document = json.loads(path.read_bytes())
    assert document["head_hash"] == anchor.head_hash
    assert document["last_event_id"] == 3

    _write_events(db, 2, start=3)
    second = _anchor(db, store, settings)
    with db.session() as session:
        latest = session.get(AuditAnchor, second)
        assert latest is not None
        assert latest.previous_object_sha256 == object_sha
        report = verify_anchored(session, store=store, settings=settings)
    assert report.ok, report.problem
    assert report.anchors_checked == 2


def test_a_chain_rewritten_consistently_fails_verify_naming_the_anchor(
    db: Database, store: LocalStore, settings: Settings
) -> None:
    _write_events(db, 4)
    anchor_id = _anchor(db, store, settings)
    _write_events(db, 2, start=4)
    _rewrite_whole_chain(db)
    with db.session() as session:
        assert verify_chain(session).ok  # the chain walk alone is fooled
        report = verify_anchored(session, store=store, settings=settings)
    assert not report.ok
    assert report.anchor_id == anchor_id
    assert f"anchor {anchor_id} of " in (report.problem or "")
    assert "rewritten" in (report.problem or "")
    assert report.first_broken_event_id == 4


def test_an_anchor_row_altered_in_the_database_is_named(
    db: Database, store: LocalStore, settings: Settings
) -> None:
    _write_events(db, 2)
    first = _anchor(db, store, settings)
    _write_events(db, 2, start=2)
    _anchor(db, store, settings)
    _rewrite_whole_chain(db)
    # Bring the anchors' rows in step with the rewritten chain too: their objects still say
    # what was anchored.
    with db.session() as session:
        tamper_with_audit(session)
        for anchor in session.scalars(select(AuditAnchor)):
            event = session.get(AuditEvent, anchor.last_event_id)
            assert event is not None
            anchor.head_hash = event.hash
    with db.session() as session:
        report = verify_anchored(session, store=store, settings=settings)
    assert not report.ok
    assert report.anchor_id == first
    assert "no longer says what its write-once object" in (report.problem or "")


def test_an_anchor_row_removed_from_the_database_is_noticed_by_the_next(
    db: Database, store: LocalStore, settings: Settings
) -> None:
    _write_events(db, 2)
    first = _anchor(db, store, settings)
    _write_events(db, 2, start=2)
    second = _anchor(db, store, settings)
    _write_events(db, 1, start=4)
    third = _anchor(db, store, settings)
    with db.session() as session:
        tamper_with_audit(session)
        session.execute(delete(AuditAnchor).where(AuditAnchor.id.in_([first, second])))
    with db.session() as session:
        report = verify_anchored(session, store=store, settings=settings)
    assert not report.ok
    assert report.anchor_id == third
    assert "an anchor was removed" in (report.problem or "")


def test_a_missing_anchor_object_is_named(
    db: Database, store: LocalStore, settings: Settings
) -> None:
    _write_events(db, 2)
    anchor_id = _anchor(db, store, settings)
    with db.session() as session:
        anchor = session.get(AuditAnchor, anchor_id)
        assert anchor is not None
        store.delete(anchor.object_sha256)
        report = verify_anchored(session, store=store, settings=settings)
    assert report.anchor_id == anchor_id
    assert "cannot be read" in (report.problem or "")


@pytest.fixture
def tsa(tmp_path: Path) -> Iterator[LoopbackTSA]:
    with running_tsa(tmp_path / "tsa") as server:
        yield server


def test_with_a_tsa_the_anchor_is_timestamped_and_the_token_checked(
    db: Database, settings: Settings, tsa: LoopbackTSA
) -> None:
    configured = settings.model_copy(update={"tsa_url": tsa.url, "tsa_ca_file": tsa.ca_file})
    store = LocalStore(configured.archive_dir)
    _write_events(db, 2)
    anchor_jobs.anchor_job(db, configured)
    with db.session() as session:
        anchor = session.scalars(select(AuditAnchor)).one()
        token = session.scalars(
            select(TimestampToken).where(TimestampToken.object_sha256 == anchor.object_sha256)
        ).one()
        assert token.status == TimestampStatus.stamped
        assert token.object_kind == ANCHOR_KIND
        assert token.token_sha256 is not None
        assert verify_anchored(session, store=store, settings=configured).ok
        token_sha = token.token_sha256
    # A token that no longer verifies is named with the anchor.
    path = store.path_for(token_sha)
    os.chmod(path, 0o600)
    damaged = bytearray(path.read_bytes())
    damaged[-5] ^= 0xFF
    path.write_bytes(bytes(damaged))
    with db.session() as session:
        report = verify_anchored(session, store=store, settings=configured)
    assert not report.ok
    assert report.anchor_id == anchor.id
    assert "TSA timestamp fails" in (report.problem or "")


def test_api_and_cli_verify_check_the_anchors(
    client: TestClient,
    db: Database,
    settings: Settings,
    make_person: MakePerson,
) -> None:
    officer = make_person("records_officer")
    store = LocalStore(settings.archive_dir)
    _write_events(db, 3)
    anchor_id = _anchor(db, store, settings)
    answer = client.get("/api/v1/audit/verify", headers=officer.headers).json()
    assert answer["ok"] is True
    assert answer["anchors_checked"] == 1
    env = {
        "PATH": "/usr/bin:/bin",
        "POSTVAULT_DATABASE_URL": settings.database_url,
        "POSTVAULT_ARCHIVE_DIR": str(settings.archive_dir),
    }

    def cli() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "app.cli", "audit", "verify"],
            capture_output=True,
            text=True,
            env=env,
            cwd=PROJECT_ROOT,
            timeout=120,
            check=False,
        )

    ok = cli()
    assert ok.returncode == 0, ok.stderr
    assert "1 anchor(s) outside the database match" in ok.stdout

    _rewrite_whole_chain(db)
    answer = client.get("/api/v1/audit/verify", headers=officer.headers).json()
    assert answer["ok"] is False
    assert answer["anchor_id"] == anchor_id
    assert f"anchor {anchor_id} of " in answer["problem"]
    broken = cli()
    assert broken.returncode == 1
    assert f"does not match anchor {anchor_id}" in broken.stderr


def test_postgresql_refuses_update_delete_and_truncate_of_the_audit_tables(
    db: Database, settings: Settings
) -> None:
    if not is_postgres():
        pytest.skip("the append-only trigger is PostgreSQL's; SQLite relies on the anchors")
    _write_events(db, 2)
    _anchor(db, LocalStore(settings.archive_dir), settings)
    statements: list[Executable] = [
        update(AuditEvent).where(AuditEvent.id == 1).values(actor="someone else"),
        delete(AuditEvent).where(AuditEvent.id == 2),
        update(AuditAnchor).values(head_hash="0" * 64),
        delete(AuditAnchor),
        text("TRUNCATE audit_events CASCADE"),
        text("TRUNCATE audit_anchors"),
    ]
    for statement in statements:
        with pytest.raises(DBAPIError, match="append-only"), db.session() as session:
            session.execute(statement)
    with db.session() as session:
        assert len(session.scalars(select(AuditEvent)).all()) == 3
        assert verify_anchored(
            session, store=LocalStore(settings.archive_dir), settings=settings
        ).ok
        # Appending still works (and the head row, which is not the log, still moves).
        record(
            session, actor=Actor.system("tests"), action="test.event", object_type="t", object_id=9
        )
