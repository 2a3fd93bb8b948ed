"""Schedules that change safely: approvals near or past their expiry are warned about
(`schedules check`, the dashboard, officers' notices); a lapsed approval no longer stops the
app but blocks disposition of its schedule's series (409 naming it); a changed schedule file
is applied to every post (audited, idempotent)."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.audit.service import Actor
from app.config import Settings
from app.db import Database
from app.main import create_app
from app.notices import service as notices
from app.notices.models import Notice, NoticeKind
from app.retention import disposition
from app.retention.approvals import ApprovalExpired, blocked_schedules, sync_schedules
from app.retention.assignment import assign_retention, current_assignment
from app.retention.calendar import load_calendar, local_today
from app.retention.jobs import schedule_sync_job
from app.retention.models import RecordedSchedule
from app.retention.schedules import load_schedules
from tests.conftest import MakePerson
from tests.factories import PROJECT_SCHEDULES, TZ, make_account, make_post, make_user, utc
from tests.web.support import give_password, sign_in

CITY = "example-city-social-media"
CITY_FILE = "example-city-social-media.yaml"
PROJECT_ROOT = Path(__file__).resolve().parents[2]
TODAY = local_today(TZ)
SYSTEM = Actor.system("tests")


def schedules_folder(tmp_path: Path, *, expires_on: dt.date) -> Path:
    folder = tmp_path / "schedules"
    if not folder.exists():
        shutil.copytree(PROJECT_SCHEDULES, folder)
    set_expiry(folder, expires_on)
    return folder


def set_expiry(folder: Path, expires_on: dt.date) -> None:
    path = folder / CITY_FILE
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["approval"]["expires_on"] = expires_on
    data["approval"]["approved_on"] = min(expires_on - dt.timedelta(days=3 * 365), TODAY)
    data["approval"]["reference"] = "RDA 2042"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def set_transitory_retention(folder: Path, retention: str) -> None:
    path = folder / CITY_FILE
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    for series in data["series"]:
        if series["code"] == "EX-SM-03":
            series["retention"] = retention
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


@pytest.fixture
def lapsed(tmp_path: Path) -> Path:
    return schedules_folder(tmp_path, expires_on=TODAY - dt.timedelta(days=30))


@pytest.fixture
def officer_client(
    settings: Settings, db: Database, lapsed: Path
) -> Iterator[tuple[TestClient, Settings]]:
    configured = settings.model_copy(
        update={"schedules_dir": lapsed, "run_scheduler": False, "retention_timezone": TZ}
    )
    with TestClient(create_app(configured, database=db)) as client:
        yield client, configured


def _due_transitory_posts(db: Database, folder: Path, n: int) -> list[int]:
    loaded = load_schedules(folder)
    ids = []
    with db.session() as session:
        account = make_account(session, make_user(session))
        for _ in range(n):
            post = make_post(session, account=account, created=utc(2020, 1, 1), label="transitory")
            assign_retention(session, post_id=post.id, actor=SYSTEM, schedules=loaded, timezone=TZ)
            ids.append(post.id)
        sync_schedules(session, schedules=loaded, actor=SYSTEM, timezone=TZ)
    return ids


def _cli(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", "schedules", "check", str(folder)],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "POSTVAULT_RETENTION_TIMEZONE": TZ},
        cwd=PROJECT_ROOT,
        timeout=120,
        check=False,
    )


def test_schedules_check_warns_of_an_approval_lapsing_within_12_months_and_lapsed(
    tmp_path: Path,
) -> None:
    folder = schedules_folder(tmp_path, expires_on=TODAY + dt.timedelta(days=200))
    soon = _cli(folder)
    assert soon.returncode == 0, soon.stderr
    assert "warning: the Wisconsin Public Records Board approval RDA 2042" in soon.stderr
    assert f"expires on {TODAY + dt.timedelta(days=200)}" in soon.stderr
    set_expiry(folder, TODAY + dt.timedelta(days=400))
    assert "RDA 2042" not in _cli(folder).stderr  # more than 12 months ahead: no warning
    set_expiry(folder, TODAY - dt.timedelta(days=1))
    expired = _cli(folder)
    assert expired.returncode == 0, expired.stderr  # a lapse is not an invalid file
    assert "expired on" in expired.stderr
    assert "disposition of its series is blocked" in expired.stderr


def test_a_lapsed_approval_does_not_stop_the_app_and_blocks_its_disposition_loudly(
    db: Database,
    lapsed: Path,
    officer_client: tuple[TestClient, Settings],
    make_person: MakePerson,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client, _configured = officer_client
    assert client.get("/healthz").status_code == 200
    officer = make_person("records_officer")
    _due_transitory_posts(db, lapsed, 2)
    with db.session() as session:
        assert set(blocked_schedules(session, today=TODAY)) == {CITY}

    answer = client.post("/api/v1/disposition/batches", headers=officer.headers)
    assert answer.status_code == 409
    assert "RDA 2042" in answer.json()["detail"]
    assert "expired on" in answer.json()["detail"]
    assert any("RDA 2042" in r.getMessage() for r in caplog.records if r.levelname == "ERROR")

    # The dashboard says so at the top.
    give_password(db, officer.user)
    sign_in(client, officer.user.email)
    page = client.get("/officer")
    assert page.status_code == 200
    assert "Expired: disposition blocked." in page.text
    assert "RDA 2042" in page.text


def test_only_the_lapsed_schedules_series_wait_and_a_batch_approved_before_waits_too(
    db: Database, lapsed: Path
) -> None:
    first, other = _due_transitory_posts(db, lapsed, 2)
    with db.session() as session:
        # A post in another schedule's series (its approval in force) is still proposed.
        assignment = current_assignment(session, other)
        assert assignment is not None
        assignment.schedule_id = "wa-core-gs50-01-12"
        batch = disposition.propose_batch(session, actor=SYSTEM, today=TODAY)
        assert batch is not None
        assert [i.post_id for i in disposition.batch_items(session, batch.id)] == [other]
        proposed = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "disposition.proposed")
        ).one()
        assert proposed.details["left_out_approval_expired"] == [first]

    # A batch proposed while the approval was in force waits once it lapsed.
    with db.session() as session:
        session.get(RecordedSchedule, "wa-core-gs50-01-12").approval_expires_on = (  # type: ignore[union-attr]
            TODAY - dt.timedelta(days=1)
        )
        officer = make_user(session, "records_officer")
        with pytest.raises(ApprovalExpired, match="approving batch"):
            disposition.approve_batch(
                session, batch_id=batch.id, officer=officer, authority="RDA", timezone=TZ
            )
    with db.session() as session:
        session.get(RecordedSchedule, "wa-core-gs50-01-12").approval_expires_on = None  # type: ignore[union-attr]
        officer = make_user(session, "records_officer")
        approved = disposition.approve_batch(
            session, batch_id=batch.id, officer=officer, authority="RDA", timezone=TZ
        )
        session.get(RecordedSchedule, "wa-core-gs50-01-12").approval_expires_on = (  # type: ignore[union-attr]
            TODAY - dt.timedelta(days=1)
        )
        session.flush()
        blocker, _ = disposition.run_blocker(session, approved, today=TODAY)
        assert blocker is not None
        assert "waits" in blocker
        assert "expired on" in blocker
        assert disposition.runnable_batch_ids(session, today=TODAY) == []


def test_officers_are_noticed_of_a_lapsing_approval(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    folder = schedules_folder(tmp_path, expires_on=TODAY + dt.timedelta(days=100))
    configured = settings.model_copy(update={"schedules_dir": folder})
    with db.session() as session:
        officer = make_user(session, "records_officer")
        officer_id = officer.id
    calendar = load_calendar(configured.holiday_calendar, configured.holidays_dir)
    for _ in range(2):  # found twice, noticed once
        with db.session() as session:
            notices.scan(session, settings=configured, calendar=calendar, today=TODAY)
    with db.session() as session:
        found = session.scalars(
            select(Notice).where(Notice.kind == NoticeKind.approval_expiring)
        ).all()
        assert [n.recipient_id for n in found] == [officer_id]
        assert "RDA 2042" in found[0].subject
        assert "renew it" in found[0].body
    set_expiry(folder, TODAY - dt.timedelta(days=1))
    with db.session() as session:
        notices.scan(session, settings=configured, calendar=calendar, today=TODAY)
        expired = session.scalars(
            select(Notice).where(Notice.kind == NoticeKind.approval_expired)
        ).all()
        assert len(expired) == 1
        assert "blocked" in expired[0].body


def test_a_changed_schedule_file_is_applied_to_every_post_once(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    folder = schedules_folder(tmp_path, expires_on=TODAY + dt.timedelta(days=2000))
    configured = settings.model_copy(update={"schedules_dir": folder, "retention_timezone": TZ})
    ids = _due_transitory_posts(db, folder, 3)

    def events(action: str) -> list[AuditEvent]:
        with db.session() as session:
            return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)))

    schedule_sync_job(db, configured)  # the files are the recorded ones: nothing changes
    assert events("retention.schedules_changed") == []
    before = len(events("retention.recomputed"))

    set_transitory_retention(folder, "CR+1Y")
    schedule_sync_job(db, configured)
    changed = events("retention.schedules_changed")
    assert len(changed) == 1
    assert changed[0].details["posts_reassigned"] == 3
    assert changed[0].details["files"][CITY]["file"] == CITY_FILE
    assert len(events("retention.recomputed")) == before + 3
    with db.session() as session:
        for post_id in ids:  # none of them was captured again
            assignment = current_assignment(session, post_id)
            assert assignment is not None
            assert assignment.retention == "CR+1Y"
            assert assignment.due_on == dt.date(2020, 12, 31)  # created 2019-12-31 in Chicago
        row = session.get(RecordedSchedule, CITY)
        assert row is not None
        assert row.sha256 == load_schedules(folder).file_hashes[CITY]

    schedule_sync_job(db, configured)  # idempotent
    assert len(events("retention.schedules_changed")) == 1
    assert len(events("retention.recomputed")) == before + 3


def test_the_first_recording_recomputes_posts_assigned_from_another_version(
    db: Database, tmp_path: Path
) -> None:
    folder = schedules_folder(tmp_path, expires_on=TODAY + dt.timedelta(days=2000))
    old = load_schedules(folder)
    with db.session() as session:
        account = make_account(session, make_user(session))
        post = make_post(session, account=account, created=utc(2020, 1, 1), label="transitory")
        assign_retention(session, post_id=post.id, actor=SYSTEM, schedules=old, timezone=TZ)
        post_id = post.id
    path = folder / CITY_FILE
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["version"] = "2027.1"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    with db.session() as session:
        result = sync_schedules(
            session, schedules=load_schedules(folder), actor=SYSTEM, timezone=TZ
        )
        assert result.posts_reassigned == 1
        assignment = current_assignment(session, post_id)
        assert assignment is not None
        assert assignment.schedule_version == "2027.1"
        assert (
            session.scalars(
                select(AuditEvent).where(AuditEvent.action == "retention.schedules_changed")
            )
            .one()
            .details["first_recording"]
        )
