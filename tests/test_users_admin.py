"""Deactivating users and revoking API tokens, by CLI, API and the admin page, all audited
(issue 13, item 5)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.auth.models import ApiToken, User
from app.config import Settings
from app.db import Database
from tests.conftest import MakePerson
from tests.web.support import give_password, page_csrf, sign_in


def _actions(db: Database) -> list[str]:
    with db.session() as session:
        return list(session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


def test_api_lists_revokes_and_deactivates(
    client: TestClient, db: Database, make_person: MakePerson
) -> None:
    admin = make_person("admin")
    ann = make_person()
    bob = make_person()
    assert client.get("/api/v1/me", headers=ann.headers).status_code == 200

    listed = client.get(f"/api/v1/users/{ann.user.id}/tokens", headers=admin.headers)
    assert listed.status_code == 200
    [token] = listed.json()
    assert token["last_used_at"] is not None
    assert token["revoked_at"] is None
    assert "token_hash" not in token
    assert not any(ann.token in str(v) for v in token.values())
    # Employees see only their own tokens; others' are not theirs to list or revoke.
    assert client.get(f"/api/v1/users/{ann.user.id}/tokens", headers=bob.headers).status_code == 403
    assert (
        client.post(f"/api/v1/tokens/{token['id']}/revoke", headers=bob.headers).status_code == 404
    )

    revoked = client.post(f"/api/v1/tokens/{token['id']}/revoke", headers=admin.headers)
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    assert client.get("/api/v1/me", headers=ann.headers).status_code == 401

    # Deactivation: bob's token stops working; employees cannot deactivate anyone.
    assert (
        client.post(f"/api/v1/users/{bob.user.id}/deactivate", headers=ann.headers).status_code
        == 401
    )
    assert (
        client.post(f"/api/v1/users/{admin.user.id}/deactivate", headers=bob.headers).status_code
        == 403
    )
    done = client.post(f"/api/v1/users/{bob.user.id}/deactivate", headers=admin.headers)
    assert done.status_code == 200
    assert done.json()["is_active"] is False
    assert client.get("/api/v1/me", headers=bob.headers).status_code == 401
    assert client.post("/api/v1/users/999999/deactivate", headers=admin.headers).status_code == 404

    role = client.put(
        f"/api/v1/users/{ann.user.id}/role", headers=admin.headers, json={"role": "admin"}
    )
    assert role.status_code == 200
    assert role.json()["role"] == "admin"
    actions = _actions(db)
    assert "token.revoked" in actions
    assert "user.deactivated" in actions
    assert "user.role_changed" in actions


def _cli(args: list[str], settings: Settings, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": "/usr/bin:/bin",
        "POSTVAULT_DATABASE_URL": settings.database_url,
        "POSTVAULT_ARCHIVE_DIR": str(settings.archive_dir),
    }
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        check=False,
    )


def test_cli_tokens_revoke_and_deactivate(
    client: TestClient, db: Database, make_person: MakePerson, settings: Settings, tmp_path: Path
) -> None:
    ann = make_person()
    assert client.get("/api/v1/me", headers=ann.headers).status_code == 200
    listed = _cli(["users", "tokens", ann.user.email], settings, tmp_path)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.strip().splitlines()
    assert lines[0].split() == ["id", "label", "created", "last", "used", "state"]
    assert "active" in lines[1]
    assert "never" not in lines[1]  # it was used just now
    assert ann.token not in listed.stdout
    token_id = lines[1].split()[0]

    revoked = _cli(["users", "revoke-token", token_id], settings, tmp_path)
    assert revoked.returncode == 0, revoked.stderr
    assert client.get("/api/v1/me", headers=ann.headers).status_code == 401
    again = _cli(["users", "revoke-token", token_id], settings, tmp_path)
    assert "already revoked" in again.stdout
    unknown = _cli(["users", "revoke-token", "99999999999999999999"], settings, tmp_path)
    assert unknown.returncode == 2
    assert "not a token id" in unknown.stderr

    deactivated = _cli(["users", "deactivate", ann.user.email], settings, tmp_path)
    assert deactivated.returncode == 0, deactivated.stderr
    with db.session() as session:
        user = session.get(User, ann.user.id)
        assert user is not None
        assert user.is_active is False
    nobody = _cli(["users", "deactivate", "nobody@city.example"], settings, tmp_path)
    assert nobody.returncode == 2
    assert "no user with email" in nobody.stderr
    actions = _actions(db)
    assert actions.count("token.revoked") == 1
    assert actions.count("user.deactivated") == 1


def test_admin_page_revokes_and_deactivates(
    client: TestClient, db: Database, make_person: MakePerson
) -> None:
    admin = make_person("admin")
    ann = make_person()
    give_password(db, admin.user)
    sign_in(client, admin.user.email)
    page = client.get("/admin/users")
    assert page.status_code == 200
    with db.session() as session:
        token_id = session.scalars(select(ApiToken.id).where(ApiToken.user_id == ann.user.id)).one()
    assert f"Revoke #{token_id}" in page.text
    csrf = page_csrf(client, "/admin/users")
    response = client.post(
        f"/admin/tokens/{token_id}/revoke", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert response.status_code == 303
    assert client.get("/api/v1/me", headers=ann.headers).status_code == 401
    response = client.post(
        f"/admin/users/{ann.user.id}/deactivate", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert response.status_code == 303
    assert "deactivated" in client.get("/admin/users").text
    # Without the form's CSRF token nothing happens.
    assert (
        client.post(f"/admin/users/{admin.user.id}/role", data={"role": "employee"}).status_code
        == 403
    )
    actions = _actions(db)
    assert "token.revoked" in actions
    assert "user.deactivated" in actions
