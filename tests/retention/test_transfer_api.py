"""Transfer and review over the API and the CLI: propose, approve (records officer only), run,
download the BagIt package, record the receipt (audited) and dispose; the review list and
decisions, a refused decision on a held post answered 409 and audited."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
from pathlib import Path

import bagit
import pypdf
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.config import Settings
from app.db import Database
from app.retention.calendar import local_today
from app.retention.models import DispositionBatch
from app.storage.local import LocalStore
from tests.conftest import MakePerson
from tests.factories import TZ
from tests.retention.transfer_world import build_transfer_world, transfer_schedules, unzip

ROOT = Path(__file__).resolve().parents[2]


def test_transfer_and_review_over_the_api(
    client: TestClient, db: Database, settings: Settings, make_person: MakePerson, tmp_path: Path
) -> None:
    officer = make_person("records_officer", email="officer.api@city.example")
    admin = make_person("admin", email="admin.api@city.example")
    store = LocalStore(settings.archive_dir)
    world = build_transfer_world(db, store, transfer_schedules(tmp_path / "schedules"))
    t1, t3 = world.posts["t1"], world.posts["t3"]

    proposed = client.post("/api/v1/disposition/transfers", headers=officer.headers)
    assert proposed.status_code == 201, proposed.text
    batch = proposed.json()
    assert batch["kind"] == "transfer"
    assert batch["whs_series"] == []
    assert {i["post_id"] for i in batch["items"]} == {t1, t3}
    again = client.post("/api/v1/disposition/transfers", headers=officer.headers)
    assert again.status_code == 409
    url = f"/api/v1/disposition/batches/{batch['id']}"
    assert (
        client.post(f"{url}/approve", json={"authority": "x"}, headers=admin.headers).status_code
        == 403
    )
    approved = client.post(
        f"{url}/approve", json={"authority": "T-HIST-01 to the WHS"}, headers=officer.headers
    )
    assert approved.status_code == 200, approved.text
    early = client.get(f"{url}/package", headers=officer.headers)
    assert early.status_code == 404
    assert "run it first" in early.json()["detail"]
    ran = client.post(f"{url}/run", headers=officer.headers)
    assert ran.status_code == 200, ran.text
    assert ran.json()["status"] == "awaiting_receipt"
    sha = ran.json()["package_sha256"]
    listed = client.get("/api/v1/disposition/batches?kind=transfer", headers=officer.headers)
    assert [b["id"] for b in listed.json()["items"]] == [batch["id"]]
    assert listed.json()["items"][0]["blocked_because"].startswith("transfer batch")

    package = client.get(f"{url}/package", headers=officer.headers)
    assert package.status_code == 200
    assert package.headers["content-type"] == "application/zip"
    assert hashlib.sha256(package.content).hexdigest() == sha
    bagit.Bag(str(unzip(package.content, tmp_path / "bag"))).validate()

    receipt = {
        "reference": "WHS-ACC-2026-200",
        "received_on": local_today(TZ).isoformat(),
        "received_by": "Wisconsin Historical Society, State Archives",
        "package_sha256": "f" * 64,
    }
    wrong = client.post(f"{url}/receipt", json=receipt, headers=officer.headers)
    assert wrong.status_code == 422
    assert "send the package again" in wrong.json()["detail"]
    by_admin = client.post(
        f"{url}/receipt", json={**receipt, "package_sha256": sha}, headers=admin.headers
    )
    assert by_admin.status_code == 403
    done = client.post(
        f"{url}/receipt", json={**receipt, "package_sha256": sha}, headers=officer.headers
    )
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "completed"
    assert sorted(done.json()["destroyed"]) == sorted([t1, t3])
    detail = client.get(url, headers=officer.headers).json()
    assert detail["receipt_reference"] == "WHS-ACC-2026-200"
    assert detail["receipt_recorded_by_id"] == officer.user.id
    assert {i["status"] for i in detail["items"]} == {"transferred"}
    gone = client.get(f"{url}/package", headers=officer.headers)
    assert gone.status_code == 404
    assert "destroyed" in gone.json()["detail"]
    certificate = client.get(f"{url}/certificate", headers=officer.headers)
    text = "\n".join(
        p.extract_text() for p in pypdf.PdfReader(io.BytesIO(certificate.content)).pages
    )
    assert "WHS-ACC-2026-200" in text

    # The review list.
    r1, r2 = world.posts["r1"], world.posts["r2"]
    review = client.get("/api/v1/disposition/review", headers=officer.headers)
    assert review.status_code == 200
    assert {line["post_id"] for line in review.json()} == {r1, r2}
    bad = client.post(
        f"/api/v1/disposition/review/{r1}",
        json={"outcome": "retain", "reason": "still cited"},
        headers=officer.headers,
    )
    assert bad.status_code == 422
    assert "retain_until" in bad.json()["detail"]
    kept = client.post(
        f"/api/v1/disposition/review/{r1}",
        json={"outcome": "retain", "reason": "still cited", "retain_until": "2031-01-01"},
        headers=officer.headers,
    )
    assert kept.status_code == 201, kept.text
    held = client.post(
        "/api/v1/holds",
        json={"kind": "audit", "reason": "audit", "authority": "LAB 9", "post_ids": [r2]},
        headers=officer.headers,
    )
    assert held.status_code == 201
    refused = client.post(
        f"/api/v1/disposition/review/{r2}",
        json={"outcome": "destroy", "reason": "no value"},
        headers=officer.headers,
    )
    assert refused.status_code == 409
    assert f"hold {held.json()['id']}" in refused.json()["detail"]
    decided = client.get("/api/v1/disposition/review?include_decided=true", headers=officer.headers)
    states = {line["post_id"]: line["state"] for line in decided.json()}
    assert states == {r1: "retained", r2: "to_review"}
    with db.session() as session:
        actions = set(session.scalars(select(AuditEvent.action)))
    assert {
        "transfer.package_built",
        "transfer.package_downloaded",
        "transfer.receipt_recorded",
        "review.retain",
        "hold.refused_review_destruction",
    } <= actions


def test_transfer_from_the_cli(db: Database, settings: Settings, tmp_path: Path) -> None:
    store = LocalStore(settings.archive_dir)
    world = build_transfer_world(db, store, transfer_schedules(tmp_path / "schedules"))
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "POSTVAULT_DATABASE_URL": settings.database_url,
        "POSTVAULT_ARCHIVE_DIR": str(settings.archive_dir),
    }

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "app.cli", *args],
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,
            check=False,
        )

    proposed = cli("transfer", "propose", "--today", "2026-11-25")
    assert proposed.returncode == 0, proposed.stderr
    assert "proposed transfer batch" in proposed.stdout
    with db.session() as session:
        batch = session.scalar(select(DispositionBatch))
        assert batch is not None
        batch_id = batch.id
        from app.auth.models import User
        from app.retention import disposition

        officer = session.get(User, world.officer_id)
        assert officer is not None
        email = officer.email
        disposition.approve_batch(session, batch_id=batch_id, officer=officer, authority="x")
    ran = cli("disposition", "run", str(batch_id), "--today", "2026-11-25")
    assert ran.returncode == 0, ran.stderr
    assert "awaiting_receipt" in ran.stdout
    out = tmp_path / "out" / "transfer.zip"
    out.parent.mkdir()
    exported = cli("transfer", "export", str(batch_id), "--out", str(out))
    assert exported.returncode == 0, exported.stderr
    sha = hashlib.sha256(out.read_bytes()).hexdigest()
    assert sha in exported.stdout
    assert [p.name for p in out.parent.iterdir()] == ["transfer.zip"]  # no temporary file left
    bagit.Bag(str(unzip(out.read_bytes(), tmp_path / "bag"))).validate()
    receipt = cli(
        "transfer",
        "receipt",
        str(batch_id),
        "--reference",
        "WHS-77",
        "--received-on",
        local_today(TZ).isoformat(),
        "--received-by",
        "State Archivist",
        "--sha256",
        sha,
        "--officer",
        email,
        "--today",
        "2026-11-25",
    )
    assert receipt.returncode == 0, receipt.stderr + receipt.stdout
    assert "receipt WHS-77 recorded" in receipt.stdout
    assert "completed" in receipt.stdout
    review = cli("disposition", "review", "--today", "2026-11-25")
    assert review.returncode == 0, review.stderr
    assert f"post {world.posts['r1']}" in review.stdout
    decide = cli(
        "disposition",
        "decide",
        str(world.posts["r1"]),
        "--outcome",
        "destroy",
        "--reason",
        "appraised: no value",
        "--officer",
        email,
        "--today",
        "2026-11-25",
    )
    assert decide.returncode == 0, decide.stderr
    assert "destroy" in decide.stdout
