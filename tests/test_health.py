"""Health and the API docs."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_healthz_and_docs(client: TestClient) -> None:
    health = client.get("/healthz")
    assert health.status_code == 200
    assert health.json() == {
        "status": "ok",
        "database": "ok",
        "archive": "ok",
        "archive_disk": "ok",
        "fonts": "ok",
        "fonts_missing": [],
    }
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/v1/accounts", "/api/v1/posts", "/api/v1/posts/{post_id}", "/api/v1/audit"} <= set(
        paths
    )
