"""`postvault backup` / `postvault restore`: a real deployment (captures from a loopback
Mastodon instance, PDF snapshots, media) copied out and restored into an empty one, on the
configured database (SQLite here, PostgreSQL when the suite runs there), then checked with
`postvault verify` and `postvault audit verify` as an operator would."""

from __future__ import annotations

import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from app.audit.models import AuditEvent
from app.backup import service
from app.collectors.service import CaptureContext, run_due
from app.config import Settings
from app.db import Database
from app.posts.models import CapturedVersion
from app.storage.local import LocalStore
from app.storage.models import StoredObject
from tests.collectors.test_capture_pipeline import capture, context_for, flag_on
from tests.conftest import MakePerson, Person, is_postgres
from tests.platforms.mastodon_like import MastodonInstance, mastodon_instance


@dataclass
class Deployment:
    """Where a PostVault lives: its database URL and archive folder."""

    database_url: str
    archive_dir: Path

    @property
    def env(self) -> dict[str, str]:
        return {
            "POSTVAULT_DATABASE_URL": self.database_url,
            "POSTVAULT_ARCHIVE_DIR": str(self.archive_dir),
        }

    @property
    def settings(self) -> Settings:
        return Settings(database_url=self.database_url, archive_dir=self.archive_dir)


def postvault(args: list[str], where: Deployment) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", **where.env},
        cwd=where.archive_dir.parent,
        check=False,
    )


@pytest.fixture
def empty_deployment(settings: Settings, tmp_path: Path) -> Iterator[Deployment]:
    """A new deployment: an empty database of the same kind, an empty archive folder."""
    folder = tmp_path / "restored"
    folder.mkdir()
    if not is_postgres():
        yield Deployment(f"sqlite:///{folder / 'postvault.db'}", folder / "archive")
        return
    url = make_url(settings.database_url)
    name = f"{url.database}_restore_{uuid.uuid4().hex[:8]}"
    admin = url.set(drivername="postgresql", database="postgres").render_as_string(False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield Deployment(
            url.set(database=name).render_as_string(hide_password=False), folder / "archive"
        )
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def instance() -> Iterator[MastodonInstance]:
    with mastodon_instance() as inst:
        yield inst


@pytest.fixture
def ctx(db: Database, settings: Settings, instance: MastodonInstance) -> Iterator[CaptureContext]:
    context = context_for(db, settings, instance.netloc)
    yield context
    context.client.close()


@pytest.fixture
def api(client: TestClient, ctx: CaptureContext) -> TestClient:
    client.app.state.capture_context = lambda: ctx  # type: ignore[attr-defined]
    return client


def archive_some_posts(
    api: TestClient, make_person: MakePerson, instance: MastodonInstance, count: int = 3
) -> Person:
    ann = make_person()
    post_ids = []
    for n in range(count):
        status_id = f"11702058618092{n:04d}"
        instance.add(status_id, f"<p>Snow emergency update {n}: lot {n} is closed.</p>", media=1)
        post_ids.append(flag_on(api, ann, instance, status_id))
        assert capture(api, ann, post_ids[-1])["outcome"] == "new_version"
    instance.edit("117020586180920000", "<p>Snow emergency update 0: lot 0 reopens.</p>")
    assert capture(api, ann, post_ids[0])["outcome"] == "new_version"
    return ann


def counts(database_url: str) -> tuple[int, int, int]:
    database = Database(database_url)
    try:
        with database.session() as session:
            return (
                session.scalar(select(func.count()).select_from(CapturedVersion)) or 0,
                session.scalar(select(func.count()).select_from(StoredObject)) or 0,
                session.scalar(select(func.count()).select_from(AuditEvent)) or 0,
            )
    finally:
        database.dispose()


def test_backup_then_restore_into_an_empty_deployment(
    api: TestClient,
    make_person: MakePerson,
    instance: MastodonInstance,
    settings: Settings,
    empty_deployment: Deployment,
    tmp_path: Path,
) -> None:
    archive_some_posts(api, make_person, instance)
    live = Deployment(settings.database_url, settings.archive_dir)
    versions, objects, events = counts(settings.database_url)
    assert versions == 4
    assert objects >= 8

    dest = tmp_path / "backup"
    made = postvault(["backup", str(dest), "--quiet"], live)
    assert made.returncode == 0, made.stderr
    assert f"{objects} objects" in made.stdout
    manifest = service.read_manifest(dest)
    assert manifest["object_count"] == objects
    assert "secret_key" in manifest["keys"]
    assert manifest["audit"]["events"] == events
    # Every object in the backup is its own SHA-256, readable by an independent reader.
    copies = LocalStore(dest)
    for entry in manifest["objects"]:
        assert copies.verify(entry["sha256"]) == entry["sha256"]

    restored = postvault(["restore", str(dest), "--quiet"], empty_deployment)
    assert restored.returncode == 0, restored.stderr
    verified = postvault(["verify", "--quiet"], empty_deployment)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert f"all {objects} stored objects verified intact" in verified.stdout
    chain = postvault(["audit", "verify"], empty_deployment)
    assert chain.returncode == 0, chain.stderr
    assert "audit chain intact" in chain.stdout

    new_versions, new_objects, new_events = counts(empty_deployment.database_url)
    assert (new_versions, new_objects) == (versions, objects)
    # The restored chain goes on from the backed-up head: the restore is the next event.
    assert new_events > events
    database = Database(empty_deployment.database_url)
    try:
        with database.session() as session:
            after_head = session.scalars(
                select(AuditEvent).where(AuditEvent.prev_hash == manifest["audit"]["head_hash"])
            ).one()
            assert after_head.action == "backup.restored"
    finally:
        database.dispose()
    for name in manifest["keys"]:
        restored_key = (empty_deployment.archive_dir.parent / name).read_bytes()
        assert restored_key == (settings.archive_dir.parent / name).read_bytes()

    # The restored deployment is no longer empty: a second restore is refused.
    again = postvault(["restore", str(dest), "--quiet"], empty_deployment)
    assert again.returncode == 2
    assert "not empty" in again.stderr
    # And the live deployment recorded the export.
    assert counts(settings.database_url)[2] == events + 1


def test_a_damaged_backup_is_refused_and_nothing_is_restored(
    api: TestClient,
    make_person: MakePerson,
    instance: MastodonInstance,
    settings: Settings,
    empty_deployment: Deployment,
    tmp_path: Path,
) -> None:
    archive_some_posts(api, make_person, instance, count=1)
    dest = tmp_path / "backup"
    report = service.backup(settings, dest, store=LocalStore(settings.archive_dir))
    assert report.objects > 0
    victim = str(service.read_manifest(dest)["objects"][0]["sha256"])
    path = LocalStore(dest).path_for(victim)
    path.chmod(0o600)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))

    result = postvault(["restore", str(dest), "--quiet"], empty_deployment)
    assert result.returncode == 2
    assert victim in result.stderr
    assert "does not match its hash" in result.stderr
    assert "Traceback" not in result.stderr
    # Nothing was written into the new deployment.
    assert not (empty_deployment.archive_dir / "objects").exists() or not any(
        (empty_deployment.archive_dir / "objects").rglob("*")
    )
    with pytest.raises(service.BackupError, match="not empty"):
        service.backup(settings, dest, store=LocalStore(settings.archive_dir))
    unfinished = tmp_path / "unfinished"
    unfinished.mkdir()
    missing = postvault(["restore", str(unfinished)], empty_deployment)
    assert missing.returncode == 2
    assert "did not finish" in missing.stderr


