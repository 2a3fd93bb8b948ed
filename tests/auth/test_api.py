"""Who may call what: the role matrix, and authentication on every route."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import MakePerson
from tests.factories import BSKY_POST, flag, register


def test_role_matrix(client: TestClient, make_person: MakePerson) -> None:
    alice, bob = make_person(), make_person()
    officer, admin = make_person("records_officer"), make_person("admin")
    account = register(client, alice, platform="bluesky", handle="alice.bsky.social")
    post = flag(client, alice, BSKY_POST)

    # Bob sees nothing of Alice's, and what he cannot see is "not found", not "forbidden".
    assert client.get("/api/v1/accounts", headers=bob.headers).json() == []
    assert client.get("/api/v1/posts", headers=bob.headers).json()["total"] == 0
    not_found = client.get(f"/api/v1/posts/{post['id']}", headers=bob.headers)
    missing = client.get("/api/v1/posts/999999", headers=bob.headers)
    assert not_found.status_code == missing.status_code == 404
    assert not_found.json()["detail"].replace(str(post["id"]), "N") == missing.json()[
        "detail"
    ].replace("999999", "N")
    assert (
        client.delete(f"/api/v1/accounts/{account['id']}", headers=bob.headers).status_code == 404
    )
    # Bob cannot flag for Alice's account, nor claim it.
    refused = client.post("/api/v1/posts", json={"url": BSKY_POST}, headers=bob.headers)
    assert refused.status_code == 422
    assert "not one of your registered accounts" in refused.json()["detail"]
    claim = client.post(
        "/api/v1/accounts",
        json={"platform": "bluesky", "handle": "alice.bsky.social"},
        headers=bob.headers,
    )
    assert claim.status_code == 409
    # Employees cannot read the audit log or list users.
    assert client.get("/api/v1/audit", headers=bob.headers).status_code == 403
    assert client.get("/api/v1/users", headers=bob.headers).status_code == 403
    assert (
        client.post(
            "/api/v1/users", json={"email": "x@city.example", "name": "X"}, headers=officer.headers
        ).status_code
        == 403
    )

    for privileged in (officer, admin):
        assert len(client.get("/api/v1/accounts", headers=privileged.headers).json()) == 1
        assert (
            client.get(f"/api/v1/posts/{post['id']}", headers=privileged.headers).status_code == 200
        )
        assert client.get("/api/v1/audit", headers=privileged.headers).status_code == 200

    created = client.post(
        "/api/v1/users",
        json={"email": "new@city.example", "name": "New", "role": "employee"},
        headers=admin.headers,
    )
    assert created.status_code == 201
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {created.json()['token']}"})
    assert me.json()["email"] == "new@city.example"


def test_authentication_is_required(client: TestClient) -> None:
    assert client.get("/api/v1/posts").status_code == 401
    bad = client.get("/api/v1/posts", headers={"Authorization": "Bearer pv_nope"})
    assert bad.status_code == 401
    assert "unknown or revoked" in bad.json()["detail"]
