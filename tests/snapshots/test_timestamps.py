"""Trusted timestamps from a real TSA on loopback (`openssl ts -reply`, a test CA made here):
every new snapshot gets a token over its SHA-256, served as snapshot.tsr, verified by PostVault
and by `openssl ts -verify`; a TSA that is down or answers garbage never blocks a capture; a
package carries the tokens; `postvault verify` names an object whose token was altered."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.config import Settings
from app.db import Database
from app.platforms.collected import CollectedPost
from app.snapshots import service
from app.snapshots.models import Snapshot
from app.snapshots.render import render_snapshot
from app.snapshots.schemas import MediaFile
from app.storage.local import LocalStore
from app.storage.models import StoredObject
from app.storage.service import put_object
from app.timestamps import service as timestamps
from app.timestamps.models import TimestampStatus, TimestampToken
from tests.conftest import MakePerson
from tests.factories import bluesky_capture
from tests.snapshots.conftest import ArchivePost
from tests.snapshots.test_service import _tamper
from tests.test_serve import free_port
from tests.tsa import LoopbackTSA, make_test_ca, running_tsa
from tests.web.support import give_password, sign_in

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def tsa(tmp_path: Path) -> Iterator[LoopbackTSA]:
    with running_tsa(tmp_path / "tsa") as server:
        yield server


@pytest.fixture
def tsa_settings(settings: Settings, tsa: LoopbackTSA) -> Settings:
    return settings.model_copy(update={"tsa_url": tsa.url, "tsa_ca_file": tsa.ca_file})


def _post(text: str) -> list[tuple[CollectedPost, list[MediaFile]]]:
    """A version of its own (distinct text, so a distinct PDF with a token of its own)."""
    post, media = bluesky_capture(reply_count=1)
    return [(post.model_copy(update={"text": text}), media)]


def _snapshot(db: Database, store: LocalStore, settings: Settings, version_id: int) -> Snapshot:
    with db.session() as session:
        snapshot = service.snapshot_version(
            session, store=store, version_id=version_id, settings=settings, renderer=render_snapshot
        )
        session.expunge(snapshot)
        return snapshot


def _token(db: Database, sha256: str) -> TimestampToken:
    with db.session() as session:
        row = session.scalars(
            select(TimestampToken).where(TimestampToken.object_sha256 == sha256)
        ).one()
        session.expunge(row)
        return row


def test_a_new_snapshot_gets_a_token_over_its_sha256_verified_by_openssl_too(
    db: Database,
    store: LocalStore,
    tsa: LoopbackTSA,
    tsa_settings: Settings,
    archive_post: ArchivePost,
) -> None:
    archived = archive_post()
    snapshot = _snapshot(db, store, tsa_settings, archived.version_ids[0])
    token = _token(db, snapshot.sha256)
    assert token.status == TimestampStatus.stamped
    assert (token.object_kind, token.attempts, token.last_error) == ("snapshot", 1, None)
    assert token.gen_time is not None
    assert token.serial_number
    assert token.token_sha256 is not None
    reply = store.get(token.token_sha256)  # stored beside the object, verified on read
    assert reply == tsa.replies[-1]
    pdf = store.get(snapshot.sha256)
    assert tsa.verify_with_openssl(reply, pdf).startswith("Verification: OK")
    assert "Verification: OK" not in tsa.verify_with_openssl(reply, pdf + b"\n")
    with db.session() as session:
        kind = session.get(StoredObject, token.token_sha256)
        assert kind is not None
        assert kind.kind == "timestamp"
        stamped = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "timestamp.stamped")
        ).one()
        assert stamped.object_id == snapshot.sha256
    # The same input renders the same bytes: no second snapshot, no second token.
    again = _snapshot(db, store, tsa_settings, archived.version_ids[0])
    assert again.id == snapshot.id
    assert len(tsa.replies) == 1


def test_the_token_is_served_beside_the_pdf_for_exactly_its_bytes(
    client: TestClient,
    db: Database,
    store: LocalStore,
    tsa: LoopbackTSA,
    tsa_settings: Settings,
    archive_post: ArchivePost,
    make_person: MakePerson,
) -> None:
    archived = archive_post()
    _snapshot(db, store, tsa_settings, archived.version_ids[0])
    base = f"/api/v1/posts/{archived.post_id}/versions/1"
    pdf = client.get(f"{base}/snapshot.pdf", headers=archived.owner.headers)
    tsr = client.get(f"{base}/snapshot.tsr", headers=archived.owner.headers)
    assert tsr.status_code == 200, tsr.text
    assert tsr.headers["content-type"] == "application/timestamp-reply"
    assert tsr.headers["x-timestamped-sha256"] == hashlib.sha256(pdf.content).hexdigest()
    assert tsa.verify_with_openssl(tsr.content, pdf.content).startswith("Verification: OK")
    stranger = make_person()
    assert client.get(f"{base}/snapshot.tsr", headers=stranger.headers).status_code == 404
    assert client.get(f"{base}/snapshot.tsr").status_code == 401
    with db.session() as session:
        assert session.scalars(
            select(AuditEvent).where(AuditEvent.action == "timestamp.viewed")
        ).all()


@pytest.mark.parametrize(
    ("mode", "error"),
    [
        ("garbage", "not an RFC 3161 TimeStampResp"),
        ("error", "HTTP 500"),
        ("replay", "message imprint is not the object's SHA-256"),
        ("down", "could not be reached"),
    ],
)
def test_a_tsa_down_or_answering_garbage_never_blocks_a_capture_and_a_job_retries(
    client: TestClient,
    db: Database,
    store: LocalStore,
    tsa: LoopbackTSA,
    tsa_settings: Settings,
    archive_post: ArchivePost,
    mode: str,
    error: str,
) -> None:
    if mode == "replay":  # a valid token, signed, for other bytes: nonce and imprint differ
        with db.session() as session:
            put_object(session, store, b"other", mime_type="text/plain", kind="test")
            timestamps.timestamp_object(
                session, store=store, settings=tsa_settings, data=b"other", kind="test"
            )
    tsa.mode = mode
    down = tsa_settings.model_copy(update={"tsa_url": f"http://127.0.0.1:{free_port()}/tsa"})
    used = down if mode == "down" else tsa_settings
    archived = archive_post()
    snapshot = _snapshot(db, store, used, archived.version_ids[0])
    assert store.exists(snapshot.sha256)
    assert snapshot.is_current
    token = _token(db, snapshot.sha256)
    assert token.status == TimestampStatus.pending
    assert token.token_sha256 is None
    assert token.last_error is not None
    assert error in token.last_error
    answer = client.get(
        f"/api/v1/posts/{archived.post_id}/versions/1/snapshot.tsr",
        headers=archived.owner.headers,
    )
    assert answer.status_code == 404
    assert "pending" in answer.json()["detail"]
    if mode == "garbage":  # the post's page says so too
        give_password(db, archived.owner.user)
        sign_in(client, archived.owner.user.email)
        page = client.get(f"/posts/{archived.post_id}").text
        assert "Timestamp pending" in page
        assert "snapshot.tsr" not in page

    tsa.mode = "ok"
    with db.session() as session:
        assert timestamps.retry_pending(session, store=store, settings=tsa_settings) == (1, 0)
    token = _token(db, snapshot.sha256)
    assert (token.status, token.attempts) == (TimestampStatus.stamped, 2)
    assert token.token_sha256 is not None
    reply = store.get(token.token_sha256)
    assert tsa.verify_with_openssl(reply, store.get(snapshot.sha256)).startswith("Verification")
    if mode == "garbage":
        page = client.get(f"/posts/{archived.post_id}").text
        assert f"/api/v1/posts/{archived.post_id}/versions/1/snapshot.tsr" in page
        assert "Timestamp pending" not in page


def test_a_token_signed_by_another_ca_is_not_kept(
    db: Database,
    store: LocalStore,
    tsa_settings: Settings,
    archive_post: ArchivePost,
    tmp_path: Path,
) -> None:
    other = make_test_ca(tmp_path / "other-ca")
    wrong = tsa_settings.model_copy(update={"tsa_ca_file": other / "ca.pem"})
    snapshot = _snapshot(db, store, wrong, archive_post().version_ids[0])
    token = _token(db, snapshot.sha256)
    assert token.status == TimestampStatus.pending
    assert token.last_error is not None
    assert "signature does not verify" in token.last_error


def _postvault(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": "/usr/bin:/bin",
        "POSTVAULT_DATABASE_URL": settings.database_url,
        "POSTVAULT_ARCHIVE_DIR": str(settings.archive_dir),
    }
    if settings.tsa_ca_file is not None:
        env["POSTVAULT_TSA_CA_FILE"] = str(settings.tsa_ca_file)
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=PROJECT_ROOT,
        timeout=300,
        check=False,
    )


def test_verify_checks_every_token_and_names_the_object_whose_token_changed(
    db: Database,
    store: LocalStore,
    tsa_settings: Settings,
    archive_post: ArchivePost,
) -> None:
    first = _snapshot(db, store, tsa_settings, archive_post(_post("first")).version_ids[0])
    second = _snapshot(db, store, tsa_settings, archive_post(_post("second")).version_ids[0])
    intact = _postvault(tsa_settings, "verify", "--quiet")
    assert intact.returncode == 0, intact.stdout + intact.stderr
    assert "2 timestamp tokens verified (signature and chain up to" in intact.stdout
    unanchored = _postvault(tsa_settings.model_copy(update={"tsa_ca_file": None}), "verify")
    assert unanchored.returncode == 0, unanchored.stdout + unanchored.stderr
    assert "signature by the certificate each carries" in unanchored.stdout

    token = _token(db, second.sha256)
    assert token.token_sha256 is not None
    path = store.path_for(token.token_sha256)
    before = path.read_bytes()
    _tamper(store, token.token_sha256)  # one byte changed
    assert sum(a != b for a, b in zip(before, path.read_bytes(), strict=True)) == 1
    broken = _postvault(tsa_settings, "verify", "--quiet")
    assert broken.returncode == 1
    assert f"TIMESTAMP snapshot object {second.sha256}: token unreadable" in broken.stdout
    assert f"MISMATCH timestamp object {token.token_sha256}" in broken.stdout
    assert first.sha256 not in broken.stdout
    assert "1 of 2 timestamp tokens failed to verify" in broken.stderr


def test_a_token_swapped_for_another_objects_token_is_named(
    db: Database, store: LocalStore, tsa_settings: Settings, archive_post: ArchivePost
) -> None:
    """A token swapped for another TSA answer (its record rewritten to match) still fails:
    its imprint is not the snapshot's hash."""
    one = _snapshot(db, store, tsa_settings, archive_post(_post("one")).version_ids[0])
    two = _snapshot(db, store, tsa_settings, archive_post(_post("two")).version_ids[0])
    with db.session() as session:
        rows = {r.object_sha256: r for r in session.scalars(select(TimestampToken)).all()}
        rows[one.sha256].token_sha256 = rows[two.sha256].token_sha256
    done = _postvault(tsa_settings, "verify", "--quiet")
    assert done.returncode == 1
    assert (
        f"TIMESTAMP snapshot object {one.sha256}: the token's message imprint is not the "
        "object's SHA-256"
    ) in done.stdout


