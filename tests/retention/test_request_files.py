"""Request files have a retention too: a closed request's response packages and redacted
copies are in their own series (POSTVAULT_REQUEST_FILES_SERIES, here the example schedule's
EX-PRR-01, three years after closing), proposed in a normal destruction batch once due and
unheld, and destroyed by its run with a stub and a line on the certificate; a package still
kept that holds a destroyed post's copy is flagged on the disposition report."""

from __future__ import annotations

import datetime as dt
import io
import os
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pypdf
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.models import AuditEvent
from app.audit.service import Actor
from app.auth.models import User
from app.config import Settings
from app.db import Database
from app.errors import NotFound
from app.open_records import letters
from app.open_records import package as package_service
from app.open_records.models import (
    LetterKind,
    PackageStatus,
    RecordsRequest,
    RequestItem,
    RequestLetter,
    RequestStatus,
    ResponsePackage,
)
from app.retention import disposition, disposition_run, holds
from app.retention.models import DispositionRequestItem, ItemStatus
from app.retention.request_files import request_file_report, request_files_policy
from app.storage.local import LocalStore
from app.storage.models import StoredObject
from app.storage.service import put_object
from tests.factories import TODAY, TZ, assign, make_account, make_post, make_user, schedules, utc

ACTOR = Actor.system("tests")
ROOT = Path(__file__).resolve().parents[2]


def officer_row(session: Session, user_id: int) -> User:
    found = session.get(User, user_id)
    assert found is not None
    return found


