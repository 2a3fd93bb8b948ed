"""Two-step disposition: propose, approve (with Historical Society notice), run; stubs,
certificates, shared media, holds placed after approval, and resuming after a crash."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pypdf
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.audit.models import AuditEvent
from app.audit.service import Actor
from app.auth.models import User
from app.db import Database
from app.errors import Conflict, Invalid
from app.posts.models import CapturedVersion, FlaggedPost
from app.retention import disposition, disposition_run, holds, report
from app.retention.models import DispositionBatch, DispositionItem
from app.storage.local import LocalStore
from app.storage.models import StoredObject
from tests.conftest import wipe
from tests.factories import SHARED_MEDIA, TODAY, TZ, World, build_world, object_keys_of

ACTOR = Actor.system("tests")


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "archive")


@pytest.fixture
def dispose_log() -> Iterator[list[int]]:
    calls: list[int] = []

    def hook(_session: Session, post_id: int) -> None:
        calls.append(post_id)

    disposition_run.ON_DISPOSE.append(hook)
    yield calls
    disposition_run.ON_DISPOSE.remove(hook)


def officer(session: Session, world: World) -> User:
    user = session.get(User, world.officer_id)
    assert user is not None
    return user


def propose_and_approve(db: Database, world: World, *, notice: dt.date | None) -> int:
    with db.session() as session:
        batch = disposition.propose_batch(session, actor=ACTOR, today=TODAY)
        assert batch is not None
        disposition.approve_batch(
            session,
            batch_id=batch.id,
            officer=officer(session, world),
            authority="City records schedule EX-SM, RDA EXAMPLE",
            whs_notice_on=notice,
            timezone=TZ,
        )
        if notice is not None:
            disposition.attach_whs_reply(
                session, batch_id=batch.id, officer=officer(session, world), reference="WHS 2026-88"
            )
        return batch.id


def files_in(store: LocalStore) -> set[str]:
    return set(store.keys())


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages)


def test_propose_picks_due_unheld_posts_only(db: Database, store: LocalStore) -> None:
    world = build_world(db, store)
    with db.session() as session:
        batch = disposition.propose_batch(session, actor=ACTOR, today=TODAY)
        assert batch is not None
        items = disposition.batch_items(session, batch.id)
        assert {world.name_of(i.post_id) for i in items} == {"a", "b", "f"}
        assert disposition.whs_series(session, batch.id) == ["EX-SM-01"]
        # Proposing again finds nothing new: the due posts are in an open batch.
        assert disposition.propose_batch(session, actor=ACTOR, today=TODAY) is None


def test_whs_notice_gates_the_run(db: Database, store: LocalStore) -> None:
    world = build_world(db, store)
    with db.session() as session:
        batch = disposition.propose_batch(session, actor=ACTOR, today=TODAY)
        assert batch is not None
        batch_id = batch.id
        with pytest.raises(Invalid, match="whs_notice_on"):
            disposition.approve_batch(
                session, batch_id=batch_id, officer=officer(session, world), authority="x"
            )
        assert "only an approved batch runs" in (
            disposition.run_blocker(session, batch, today=TODAY)[0] or ""
        )
        disposition.approve_batch(
            session,
            batch_id=batch_id,
            officer=officer(session, world),
            authority="x",
            whs_notice_on=TODAY - dt.timedelta(days=10),
            timezone=TZ,
        )
    with pytest.raises(Conflict, match="waits 60 days"):
        disposition_run.run_batch(db, batch_id=batch_id, store=store, actor=ACTOR, today=TODAY)
    later = TODAY + dt.timedelta(days=50)
    with pytest.raises(Conflict, match="reply or waiver"):
        disposition_run.run_batch(db, batch_id=batch_id, store=store, actor=ACTOR, today=later)
    with db.session() as session:
        disposition.attach_whs_reply(
            session, batch_id=batch_id, officer=officer(session, world), reference="WHS waiver 12"
        )
    result = disposition_run.run_batch(db, batch_id=batch_id, store=store, actor=ACTOR, today=later)
    assert result.status == "completed"
    assert {world.name_of(p) for p in result.destroyed} == {"a", "b", "f"}


def test_run_destroys_every_copy_keeps_a_stub_and_certifies(
    db: Database, store: LocalStore, dispose_log: list[int]
) -> None:
    world = build_world(db, store)
    with db.session() as session:
        keys = {name: object_keys_of(session, pid) for name, pid in world.posts.items()}
    shared = next(iter(keys["a"] & keys["c"]))
    # a: 2 snapshots, its own media, the shared media, and 2 stored source JSON copies.
    assert len(keys["a"]) == 6
    batch_id = propose_and_approve(db, world, notice=TODAY - dt.timedelta(days=61))
    # A hold placed between approval and run stops that post.
    with db.session() as session:
        late_hold = holds.place_hold(
            session,
            officer=officer(session, world),
            kind="audit",
            reason="state audit",
            authority="LAB 2026-3",
            post_ids=[world.posts["b"]],
        )
        late_hold_id = late_hold.id

    result = disposition_run.run_batch(
        db, batch_id=batch_id, store=store, actor=ACTOR, today=TODAY, timezone=TZ
    )
    assert result.status == "completed"
    assert {world.name_of(p) for p in result.destroyed} == {"a", "f"}
    assert list(result.skipped) == [world.posts["b"]]
    assert f"hold {late_hold_id} (audit" in result.skipped[world.posts["b"]]
    assert set(dispose_log) == {world.posts["a"], world.posts["f"]}

    remaining = files_in(store)
    # No file of a destroyed post is left, except media a kept post (c) still uses.
    for name in ("a", "f"):
        assert (keys[name] - {shared}) & remaining == set()
    assert shared in remaining
    for name in ("b", "c", "d", "e"):
        assert keys[name] <= remaining
    assert store.get(shared) == SHARED_MEDIA

    with db.session() as session:
        for name in ("a", "f"):
            post = session.get(FlaggedPost, world.posts[name])
            assert post is not None
            assert post.status == "disposed"
            assert post.disposed_at is not None
            assert post.next_poll_at is None
            for version in post.versions:
                assert version.source_json is None
                assert version.normalized is None
                assert version.text is None
            item = session.scalar(select(DispositionItem).where(DispositionItem.post_id == post.id))
            assert item is not None
            assert item.stub is not None
            stub: dict[str, Any] = item.stub
            assert "url" not in stub
            assert post.url == f"disposed:{post.platform}:{post.id}"
            assert len(stub["url_sha256"]) == 64
            assert stub["authority"] == "City records schedule EX-SM, RDA EXAMPLE"
            assert stub["approver"].startswith("Records_Officer")
            assert [v["content_hash"] for v in stub["versions"]] == [
                v.content_hash for v in post.versions
            ]
            assert shared not in stub["destroyed_objects"]
            for key in stub["destroyed_objects"]:
                obj = session.get(StoredObject, key)
                assert obj is not None
                assert obj.destroyed_at is not None
        assert session.get(StoredObject, shared).destroyed_at is None  # type: ignore[union-attr]
        kept_text = session.scalar(
            select(CapturedVersion.text).where(CapturedVersion.post_id == world.posts["b"])
        )
        assert kept_text is not None
        batch = session.get(DispositionBatch, batch_id)
        assert batch is not None
        assert batch.certificate_sha256 is not None
        certificate = store.get(batch.certificate_sha256)
        cert_row = session.get(StoredObject, batch.certificate_sha256)
        assert cert_row is not None
        assert cert_row.kind == "certificate"
        destroyed_events = session.scalar(
            select(func.count()).where(AuditEvent.action == "disposition.destroyed")
        )
        assert destroyed_events == 2
        stubs = {i.post_id: i.stub for i in disposition.batch_items(session, batch_id) if i.stub}
    text = pdf_text(certificate)
    assert "Certificate of destruction" in text
    assert "WHS 2026-88" in text
    assert "City records schedule EX-SM" in text
    for name in ("a", "f"):
        stub = stubs[world.posts[name]]
        assert stub["url_sha256"][:16] in text.replace("\n", "")
        for version in stub["versions"]:
            assert version["content_hash"][:16] in text.replace("\n", "")
    for name in ("b", "c", "d", "e"):
        with db.session() as session:
            url = session.get(FlaggedPost, world.posts[name]).url  # type: ignore[union-attr]
        assert url not in text.replace("\n", "")
    assert "Posts destroyed 2" in text.replace("\n", " ")

    # Running a completed batch again changes nothing.
    again = disposition_run.run_batch(db, batch_id=batch_id, store=store, actor=ACTOR, today=TODAY)
    assert again.certificate_sha256 == result.certificate_sha256


def test_nothing_is_destroyed_before_its_due_date(db: Database, store: LocalStore) -> None:
    world = build_world(db, store)
    batch_id = propose_and_approve(db, world, notice=TODAY - dt.timedelta(days=61))
    # The post is put back online... no: it is reclassified as a record after approval, so its
    # due date moves past the run date.
    with db.session() as session:
        from app.classification.models import ClassificationOverride

        session.add(
            ClassificationOverride(
                post_id=world.posts["a"],
                label="record",
                reason="it answers a resident",
                officer_id=world.officer_id,
            )
        )
        session.flush()
        from tests.factories import assign

        post = session.get(FlaggedPost, world.posts["a"])
        assert post is not None
        assign(session, post)
    result = disposition_run.run_batch(db, batch_id=batch_id, store=store, actor=ACTOR, today=TODAY)
    assert world.posts["a"] not in result.destroyed
    assert "no longer due" in result.skipped[world.posts["a"]]
    # And a batch run "in the past" destroys nothing not yet due then.
    with db.session() as session:
        batch2 = disposition.propose_batch(session, actor=ACTOR, today=dt.date(2015, 5, 29))
        assert batch2 is None


def state_of(db: Database, store: LocalStore, world: World, batch_id: int) -> dict[str, Any]:
    """Everything the end state of a run should agree on, independent of ids and clocks."""
    with db.session() as session:
        posts = {}
        for name, pid in world.posts.items():
            post = session.get(FlaggedPost, pid)
            assert post is not None
            keys = object_keys_of(session, pid)
            item = session.scalar(
                select(DispositionItem).where(
                    DispositionItem.post_id == pid, DispositionItem.batch_id == batch_id
                )
            )
            destroyed_events = session.scalar(
                select(func.count()).where(
                    AuditEvent.action == "disposition.destroyed", AuditEvent.object_id == str(pid)
                )
            )
            posts[name] = {
                "status": post.status,
                "texts": [v.text for v in post.versions],
                "files_left": sorted(k in files_in(store) for k in keys),
                "item": (item.status, (item.skip_reason or "")[:20]) if item else None,
                "stub_keys": sorted((item.stub or {}).get("destroyed_objects", []))
                == sorted((item.stub or {}).get("destroyed_objects", []))
                if item
                else None,
                "destroyed_events": destroyed_events,
            }
        batch = session.get(DispositionBatch, batch_id)
        assert batch is not None
        live = set(
            session.scalars(select(StoredObject.sha256).where(StoredObject.destroyed_at.is_(None)))
        )
        on_disk = files_in(store)
        certificate = (
            pdf_text(store.get(batch.certificate_sha256)) if batch.certificate_sha256 else None
        )
        return {
            "posts": posts,
            "batch": batch.status,
            # No orphans: every file is a live object and every live object has its file.
            "orphans": sorted(on_disk - live),
            "missing": sorted(live - on_disk),
            "file_count": len(on_disk),
            "certificate_lines": len(certificate.splitlines()) if certificate else None,
        }


def test_a_run_interrupted_at_any_step_resumes_to_the_same_end_state(
    db: Database, tmp_path: Path
) -> None:
    def fresh(tag: str) -> tuple[World, LocalStore, int]:
        wipe(db)
        store = LocalStore(tmp_path / tag)
        world = build_world(db, store)
        return world, store, propose_and_approve(db, world, notice=TODAY - dt.timedelta(days=61))

    steps: list[str] = []
    world, store, batch_id = fresh("clean")
    disposition_run.run_batch(
        db, batch_id=batch_id, store=store, actor=ACTOR, today=TODAY, on_step=steps.append
    )
    expected = state_of(db, store, world, batch_id)
    assert expected["orphans"] == []
    assert expected["missing"] == []
    assert expected["batch"] == "completed"
    assert len(steps) > 8

    # A process that dies runs no except clause: a BaseException, so the run cannot mark the
    # batch failed (an Exception would, by design: see the failed-run test below).
    class Crash(BaseException):
        pass

    for k, step_name in enumerate(steps):
        world, store, batch_id = fresh(f"crash{k}")

        def crash_at(step: str, k: int = k) -> None:
            crash_at.count += 1  # type: ignore[attr-defined]
            if crash_at.count == k + 1:  # type: ignore[attr-defined]
                raise Crash(step)

        crash_at.count = 0  # type: ignore[attr-defined]
        with pytest.raises(Crash):
            disposition_run.run_batch(
                db, batch_id=batch_id, store=store, actor=ACTOR, today=TODAY, on_step=crash_at
            )
        disposition_run.run_batch(db, batch_id=batch_id, store=store, actor=ACTOR, today=TODAY)
        assert state_of(db, store, world, batch_id) == expected, f"crash after step {step_name}"


def test_a_failed_run_is_marked_failed_retried_and_each_try_is_in_the_history(
    db: Database, store: LocalStore
) -> None:
    world = build_world(db, store)
    batch_id = propose_and_approve(db, world, notice=TODAY - dt.timedelta(days=61))
    seen: list[int] = []

    def flaky(_session: Session, post_id: int) -> None:
        seen.append(post_id)
        if len(seen) == 1:
            raise RuntimeError("search index unavailable")

    disposition_run.ON_DISPOSE.append(flaky)
    try:
        failed = disposition_run.run_batch(
            db, batch_id=batch_id, store=store, actor=ACTOR, today=TODAY
        )
        assert failed.status == "failed"
        assert failed.error == "RuntimeError: search index unavailable"
        with db.session() as session:
            batch = session.get(DispositionBatch, batch_id)
            assert batch is not None
            assert (batch.status, batch.error) == ("failed", failed.error)
            # Neither the daily job nor a plain run picks a failed batch up: it waits.
            assert batch_id not in disposition.runnable_batch_ids(session, today=TODAY)
        with pytest.raises(Conflict, match="retry it"):
            disposition_run.run_batch(db, batch_id=batch_id, store=store, actor=ACTOR, today=TODAY)
        with db.session() as session:
            disposition_run.retry_batch(session, batch_id=batch_id, officer=officer(session, world))
        with db.session() as session, pytest.raises(Conflict, match="only a failed batch"):
            disposition_run.retry_batch(session, batch_id=batch_id, officer=officer(session, world))
        result = disposition_run.run_batch(
            db, batch_id=batch_id, store=store, actor=ACTOR, today=TODAY
        )
    finally:
        disposition_run.ON_DISPOSE.remove(flaky)
    assert result.status == "completed"
    assert result.error is None
    assert set(seen) == {world.posts["a"], world.posts["b"], world.posts["f"]}
    with db.session() as session:
        kept = object_keys_of(session, world.posts["c"])
        for name in ("a", "b", "f"):
            assert (object_keys_of(session, world.posts[name]) - kept) & set(store.keys()) == set()
        count = session.scalar(
            select(func.count()).where(AuditEvent.action == "disposition.destroyed")
        )
        history = [
            (a.number, a.outcome, a.error) for a in disposition_run.attempts_of(session, batch_id)
        ]
        detail = disposition.batch_out(
            session, disposition.get_batch(session, batch_id), today=TODAY
        )
        actions = list(
            session.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.object_type == "disposition_batch")
                .order_by(AuditEvent.id)
            )
        )
    assert count == 3
    assert history == [
        (1, "failed", "RuntimeError: search index unavailable"),
        (2, "completed", None),
    ]
    assert [(a.number, a.outcome) for a in detail.attempts] == [(1, "failed"), (2, "completed")]
    assert detail.status == "completed"
    assert detail.error is None
    assert actions[-3:] == ["disposition.failed", "disposition.retried", "disposition.completed"]


def test_report_prints_without_changing_anything(db: Database, store: LocalStore) -> None:
    world = build_world(db, store)
    with db.session() as session:
        before = session.scalar(select(func.count()).select_from(AuditEvent))
        lines = report.disposition_report(session, today=TODAY, until=dt.date(2027, 6, 1))
        after = session.scalar(select(func.count()).select_from(AuditEvent))
    assert before == after
    by_name = {world.name_of(line.post_id): line for line in lines}
    assert {n for n, line in by_name.items() if line.would_destroy} == {"a", "b", "e", "f"}
    assert "held by hold" in by_name["d"].state
    assert "never due yet" in by_name["c"].state
    assert by_name["e"].due_on == dt.date(2027, 1, 30)
