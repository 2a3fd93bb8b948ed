"""Issue 17: separation of duties. Admins manage users; only a records officer approves
disposition. Approving one's own proposal is a setting: allowed by default with a warning on
the batch and in the audit log, refused when POSTVAULT_ALLOW_SELF_APPROVAL is false."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.models import AuditEvent
from app.config import Settings
from app.db import Database
from app.main import create_app
from app.retention import disposition_run
from app.storage.local import LocalStore
from tests.conftest import MakePerson
from tests.retention.test_api import seed

APPROVAL = {"authority": "City records schedule EX-SM"}


def propose(client: TestClient, headers: dict[str, str]) -> dict[str, object]:
    proposed = client.post("/api/v1/disposition/batches", headers=headers)
    assert proposed.status_code == 201, proposed.text
    body: dict[str, object] = proposed.json()
    return body


def test_only_a_records_officer_approves_and_self_approval_warns(
    client: TestClient, db: Database, make_person: MakePerson
) -> None:
    officer = make_person("records_officer")
    admin = make_person("admin")
    seed(db, make_person().user.id)
    batch = propose(client, officer.headers)
    assert batch["proposed_by_id"] == officer.user.id

    by_admin = client.post(
        f"/api/v1/disposition/batches/{batch['id']}/approve", json=APPROVAL, headers=admin.headers
    )
    assert by_admin.status_code == 403
    assert "records_officer role" in by_admin.json()["detail"]

    own = client.post(
        f"/api/v1/disposition/batches/{batch['id']}/approve",
        json=APPROVAL,
        headers=officer.headers,
    )
    assert own.status_code == 200, own.text
    assert own.json()["status"] == "approved"
    assert any("proposed it" in w for w in own.json()["warnings"])
    with db.session() as session:
        event = session.scalar(
            select(AuditEvent).where(AuditEvent.action == "disposition.approved")
        )
        assert event is not None
        assert event.details["self_approved"] is True
    again = client.post("/api/v1/disposition/batches", headers=officer.headers)
    assert again.status_code == 409  # nothing else is due


@pytest.fixture
def strict_client(settings: Settings, db: Database) -> Iterator[TestClient]:
    app = create_app(settings.model_copy(update={"allow_self_approval": False}), database=db)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def test_self_approval_can_be_turned_off(
    strict_client: TestClient, db: Database, make_person: MakePerson
) -> None:
    proposer = make_person("records_officer")
    second = make_person("records_officer")
    seed(db, make_person().user.id)
    batch = propose(strict_client, proposer.headers)
    own = strict_client.post(
        f"/api/v1/disposition/batches/{batch['id']}/approve",
        json=APPROVAL,
        headers=proposer.headers,
    )
    assert own.status_code == 403
    assert "another records officer" in own.json()["detail"]
    other = strict_client.post(
        f"/api/v1/disposition/batches/{batch['id']}/approve",
        json=APPROVAL,
        headers=second.headers,
    )
    assert other.status_code == 200, other.text
    assert other.json()["warnings"] == []


def test_a_failed_run_answers_failed_and_is_retried_over_the_api(
    client: TestClient, db: Database, make_person: MakePerson, settings: Settings
) -> None:
    officer = make_person("records_officer")
    seed(db, make_person().user.id, store=LocalStore(settings.archive_dir))
    batch = propose(client, officer.headers)
    approved = client.post(
        f"/api/v1/disposition/batches/{batch['id']}/approve",
        json=APPROVAL,
        headers=officer.headers,
    )
    assert approved.status_code == 200, approved.text
    calls: list[int] = []

    def flaky(_session: Session, post_id: int) -> None:
        calls.append(post_id)
        if len(calls) == 1:
            raise RuntimeError("search index unavailable")

    disposition_run.ON_DISPOSE.append(flaky)
    try:
        run = client.post(f"/api/v1/disposition/batches/{batch['id']}/run", headers=officer.headers)
        assert run.status_code == 200, run.text
        assert run.json()["status"] == "failed"
        assert run.json()["error"] == "RuntimeError: search index unavailable"
        again = client.post(
            f"/api/v1/disposition/batches/{batch['id']}/run", headers=officer.headers
        )
        assert again.status_code == 409
        assert "retry it" in again.json()["detail"]
        retried = client.post(
            f"/api/v1/disposition/batches/{batch['id']}/retry", headers=officer.headers
        )
    finally:
        disposition_run.ON_DISPOSE.remove(flaky)
    assert retried.status_code == 200, retried.text
    assert retried.json()["status"] == "completed"
    detail = client.get(f"/api/v1/disposition/batches/{batch['id']}", headers=officer.headers)
    assert [(a["number"], a["outcome"]) for a in detail.json()["attempts"]] == [
        (1, "failed"),
        (2, "completed"),
    ]
    assert detail.json()["error"] is None