def test_backup_taken_while_captures_run_restores_consistent(
    api: TestClient,
    make_person: MakePerson,
    instance: MastodonInstance,
    ctx: CaptureContext,
    settings: Settings,
    empty_deployment: Deployment,
    tmp_path: Path,
) -> None:
    ann = archive_some_posts(api, make_person, instance, count=1)
    for n in range(12):
        status_id = f"11703000000000{n:04d}"
        instance.add(status_id, f"<p>Road work notice {n}.</p>", media=1)
        flag_on(api, ann, instance, status_id)
    instance.latency = 0.05  # each answer takes a while, so the pass overlaps the backup

    started = threading.Event()
    errors: list[BaseException] = []

    def capture_pass() -> None:
        try:
            run_due(ctx, on_progress=lambda _report: started.set())
        except BaseException as exc:  # reported by the test, never lost in the thread
            errors.append(exc)
            started.set()

    worker = threading.Thread(target=capture_pass)
    worker.start()
    assert started.wait(60)
    dest = tmp_path / "backup"
    report = service.backup(settings, dest, store=LocalStore(settings.archive_dir))
    worker.join(120)
    assert not worker.is_alive()
    assert errors == []
    total_versions = counts(settings.database_url)[0]
    assert total_versions == 2 + 12

    restored = postvault(["restore", str(dest), "--quiet"], empty_deployment)
    assert restored.returncode == 0, restored.stderr
    verified = postvault(["verify", "--quiet"], empty_deployment)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    chain = postvault(["audit", "verify"], empty_deployment)
    assert chain.returncode == 0, chain.stderr
    restored_versions, restored_objects, _events = counts(empty_deployment.database_url)
    assert restored_objects == report.objects
    # A point in time during the pass: at least what was there before, at most everything.
    assert 2 <= restored_versions <= total_versions
