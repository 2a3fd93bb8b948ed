"""Snapshots made from the database and the store, re-rendering, and fixity checks."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import logging
import os
import stat

import pikepdf
import pytest
from sqlalchemy import select, update

from app.audit.models import AuditEvent
from app.classification.models import Classification
from app.config import Settings
from app.db import Database
from app.errors import Conflict
from app.posts.models import CapturedVersion, VersionKind
from app.retention.models import RetentionAssignment
from app.snapshots import service
from app.snapshots.models import Snapshot
from app.snapshots.pdfa_check import check_pdfa
from app.snapshots.render import render_snapshot
from app.snapshots.version import RENDERER_VERSION
from app.storage import fixity
from app.storage.local import LocalStore
from app.storage.models import FixityCheck, StoredObject
from app.storage.service import put_object
from tests.factories import bluesky_capture, mastodon_capture
from tests.snapshots.conftest import ArchivePost
from tests.snapshots.test_render import page_text


def _tamper(store: LocalStore, key: str) -> None:
    path = store.path_for(key)
    os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _embedded_source(pdf: bytes) -> bytes:
    with pikepdf.open(io.BytesIO(pdf)) as document:
        data: bytes = document.attachments["source.json"].get_file().read_bytes()
        return data


def test_snapshot_version_stores_records_and_audits_a_pdfa_file(
    db: Database, store: LocalStore, archive_post: ArchivePost
) -> None:
    archived = archive_post()
    version_id = archived.version_ids[0]
    with db.session() as session:
        session.add(
            Classification(
                version_id=version_id,
                label="record",
                rule_id="city_business",
                reasons=["announces a road closure"],
                classifier_version="1",
                config_hash="0" * 64,
            )
        )
        session.add(
            RetentionAssignment(
                post_id=archived.post_id,
                label="record",
                schedule_id="wi-example",
                schedule_version="1",
                series_code="GS50-01-12",
                retention="EVT+2Y",
                due_on=dt.date(2034, 6, 1),
                whs_notice="required",
                disposition="destroy",
            )
        )
        session.flush()
        snapshot = service.snapshot_version(
            session, store=store, version_id=version_id, renderer=render_snapshot
        )
        version = session.get(CapturedVersion, version_id)
        assert version is not None
        stored = session.get(StoredObject, snapshot.sha256)
        assert stored is not None
        assert (stored.kind, stored.mime_type, stored.size) == (
            "snapshot",
            "application/pdf",
            snapshot.size,
        )
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "snapshot.created")
        ).all()
        assert [e.object_id for e in events] == [str(snapshot.id)]
        assert events[0].details["renderer_version"] == RENDERER_VERSION
        source_sha256 = version.source_sha256
    assert snapshot.is_current
    assert snapshot.renderer_version == RENDERER_VERSION
    pdf = store.get(snapshot.sha256)
    assert len(pdf) == snapshot.size
    assert check_pdfa(pdf) == []
    assert hashlib.sha256(_embedded_source(pdf)).hexdigest() == source_sha256
    text = page_text(pdf)
    assert "city_business" in text
    assert "announces a road closure" in text
    assert "due 2034-06-01" in text
    assert "version 1 of 1" in text


def test_snapshotting_unchanged_input_again_keeps_the_snapshot(
    db: Database, store: LocalStore, archive_post: ArchivePost
) -> None:
    version_id = archive_post().version_ids[0]
    with db.session() as session:
        first = service.snapshot_version(
            session, store=store, version_id=version_id, renderer=render_snapshot
        )
        again = service.snapshot_version(
            session, store=store, version_id=version_id, renderer=render_snapshot
        )
        assert again.id == first.id
        created = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "snapshot.created")
        ).all()
        assert len(created) == 1


def test_a_new_classification_makes_a_new_current_snapshot_and_keeps_the_old(
    db: Database, store: LocalStore, archive_post: ArchivePost
) -> None:
    version_id = archive_post().version_ids[0]
    with db.session() as session:
        first = service.snapshot_version(
            session, store=store, version_id=version_id, renderer=render_snapshot
        )
        session.add(
            Classification(
                version_id=version_id,
                label="secondary_copy",
                rule_id="copy_of_city_page",
                reasons=["the city page posted it first"],
                classifier_version="1",
                config_hash="0" * 64,
            )
        )
        session.flush()
        second = service.snapshot_version(
            session, store=store, version_id=version_id, renderer=render_snapshot
        )
        session.refresh(first)
        assert second.id != first.id
        assert second.is_current
        assert not first.is_current
        assert store.exists(first.sha256)
        assert "copy_of_city_page" in page_text(store.get(second.sha256))


def test_versions_of_a_post_are_numbered_and_a_removal_shows_the_last_content(
    db: Database, store: LocalStore, archive_post: ArchivePost
) -> None:
    first = bluesky_capture(image_kind="jpeg")
    edited_post = first[0].model_copy(update={"text": "Detour map attached (updated)"})
    archived = archive_post(
        [first, (edited_post, first[1]), first],
        kinds=[VersionKind.capture, VersionKind.capture, VersionKind.removal],
    )
    with db.session() as session:
        pdfs = [
            store.get(
                service.snapshot_version(
                    session, store=store, version_id=vid, renderer=render_snapshot
                ).sha256
            )
            for vid in archived.version_ids
        ]
    assert "version 1 of 3" in page_text(pdfs[0])
    second = page_text(pdfs[1])
    assert "Detour map attached (updated)" in second
    assert "+ v2" in second  # what changed since version 1
    removal = page_text(pdfs[2])
    assert "This post was removed from Bluesky." in removal
    assert "the post was deleted" in removal
    assert "Detour map attached (updated)" in removal  # version 2's content, the last seen
    assert check_pdfa(pdfs[2]) == []


def test_damaged_media_stops_the_snapshot(
    db: Database, store: LocalStore, archive_post: ArchivePost
) -> None:
    post, media = bluesky_capture(image_kind="jpeg")
    version_id = archive_post([(post, media)]).version_ids[0]
    _tamper(store, media[0].sha256)
    with db.session() as session, pytest.raises(service.SnapshotUnavailable, match="intact"):
        service.snapshot_version(
            session, store=store, version_id=version_id, renderer=render_snapshot
        )


def test_a_disposed_version_is_not_rendered(
    db: Database, store: LocalStore, archive_post: ArchivePost
) -> None:
    version_id = archive_post().version_ids[0]
    with db.session() as session:
        session.execute(
            update(CapturedVersion)
            .where(CapturedVersion.id == version_id)
            .values(normalized=None, source_json=None)
        )
        with pytest.raises(Conflict, match="disposed"):
            service.snapshot_version(
                session, store=store, version_id=version_id, renderer=render_snapshot
            )


def test_rerender_makes_new_snapshots_of_outdated_ones_and_keeps_the_old(
    db: Database, store: LocalStore, archive_post: ArchivePost
) -> None:
    one = archive_post().version_ids[0]
    two = archive_post([mastodon_capture()]).version_ids[0]
    with db.session() as session:
        # A snapshot from an earlier template: other bytes, another renderer version.
        earlier = render_snapshot(
            service.build_view(session, store=store, version_id=one).model_copy(
                update={"notice": "rendered by an earlier template"}
            )
        )
        stored = put_object(session, store, earlier, mime_type="application/pdf", kind="snapshot")
        session.add(
            Snapshot(
                version_id=one, sha256=stored.sha256, size=len(earlier), renderer_version="0+old"
            )
        )
        session.flush()
        assert service.versions_to_render(session) == [one, two]
        report = service.rerender_all(
            session, store=store, render_many=service._render_here, outdated_only=True
        )
        assert (report.rendered, report.unchanged, report.failed) == (2, 0, [])
        assert service.versions_to_render(session) == []
        rows = session.scalars(
            select(Snapshot).where(Snapshot.version_id == one).order_by(Snapshot.id)
        ).all()
        assert [(r.renderer_version, r.is_current) for r in rows] == [
            ("0+old", False),
            (RENDERER_VERSION, True),
        ]
        source_sha256 = session.get(CapturedVersion, one).source_sha256  # type: ignore[union-attr]
        again = service.rerender_all(
            session, store=store, render_many=service._render_here, outdated_only=False
        )
        assert (again.rendered, again.unchanged) == (0, 2)
    for row in rows:
        pdf = store.get(row.sha256)
        assert hashlib.sha256(_embedded_source(pdf)).hexdigest() == source_sha256


def test_the_render_pool_renders_the_same_bytes_as_this_process(
    db: Database, store: LocalStore, archive_post: ArchivePost, settings: Settings
) -> None:
    version_id = archive_post().version_ids[0]
    pool_settings = settings.model_copy(update={"render_workers": 1})
    with db.session() as session:
        view = service.build_view(session, store=store, version_id=version_id)
        snapshot = service.snapshot_version(
            session, store=store, version_id=version_id, settings=pool_settings
        )
    assert store.get(snapshot.sha256) == render_snapshot(view)


def test_fixity_records_every_check_and_logs_damage_at_error(
    db: Database,
    store: LocalStore,
    archive_post: ArchivePost,
    caplog: pytest.LogCaptureFixture,
) -> None:
    post, media = bluesky_capture(image_kind="jpeg")
    version_id = archive_post([(post, media)]).version_ids[0]
    with db.session() as session:
        snapshot = service.snapshot_version(
            session, store=store, version_id=version_id, renderer=render_snapshot
        )
        snapshot_key = snapshot.sha256
    with db.session() as session:
        clean = fixity.check_fixity(session, store=store)
    assert (clean.checked, clean.ok, clean.problems) == (3, 3, [])

    _tamper(store, media[0].sha256)
    missing = store.path_for(snapshot_key)
    os.chmod(missing, stat.S_IRUSR | stat.S_IWUSR)
    missing.unlink()
    with caplog.at_level(logging.ERROR, logger="postvault.snapshots"), db.session() as session:
        report = fixity.check_fixity(session, store=store)
    assert report.checked == 3
    assert report.ok == 1
    assert [(p.sha256, p.kind) for p in report.mismatched] == [(media[0].sha256, "media")]
    assert [(p.sha256, p.kind) for p in report.missing] == [(snapshot_key, "snapshot")]
    logged = " ".join(r.getMessage() for r in caplog.records if r.levelno == logging.ERROR)
    assert media[0].sha256 in logged
    assert snapshot_key in logged
    with db.session() as session:
        checks = session.scalars(select(FixityCheck).order_by(FixityCheck.id)).all()
        assert len(checks) == 6
        failed = {(c.sha256, c.problem) for c in checks if not c.ok}
        assert failed == {(media[0].sha256, "mismatch"), (snapshot_key, "missing")}
        audit = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "fixity.checked").order_by(AuditEvent.id)
        ).all()
        assert audit[-1].details["missing"] == [snapshot_key]
        assert audit[-1].details["mismatched"] == [media[0].sha256]


def test_fixity_with_an_interval_checks_only_objects_not_checked_lately(
    db: Database, store: LocalStore, archive_post: ArchivePost
) -> None:
    archive_post()
    week = dt.timedelta(days=7)
    with db.session() as session:
        first = fixity.check_fixity(session, store=store, older_than=week)
    with db.session() as session:
        second = fixity.check_fixity(session, store=store, older_than=week)
        assert (first.checked, second.checked) == (2, 0)
        session.execute(
            update(FixityCheck).values(checked_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=8))
        )
        third = fixity.check_fixity(session, store=store, older_than=week)
        assert third.checked == 2
