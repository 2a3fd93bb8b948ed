"""The audit chain: appended in the caller's transaction, and tamper-evident."""

from __future__ import annotations

import subprocess
import sys

from sqlalchemy import delete, select, update

from app.audit.models import AuditEvent
from app.audit.service import Actor, record, verify_chain
from app.config import Settings
from app.db import Database
from tests.conftest import tamper_with_audit


def _write_events(db: Database, n: int) -> None:
    with db.session() as session:
        for i in range(n):
            record(
                session,
                actor=Actor.system("tests"),
                action="test.event",
                object_type="thing",
                object_id=i,
                details={"i": i},
            )


def test_chain_links_every_event(db: Database) -> None:
    _write_events(db, 5)
    with db.session() as session:
        events = session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
        assert events[0].prev_hash == "0" * 64
        assert all(b.prev_hash == a.hash for a, b in zip(events, events[1:], strict=False))
        report = verify_chain(session)
    assert report.ok
    assert report.events_checked == 5


def test_rolled_back_change_leaves_no_event(db: Database) -> None:
    session = db.sessionmaker()
    record(
        session, actor=Actor.system("tests"), action="test.event", object_type="thing", object_id=1
    )
    session.rollback()
    session.close()
    with db.session() as session:
        assert session.scalars(select(AuditEvent)).all() == []
        assert verify_chain(session).ok


def test_edited_event_is_named(db: Database) -> None:
    _write_events(db, 5)
    with db.session() as session:
        third = session.scalars(select(AuditEvent).order_by(AuditEvent.id).offset(2)).first()
        assert third is not None
        tamper_with_audit(session)
        session.execute(
            update(AuditEvent).where(AuditEvent.id == third.id).values(details={"i": 999})
        )
    with db.session() as session:
        report = verify_chain(session)
    assert not report.ok
    assert report.first_broken_event_id == third.id
    assert "altered" in (report.problem or "")


def test_deleted_event_is_named(db: Database) -> None:
    _write_events(db, 5)
    with db.session() as session:
        ids = session.scalars(select(AuditEvent.id).order_by(AuditEvent.id)).all()
        tamper_with_audit(session)
        session.execute(delete(AuditEvent).where(AuditEvent.id == ids[1]))
    with db.session() as session:
        report = verify_chain(session)
    assert not report.ok
    assert report.first_broken_event_id == ids[2]


def test_events_cut_from_the_end_are_noticed(db: Database) -> None:
    _write_events(db, 4)
    with db.session() as session:
        last = session.scalars(select(AuditEvent.id).order_by(AuditEvent.id.desc())).first()
        tamper_with_audit(session)
        session.execute(delete(AuditEvent).where(AuditEvent.id == last))
    with db.session() as session:
        report = verify_chain(session)
    assert not report.ok
    assert "cut from the end" in (report.problem or "")


def test_cli_verify_names_the_broken_link(db: Database, settings: Settings) -> None:
    _write_events(db, 3)
    env = {"POSTVAULT_DATABASE_URL": settings.database_url, "PATH": "/usr/bin:/bin"}
    ok = subprocess.run(
        [sys.executable, "-m", "app.cli", "audit", "verify"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    assert "3 events verified" in ok.stdout
    with db.session() as session:
        first = session.scalars(select(AuditEvent).order_by(AuditEvent.id)).first()
        assert first is not None
        tamper_with_audit(session)
        session.execute(
            update(AuditEvent).where(AuditEvent.id == first.id).values(actor="someone else")
        )
    broken = subprocess.run(
        [sys.executable, "-m", "app.cli", "audit", "verify"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert broken.returncode == 1
    assert f"broken at event {first.id}" in broken.stderr
