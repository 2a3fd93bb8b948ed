"""GET /api/v1/posts/{id}/versions/{n}/snapshot.pdf and GET /api/v1/fixity."""

from __future__ import annotations

import hashlib
import os
import stat

from fastapi.testclient import TestClient
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.db import Database
from app.snapshots import service
from app.snapshots.pdfa_check import check_pdfa
from app.snapshots.render import render_snapshot
from app.storage import fixity
from app.storage.local import LocalStore
from tests.conftest import MakePerson
from tests.snapshots.conftest import Archived, ArchivePost


def _snapshotted(
    db: Database, store: LocalStore, archive_post: ArchivePost
) -> tuple[Archived, str]:
    archived = archive_post()
    with db.session() as session:
        snapshot = service.snapshot_version(
            session, store=store, version_id=archived.version_ids[0], renderer=render_snapshot
        )
    return archived, snapshot.sha256


def test_the_owner_gets_the_verified_pdf_with_its_hash_and_the_view_is_audited(
    client: TestClient, db: Database, store: LocalStore, archive_post: ArchivePost
) -> None:
    archived, sha256 = _snapshotted(db, store, archive_post)
    response = client.get(
        f"/api/v1/posts/{archived.post_id}/versions/1/snapshot.pdf", headers=archived.owner.headers
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["x-content-sha256"] == sha256
    assert response.headers["etag"] == f'"{sha256}"'
    assert response.headers["content-disposition"].startswith("inline;")
    assert hashlib.sha256(response.content).hexdigest() == sha256
    assert check_pdfa(response.content) == []
    download = client.get(
        f"/api/v1/posts/{archived.post_id}/versions/1/snapshot.pdf?download=true",
        headers=archived.owner.headers,
    )
    assert download.headers["content-disposition"].startswith("attachment;")
    with db.session() as session:
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "snapshot.viewed").order_by(AuditEvent.id)
        ).all()
    assert [(e.actor_id, e.details["disposition"]) for e in events] == [
        (archived.owner.user.id, "inline"),
        (archived.owner.user.id, "attachment"),
    ]


def test_the_snapshot_is_authorised_as_the_post_is(
    client: TestClient,
    db: Database,
    store: LocalStore,
    archive_post: ArchivePost,
    make_person: MakePerson,
) -> None:
    archived, _ = _snapshotted(db, store, archive_post)
    url = f"/api/v1/posts/{archived.post_id}/versions/1/snapshot.pdf"
    assert client.get(url).status_code == 401
    assert client.get(url, headers=make_person().headers).status_code == 404
    assert client.get(url, headers=make_person("records_officer").headers).status_code == 200


def test_unknown_versions_and_missing_snapshots_are_404(
    client: TestClient, archive_post: ArchivePost
) -> None:
    archived = archive_post()
    base = f"/api/v1/posts/{archived.post_id}/versions"
    headers = archived.owner.headers
    no_snapshot = client.get(f"{base}/1/snapshot.pdf", headers=headers)
    assert no_snapshot.status_code == 404
    assert "no snapshot yet" in no_snapshot.json()["detail"]
    assert client.get(f"{base}/7/snapshot.pdf", headers=headers).status_code == 404
    assert client.get(f"{base}/x/snapshot.pdf", headers=headers).status_code == 422
    assert (
        client.get("/api/v1/posts/999999/versions/1/snapshot.pdf", headers=headers).status_code
        == 404
    )


def test_a_damaged_snapshot_is_refused_not_served(
    client: TestClient, db: Database, store: LocalStore, archive_post: ArchivePost
) -> None:
    archived, sha256 = _snapshotted(db, store, archive_post)
    path = store.path_for(sha256)
    os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
    data = bytearray(path.read_bytes())
    data[100] ^= 0x01
    path.write_bytes(bytes(data))
    response = client.get(
        f"/api/v1/posts/{archived.post_id}/versions/1/snapshot.pdf", headers=archived.owner.headers
    )
    assert response.status_code == 409
    assert "does not match its recorded SHA-256" in response.json()["detail"]


def test_officers_see_fixity_failures_first_with_a_summary(
    client: TestClient,
    db: Database,
    store: LocalStore,
    archive_post: ArchivePost,
    make_person: MakePerson,
) -> None:
    archived, sha256 = _snapshotted(db, store, archive_post)
    officer = make_person("records_officer")
    empty = client.get("/api/v1/fixity", headers=officer.headers).json()
    assert empty["summary"]["never_checked"] == 3
    assert empty["items"] == []
    path = store.path_for(sha256)
    os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
    path.unlink()
    with db.session() as session:
        fixity.check_fixity(session, store=store)
    body = client.get("/api/v1/fixity", headers=officer.headers).json()
    assert body["summary"] == {
        "objects": 3,
        "checked": 3,
        "never_checked": 0,
        "ok": 2,
        "failing": 1,
        "last_checked_at": body["summary"]["last_checked_at"],
    }
    first = body["items"][0]
    assert (first["sha256"], first["ok"], first["problem"], first["kind"]) == (
        sha256,
        False,
        "missing",
        "snapshot",
    )
    assert [item["ok"] for item in body["items"]] == [False, True, True]
    assert client.get("/api/v1/fixity", headers=archived.owner.headers).status_code == 403
    assert client.get("/api/v1/fixity?limit=0", headers=officer.headers).status_code == 422
