"""Transfer to the archives: a transfer batch goes through the two-step approval, its run
builds a BagIt package (validated here with the `bagit` library) holding every item's PDF/A
snapshots, source JSON, media, web archives, metadata and audit events; the archives' receipt
is recorded and audited, then the local copies are destroyed through the scrub path, with a
certificate naming the transfer and the receipt. Held posts are never transferred or
destroyed."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import bagit
import pypdf
import pytest
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.audit.service import Actor
from app.auth.models import User
from app.config import Settings
from app.db import Database
from app.errors import Conflict, Forbidden, Invalid, NotFound
from app.posts.models import CapturedVersion, FlaggedPost, PostStatus
from app.retention import disposition, disposition_run, holds, transfer
from app.retention.bag import BagError, check_bag_zip
from app.retention.calendar import local_today
from app.retention.models import BatchKind, BatchStatus, DispositionItem, ItemStatus
from app.storage.local import LocalStore
from app.storage.models import StoredObject
from tests.factories import TZ, object_keys_of
from tests.retention.transfer_world import (
    TODAY,
    TOKEN,
    WACZ,
    build_transfer_world,
    transfer_schedules,
    unzip,
)

ACTOR = Actor.system("tests")


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "archive")


def user(db: Database, user_id: int) -> User:
    with db.session() as session:
        found = session.get(User, user_id)
        assert found is not None
        session.expunge(found)
        return found


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages)


def test_transfer_batch_exports_a_valid_bag_then_disposes_after_receipt(
    db: Database, store: LocalStore, tmp_path: Path
) -> None:
    world = build_transfer_world(db, store, transfer_schedules(tmp_path / "schedules"))
    t1, t2, t3 = world.posts["t1"], world.posts["t2"], world.posts["t3"]
    with db.session() as session:
        t1_keys = object_keys_of(session, t1)
        t3_keys = object_keys_of(session, t3)
        t2_keys = object_keys_of(session, t2)
        # A destruction batch never takes a transfer series; the review posts wait for review.
        destroy = disposition.propose_batch(session, actor=ACTOR, today=TODAY)
        assert destroy is not None
        assert [i.post_id for i in disposition.batch_items(session, destroy.id)] == [
            world.posts["x"]
        ]
        batch = transfer.propose_transfer_batch(session, actor=ACTOR, today=TODAY)
        assert batch is not None
        assert batch.kind == BatchKind.transfer
        batch_id = batch.id
        # The held post is never proposed.
        assert {i.post_id for i in disposition.batch_items(session, batch_id)} == {t1, t3}
        assert transfer.propose_transfer_batch(session, actor=ACTOR, today=TODAY) is None
        # Separation of duties: an admin cannot approve a transfer.
        with pytest.raises(Forbidden):
            disposition.approve_batch(
                session, batch_id=batch_id, officer=user(db, world.admin_id), authority="x"
            )
    with db.session() as session:
        disposition.approve_batch(
            session,
            batch_id=batch_id,
            officer=user(db, world.officer_id),
            authority="Schedule test-transfer 2026.7, series T-HIST-01",
            timezone=TZ,
        )

    result = disposition_run.run_batch(
        db, batch_id=batch_id, store=store, actor=ACTOR, today=TODAY, timezone=TZ
    )
    assert result.status == BatchStatus.awaiting_receipt
    assert sorted(result.exported) == sorted([t1, t3])
    assert result.destroyed == []
    assert result.package_sha256 is not None
    package_sha = result.package_sha256
    # Nothing is destroyed before the archives confirm.
    assert t1_keys | t3_keys <= set(store.keys())

    with db.session() as session:
        data = transfer.package_bytes(session, batch_id=batch_id, store=store)
        # Built again (a resumed run), the package has the same bytes: one object.
        assert (
            transfer.build_package(session, store, disposition.get_batch(session, batch_id)) == data
        )
    assert hashlib.sha256(data).hexdigest() == package_sha
    bag_dir = unzip(data, tmp_path / "bag")
    bag = bagit.Bag(str(bag_dir))
    bag.validate()  # every manifest hash, Payload-Oxum, tag manifest
    assert bag.info["External-Identifier"] == f"PostVault transfer batch {batch_id}"
    payload = set(bag.payload_files())
    base = f"data/posts/{t1}"
    assert f"data/posts/{t2}/metadata.json" not in payload  # held: never transferred
    metadata = json.loads((bag_dir / base / "metadata.json").read_text())
    assert metadata["series"]["series_code"] == "T-HIST-01"
    assert metadata["series"]["schedule_version"] == "2026.7"
    assert metadata["classification"]["versions"][0]["label"] == "record"
    assert metadata["provenance"]["platform"] == "bluesky"
    assert metadata["holds"] == []
    versions = metadata["versions"]
    assert [v["number"] for v in versions] == [1, 2]
    # Source JSON, byte for byte, hashing to the recorded source_sha256.
    source = (bag_dir / versions[0]["files"]["source"]).read_bytes()
    assert hashlib.sha256(source).hexdigest() == versions[0]["source_sha256"]
    # The real PDF/A snapshot reads as a PDF; the WACZ is the web archive, intact.
    snaps = versions[0]["files"]["snapshots"]
    real = [s for s in snaps if b"%%EOF" in (bag_dir / s["path"]).read_bytes()]
    assert len(real) == 1
    # Its RFC 3161 token travels beside it.
    assert real[0]["timestamp"]["serial_number"] == "42"
    assert (bag_dir / real[0]["timestamp"]["token"]).read_bytes() == TOKEN
    assert any(
        "Council adopts the budget" in pdf_text((bag_dir / s["path"]).read_bytes()) for s in real
    )
    media = {m["role"]: m for m in versions[0]["files"]["media"]}
    assert (bag_dir / media["wacz"]["path"]).read_bytes() == WACZ.read_bytes()
    assert media["wacz"]["path"].endswith(".wacz")
    assert (bag_dir / media["attachment"]["path"]).read_bytes() == b"\x89PNG photo of the council"
    events = [
        json.loads(line)
        for line in (bag_dir / base / "audit-events.jsonl").read_text().splitlines()
    ]
    actions = [e["action"] for e in events]
    assert "retention.assigned" in actions
    assert "transfer.exported" in actions
    transfer_json = json.loads((bag_dir / "data/transfer.json").read_text())
    assert {p["post_id"] for p in transfer_json["posts"]} == {t1, t3}

    # A hold placed after the export keeps t3's local copy.
    with db.session() as session:
        holds.place_hold(
            session,
            officer=user(db, world.officer_id),
            kind="audit",
            reason="state audit",
            authority="LAB 2026-3",
            post_ids=[t3],
        )
    with db.session() as session:
        with pytest.raises(Conflict, match="waits for the archives' receipt"):
            disposition_run.run_batch(db, batch_id=batch_id, store=store, actor=ACTOR, today=TODAY)
    with db.session() as session, pytest.raises(Invalid, match="send the package again"):
        transfer.record_receipt(
            session,
            batch_id=batch_id,
            officer=user(db, world.officer_id),
            reference="WHS-ACC-2026-114",
            received_on=local_today(TZ),
            received_by="State Archivist",
            package_sha256="0" * 64,
            timezone=TZ,
        )
    with db.session() as session, pytest.raises(Forbidden):
        transfer.record_receipt(
            session,
            batch_id=batch_id,
            officer=user(db, world.admin_id),
            reference="WHS-ACC-2026-114",
            received_on=local_today(TZ),
            received_by="State Archivist",
            package_sha256=package_sha,
            timezone=TZ,
        )
    with db.session() as session:
        transfer.record_receipt(
            session,
            batch_id=batch_id,
            officer=user(db, world.officer_id),
            reference="WHS-ACC-2026-114",
            received_on=local_today(TZ),
            received_by="State Archivist",
            package_sha256=package_sha,
            notes="accessioned as series 2026/114",
            timezone=TZ,
        )
    done = disposition_run.run_batch(
        db, batch_id=batch_id, store=store, actor=ACTOR, today=TODAY, timezone=TZ
    )
    assert done.status == BatchStatus.completed, done.error
    assert done.destroyed == [t1]
    assert "local copy is kept" in done.skipped[t3]
    assert "WHS-ACC-2026-114" in done.skipped[t3]
    # Run again: nothing changes (idempotent).
    again = disposition_run.run_batch(
        db, batch_id=batch_id, store=store, actor=ACTOR, today=TODAY, timezone=TZ
    )
    assert again.destroyed == [t1]
    assert again.certificate_sha256 == done.certificate_sha256

    keys = set(store.keys())
    assert not (t1_keys & keys)  # t1's local copies are gone
    assert package_sha not in keys  # and so is the package
    assert t3_keys <= keys
    assert t2_keys <= keys
    with db.session() as session:
        post = session.get(FlaggedPost, t1)
        assert post is not None
        assert post.status == PostStatus.disposed
        version = session.scalars(
            select(CapturedVersion).where(CapturedVersion.post_id == t1)
        ).first()
        assert version is not None
        assert version.text is None
        assert version.source_json is None
        assert session.get(FlaggedPost, t3).status != PostStatus.disposed  # type: ignore[union-attr]
        item = session.scalar(
            select(DispositionItem).where(
                DispositionItem.batch_id == batch_id, DispositionItem.post_id == t1
            )
        )
        assert item is not None
        assert item.status == ItemStatus.transferred
        assert item.stub is not None
        assert item.stub["transferred"]["receipt_reference"] == "WHS-ACC-2026-114"
        assert item.stub["transferred"]["package_sha256"] == package_sha
        obj = session.get(StoredObject, package_sha)
        assert obj is not None
        assert obj.destroyed_at is not None
        with pytest.raises(NotFound, match="destroyed"):
            transfer.package_bytes(session, batch_id=batch_id, store=store)
        receipt = session.scalar(
            select(AuditEvent).where(AuditEvent.action == "transfer.receipt_recorded")
        )
        assert receipt is not None
        assert receipt.details["reference"] == "WHS-ACC-2026-114"
        assert receipt.details["received_by"] == "State Archivist"
        assert receipt.details["package_sha256"] == package_sha
        certificate = disposition.certificate_bytes(session, batch_id=batch_id, store=store)
    text = pdf_text(certificate)
    assert "Certificate of transfer" in text
    assert "WHS-ACC-2026-114" in text
    assert package_sha[:20] in text.replace("\n", "")


def test_a_run_that_crashes_after_storing_the_package_resumes_with_the_same_package(
    db: Database, store: LocalStore, tmp_path: Path
) -> None:
    world = build_transfer_world(db, store, transfer_schedules(tmp_path / "schedules"))
    with db.session() as session:
        batch = transfer.propose_transfer_batch(session, actor=ACTOR, today=TODAY)
        assert batch is not None
        batch_id = batch.id
        disposition.approve_batch(
            session, batch_id=batch_id, officer=user(db, world.officer_id), authority="x"
        )

    def crash(step: str) -> None:
        if step == "decided":
            raise RuntimeError("power cut")

    failed = disposition_run.run_batch(
        db, batch_id=batch_id, store=store, actor=ACTOR, today=TODAY, on_step=crash
    )
    assert failed.status == BatchStatus.failed
    assert "power cut" in (failed.error or "")
    with db.session() as session:
        disposition_run.retry_batch(session, batch_id=batch_id, officer=user(db, world.officer_id))
    resumed = disposition_run.run_batch(
        db, batch_id=batch_id, store=store, actor=ACTOR, today=TODAY
    )
    assert resumed.status == BatchStatus.awaiting_receipt
    with db.session() as session:
        data = transfer.package_bytes(session, batch_id=batch_id, store=store)
        attempts = disposition_run.attempts_of(session, batch_id)
    assert [a.outcome for a in attempts] == ["failed", "completed"]
    check_bag_zip(data)
    bagit.Bag(str(unzip(data, tmp_path / "bag"))).validate()


def test_a_damaged_package_is_caught_by_the_check(tmp_path: Path) -> None:
    from app.retention.bag import build_bag_zip

    good = build_bag_zip("b", {"data/a.txt": b"hello"}, {"Source-Organization": "City"})
    assert check_bag_zip(good) == {"data/a.txt": hashlib.sha256(b"hello").hexdigest()}
    bagit.Bag(str(unzip(good, tmp_path / "ok"))).validate()
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(good)) as src, zipfile.ZipFile(out, "w") as dst:
        for name in src.namelist():
            dst.writestr(name, b"HELLO" if name.endswith("a.txt") else src.read(name))
    with pytest.raises(BagError, match="does not match"):
        check_bag_zip(out.getvalue())
    with pytest.raises(bagit.BagValidationError):
        bagit.Bag(str(unzip(out.getvalue(), tmp_path / "bad"))).validate()


def test_the_daily_job_proposes_transfer_and_destruction_batches(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    from app.retention.jobs import disposition_job

    store = LocalStore(settings.archive_dir)
    world = build_transfer_world(db, store, transfer_schedules(tmp_path / "schedules"))
    disposition_job(db, settings.model_copy(update={"request_files_series": "EX-PRR-01"}))
    with db.session() as session:
        batches, _ = disposition.list_batches(session)
        kinds = {b.kind: b for b in batches}
        assert set(kinds) == {BatchKind.destruction, BatchKind.transfer}
        assert {i.post_id for i in disposition.batch_items(session, kinds["transfer"].id)} == {
            world.posts["t1"],
            world.posts["t3"],
        }
        assert kinds["transfer"].proposed_by_id is None  # the system proposed it
