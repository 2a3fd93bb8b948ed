"""Issue 17: holds stop edits, not only destruction. A classification override (set or
revoked), an AV release and removing the account of a held post are each refused with 409
naming the hold, and each refused attempt is in the audit log (the refused change is not)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.audit.service import verify_chain
from app.auth.models import User
from app.classification.models import ClassificationOverride
from app.db import Database
from app.posts.models import FlaggedPost
from app.retention.assignment import current_assignment
from tests.conftest import MakePerson
from tests.factories import assign, make_account, make_post


def events(db: Database, action: str) -> list[AuditEvent]:
    with db.session() as session:
        return list(
            session.scalars(
                select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
            )
        )


def test_a_held_post_refuses_override_av_release_and_account_removal(
    client: TestClient, db: Database, make_person: MakePerson
) -> None:
    officer = make_person("records_officer")
    employee = make_person("employee")
    with db.session() as session:
        owner = session.get(User, employee.user.id)
        assert owner is not None
        account = make_account(session, owner)
        held = make_post(session, account=account, texts=["Budget talk"], label="secondary_copy")
        assign(session, held)
        # A flagged post of the same account, never captured: today removing the account
        # deletes such posts, which a hold on them turned into a foreign-key error.
        uncaptured = FlaggedPost(
            account_id=account.id,
            flagged_by_id=owner.id,
            url=f"https://bsky.app/profile/{account.handle}/post/never",
            platform=account.platform,
            external_id="never",
            status="flagged",
        )
        session.add(uncaptured)
        session.flush()
        ids = {"held": held.id, "uncaptured": uncaptured.id, "account": account.id}

    # An override before the hold is allowed: that one is revoked later, while held.
    before = client.post(
        f"/api/v1/posts/{ids['held']}/classification",
        json={"label": "record", "reason": "council business"},
        headers=officer.headers,
    )
    assert before.status_code == 201, before.text
    hold = client.post(
        "/api/v1/holds",
        json={
            "kind": "litigation",
            "reason": "Smith v. City",
            "authority": "counsel's letter of 2026-11-02",
            "post_ids": [ids["held"], ids["uncaptured"]],
        },
        headers=officer.headers,
    ).json()
    named = f"hold {hold['id']} (litigation: counsel's letter of 2026-11-02)"

    override = client.post(
        f"/api/v1/posts/{ids['held']}/classification",
        json={"label": "transitory", "reason": "just a notice"},
        headers=officer.headers,
    )
    assert override.status_code == 409
    assert named in override.json()["detail"]
    revoke = client.delete(
        f"/api/v1/posts/{ids['held']}/classification",
        params={"reason": "back to the rules"},
        headers=officer.headers,
    )
    assert revoke.status_code == 409
    assert named in revoke.json()["detail"]
    release = client.post(
        f"/api/v1/retention/posts/{ids['held']}/release",
        json={"reason": "no longer needed"},
        headers=officer.headers,
    )
    assert release.status_code == 409, release.text
    assert named in release.json()["detail"]
    removal = client.delete(f"/api/v1/accounts/{ids['account']}", headers=employee.headers)
    assert removal.status_code == 409, removal.text
    assert named in removal.json()["detail"]
    assert "account removal is refused" in removal.json()["detail"]

    # Nothing changed: the override stands, the series is not released, the account stays.
    with db.session() as session:
        overrides = list(
            session.scalars(
                select(ClassificationOverride).where(ClassificationOverride.post_id == ids["held"])
            )
        )
        assert [(o.label, o.revoked_at) for o in overrides] == [("record", None)]
        current = current_assignment(session, ids["held"])
        assert current is not None
        assert current.released_at is None
        assert session.get(FlaggedPost, ids["uncaptured"]) is not None
        assert verify_chain(session).ok
    refused = {
        action: events(db, action)
        for action in (
            "hold.refused_classification_override",
            "hold.refused_av_release",
            "hold.refused_account_removal",
        )
    }
    assert [len(v) for v in refused.values()] == [2, 1, 1]
    for action, rows in refused.items():
        for row in rows:
            assert row.details["hold_ids"] == [hold["id"]], action
            assert named in row.details["refused"]
    assert refused["hold.refused_av_release"][0].actor_id == officer.user.id
    assert refused["hold.refused_account_removal"][0].actor_id == employee.user.id
    assert refused["hold.refused_account_removal"][0].object_type == "social_account"
    assert events(db, "classification.overridden")[-1].details["label"] == "record"
    assert events(db, "account.removed") == []

    # Released, the same edits go through.
    released = client.post(
        f"/api/v1/holds/{hold['id']}/release",
        json={"reason": "settled", "authority": "stipulated dismissal"},
        headers=officer.headers,
    )
    assert released.status_code == 200, released.text
    again = client.post(
        f"/api/v1/posts/{ids['held']}/classification",
        json={"label": "transitory", "reason": "just a notice"},
        headers=officer.headers,
    )
    assert again.status_code == 201, again.text