def _ok(response: Any) -> Any:
    assert response.status_code < 300, response.text
    return response.json()


def test_a_package_lists_each_items_timestamp_and_carries_the_tokens(
    client: TestClient,
    db: Database,
    store: LocalStore,
    tsa: LoopbackTSA,
    tsa_settings: Settings,
    archive_post: ArchivePost,
    make_person: MakePerson,
) -> None:
    archived = archive_post()
    snapshot = _snapshot(db, store, tsa_settings, archived.version_ids[0])
    officer = make_person("records_officer")
    off = officer.headers
    rid = _ok(
        client.post(
            "/api/v1/requests",
            json={
                "requester_name": "Pat Q",
                "received_on": "2026-11-30",
                "description": "road closure posts",
                "confirm_nothing_held": True,
            },
            headers=off,
        )
    )["id"]
    _ok(
        client.post(
            f"/api/v1/requests/{rid}/items", json={"post_ids": [archived.post_id]}, headers=off
        )
    )
    started = _ok(client.post(f"/api/v1/requests/{rid}/package", headers=off))
    for _ in range(600):
        state = _ok(client.get(f"/api/v1/requests/{rid}/package/{started['id']}", headers=off))
        if state["status"] in ("done", "failed"):
            break
        time.sleep(0.2)
    assert state["status"] == "done", state
    download = client.get(f"/api/v1/requests/{rid}/package/{started['id']}/download", headers=off)
    with zipfile.ZipFile(io.BytesIO(download.content)) as archive:
        names = archive.namelist()
        manifest_name = next(n for n in names if n.endswith("data/manifest.json"))
        row = json.loads(archive.read(manifest_name))["items"][0]
        token_name = next(n for n in names if n.endswith(row["archived_pdf_timestamp_token"]))
        token = archive.read(token_name)
        bag_manifest = archive.read(next(n for n in names if n.endswith("/manifest-sha256.txt")))
    stamped = _token(db, snapshot.sha256)
    assert stamped.gen_time is not None
    assert row["archived_pdf_sha256"] == snapshot.sha256
    assert row["archived_pdf_timestamp"] == stamped.gen_time.isoformat()
    assert row["archived_pdf_timestamp_token"] == f"data/timestamps/{snapshot.sha256}.pdf.tsr"
    assert tsa.verify_with_openssl(token, store.get(snapshot.sha256)).startswith("Verification")
    assert hashlib.sha256(token).hexdigest().encode() in bag_manifest


def test_a_token_with_a_changed_signature_fails_without_a_chain_too(
    db: Database, store: LocalStore, tsa: LoopbackTSA, tsa_settings: Settings
) -> None:
    with db.session() as session:
        put_object(session, store, b"evidence", mime_type="text/plain", kind="test")
        row = timestamps.timestamp_object(
            session, store=store, settings=tsa_settings, data=b"evidence", kind="test"
        )
        assert row is not None
        assert row.status == TimestampStatus.stamped
    reply = tsa.replies[-1]
    digest = hashlib.sha256(b"evidence").hexdigest()
    timestamps.check_reply(reply, sha256=digest, nonce=None, anchors=None)
    changed = bytearray(reply)
    changed[-3] ^= 0x01  # inside the signature value, the last field of the token
    with pytest.raises(timestamps.TimestampError, match="signature"):
        timestamps.check_reply(bytes(changed), sha256=digest, nonce=None, anchors=None)
    assert "Verification: OK" not in tsa.verify_with_openssl(bytes(changed), b"evidence")