def a_zip(name: str, text: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(f"{name}/data/item.txt", text)
    return out.getvalue()


@dataclass
class RWorld:
    officer_id: int
    post: int
    due: int  # closed 2020: files due
    recent: int  # closed this year, package holds a copy of `post`
    held: int  # closed 2020 but held for its own request
    package_due: str
    package_recent: str
    redacted_due: str
    letter_due: str


def build(db: Database, store: LocalStore) -> RWorld:
    with db.session() as session:
        officer = make_user(session, "records_officer")
        account = make_account(session, make_user(session))
        post = make_post(session, account=account, label="transitory", store=store)
        other = make_post(session, account=account, label="record", store=store)
        for p in (post, other):
            assign(session, p)
        version_id = post.versions[0].id

        def request(number: str, closed: dt.datetime) -> RecordsRequest:
            row = RecordsRequest(
                number=number,
                received_on=closed.date() - dt.timedelta(days=10),
                description="pool posts",
                created_by_id=officer.id,
                status=RequestStatus.closed,
                closed_at=closed,
            )
            session.add(row)
            session.flush()
            return row

        due = request("2020-0007", utc(2020, 1, 10, 18))
        recent = request("2026-0031", utc(2026, 6, 1, 18))
        held = request("2020-0009", utc(2020, 2, 1, 18))
        redacted = put_object(
            session,
            store,
            b"%PDF redacted copy for 2020-0007",
            mime_type="application/pdf",
            kind="redacted",
        )
        session.add(
            RequestItem(
                request_id=due.id,
                version_id=version_id,
                added_by_id=officer.id,
                redacted_sha256=redacted.sha256,
            )
        )
        session.add(
            RequestItem(request_id=recent.id, version_id=version_id, added_by_id=officer.id)
        )
        letter = put_object(
            session,
            store,
            b"%PDF acknowledgment letter for 2020-0007",
            mime_type="application/pdf",
            kind="request_letter",
        )
        session.add(
            RequestLetter(
                request_id=due.id,
                kind=LetterKind.acknowledgment,
                sha256=letter.sha256,
                created_by_id=officer.id,
            )
        )
        keys = {}
        for row in (due, recent, held):
            obj = put_object(
                session,
                store,
                a_zip(row.number, f"package of {row.number}"),
                mime_type="application/zip",
                kind="package",
            )
            session.add(
                ResponsePackage(
                    request_id=row.id,
                    status=PackageStatus.done,
                    sha256=obj.sha256,
                    created_by_id=officer.id,
                )
            )
            keys[row.number] = obj.sha256
        session.flush()
        holds.place_hold(
            session,
            officer=officer,
            kind="open_records",
            reason="appeal of 2020-0009",
            authority="Wis. Stat. 19.35(5)",
            request_id=held.id,
            post_ids=[other.id],
        )
        return RWorld(
            officer.id,
            post.id,
            due.id,
            recent.id,
            held.id,
            keys["2020-0007"],
            keys["2026-0031"],
            redacted.sha256,
            letter.sha256,
        )


def test_request_files_are_destroyed_at_the_end_of_their_series(
    db: Database, tmp_path: Path
) -> None:
    store = LocalStore(tmp_path / "archive")
    world = build(db, store)
    policy, problem = request_files_policy(schedules(), "EX-PRR-01", timezone=TZ)
    assert policy is not None
    assert problem is None
    none, why = request_files_policy(schedules(), None, timezone=TZ)
    assert none is None
    assert "POSTVAULT_REQUEST_FILES_SERIES" in (why or "")
    with db.session() as session:
        # Without the series, request files are never proposed.
        plain = disposition.propose_batch(session, actor=ACTOR, today=TODAY)
        assert plain is not None
        assert disposition.request_items(session, plain.id) == []
        officer = session.get(User, world.officer_id)
        assert officer is not None
        disposition.cancel_batch(session, batch_id=plain.id, officer=officer, reason="again")
        batch = disposition.propose_batch(session, actor=ACTOR, today=TODAY, request_files=policy)
        assert batch is not None
        batch_id = batch.id
        items = disposition.request_items(session, batch_id)
        # The held request and the one closed this year are not proposed.
        assert [(i.request_id, i.due_on) for i in items] == [(world.due, dt.date(2023, 1, 10))]
        assert world.post in {i.post_id for i in disposition.batch_items(session, batch_id)}
        assert "EX-PRR-01" in disposition.whs_series(session, batch_id)
        notice = TODAY - dt.timedelta(days=70)
        disposition.approve_batch(
            session,
            batch_id=batch_id,
            officer=officer,
            authority="EX-PRR-01",
            whs_notice_on=notice,
            timezone=TZ,
        )
        disposition.attach_whs_reply(session, batch_id=batch_id, officer=officer, reference="WHS 9")
    result = disposition_run.run_batch(
        db, batch_id=batch_id, store=store, actor=ACTOR, today=TODAY, timezone=TZ
    )
    assert result.status == "completed", result.error
    assert result.request_files_destroyed == [world.due]
    keys = set(store.keys())
    assert world.package_due not in keys
    assert world.redacted_due not in keys
    assert world.letter_due not in keys  # letters are request files too
    assert world.package_recent in keys  # not due yet: kept
    with db.session() as session:
        item = session.scalar(
            select(DispositionRequestItem).where(DispositionRequestItem.batch_id == batch_id)
        )
        assert item is not None
        assert item.status == ItemStatus.destroyed
        assert item.stub is not None
        assert item.stub["request_number"] == "2020-0007"
        assert world.package_due in item.stub["destroyed_objects"]
        obj = session.get(StoredObject, world.package_due)
        assert obj is not None
        assert obj.destroyed_at is not None
        event = session.scalar(
            select(AuditEvent).where(AuditEvent.action == "disposition.request_files_destroyed")
        )
        assert event is not None
        assert event.object_id == str(world.due)
        certificate = disposition.certificate_bytes(session, batch_id=batch_id, store=store)
        package_id = session.scalar(
            select(ResponsePackage.id).where(ResponsePackage.request_id == world.due)
        )
        assert package_id is not None
        with pytest.raises(NotFound, match="destroyed"):
            package_service.download(
                session,
                store=store,
                officer=officer_row(session, world.officer_id),
                request_id=world.due,
                package_id=package_id,
            )
        due_request = session.get(RecordsRequest, world.due)
        assert due_request is not None
        with pytest.raises(NotFound, match="letter of request 2020-0007 was destroyed"):
            letters.read_letter(
                session,
                store=store,
                officer=officer_row(session, world.officer_id),
                request=due_request,
                kind=LetterKind.acknowledgment,
            )
        # The package of the request closed this year holds a copy of the destroyed post.
        lines = {
            line.request_id: line
            for line in request_file_report(session, policy, today=TODAY, horizon=TODAY)
        }
    text = "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(certificate)).pages)
    assert "2020-0007" in text
    assert "records requests" in text
    assert world.due not in lines  # nothing of it left to report
    assert lines[world.recent].flagged
    assert f"post(s) {world.post}" in lines[world.recent].flagged[0]
    assert not lines[world.recent].would_destroy
    assert "held by hold" in lines[world.held].state
    # Proposing again finds nothing more of the request files.
    with db.session() as session:
        again = disposition.propose_batch(session, actor=ACTOR, today=TODAY, request_files=policy)
        assert again is None or disposition.request_items(session, again.id) == []


def test_report_cli_lists_request_files_and_flags_packages(
    db: Database, settings: Settings
) -> None:
    store = LocalStore(settings.archive_dir)
    world = build(db, store)
    with db.session() as session:
        # The post is destroyed (a stand-in for a past batch): its copy lives in two packages.
        from app.posts.models import FlaggedPost, PostStatus

        post = session.get(FlaggedPost, world.post)
        assert post is not None
        post.status = PostStatus.disposed
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "POSTVAULT_DATABASE_URL": settings.database_url,
        "POSTVAULT_ARCHIVE_DIR": str(settings.archive_dir),
        "POSTVAULT_REQUEST_FILES_SERIES": "EX-PRR-01",
    }
    out = subprocess.run(
        [sys.executable, "-m", "app.cli", "disposition", "report", "--today", TODAY.isoformat()],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert "DESTROY request 2020-0007 files  EX-PRR-01  due 2023-01-10" in out.stdout
    assert "keep    request 2026-0031 files  EX-PRR-01  due 2029-06-01" in out.stdout
    assert "FLAG request 2026-0031: response package" in out.stdout
    assert f"destroyed post(s) {world.post}" in out.stdout
    unset = subprocess.run(
        [sys.executable, "-m", "app.cli", "disposition", "report", "--today", TODAY.isoformat()],
        capture_output=True,
        text=True,
        env={**env, "POSTVAULT_REQUEST_FILES_SERIES": ""},
        cwd=ROOT,
        check=False,
    )
    assert "request files (response packages, redacted copies) have no series" in unset.stdout
