"""Request lifecycle, deadlines in business days, the responsive set and its 4xx answers."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient

from app.config import Settings
from app.db import Database
from app.open_records.models import RecordsRequest
from app.open_records.requests import deadline
from app.posts.models import CapturedVersion, FlaggedPost
from app.retention.calendar import load_calendar
from tests.conftest import MakePerson, Person


def ok(response: httpx.Response) -> Any:
    assert 200 <= response.status_code < 300, response.text
    return response.json()


def new_request(client: TestClient, officer: Person, **extra: Any) -> Any:
    body = {
        "received_at": "2026-11-02",
        "description": "Posts about the budget",
        "confirm_nothing_held": True,
        **extra,
    }
    return ok(client.post("/api/v1/requests", json=body, headers=officer.headers))


def test_lifecycle_and_denial_reasons(client: TestClient, make_person: MakePerson) -> None:
    officer = make_person("records_officer")
    other = make_person("records_officer")
    req = new_request(client, officer, requester_name="  ", requester_contact="a@b.example")
    assert req["requester_name"] is None  # anonymous
    assert req["number"].startswith("2026-")
    rid = req["id"]

    def move(status: str, reason: str | None = None) -> httpx.Response:
        response: httpx.Response = client.post(
            f"/api/v1/requests/{rid}/status",
            json={"status": status, "reason": reason},
            headers=officer.headers,
        )
        return response

    skipped = move("granted")
    assert skipped.status_code == 409
    assert "can move to acknowledged, in_progress" in skipped.json()["detail"]
    assert ok(move("acknowledged"))["acknowledged_at"] is not None
    assert ok(move("in_progress"))["status"] == "in_progress"
    no_reason = move("denied")
    assert no_reason.status_code == 422
    assert "19.35(4)(b)" in no_reason.json()["detail"]
    denied = ok(move("denied", "no responsive records are exempt; none exist"))
    assert denied["decided_at"] is not None
    assert ok(move("closed"))["closed_at"] is not None
    assert move("in_progress").status_code == 409

    assigned = ok(
        client.patch(
            f"/api/v1/requests/{rid}",
            json={"assigned_to_id": other.user.id},
            headers=officer.headers,
        )
    )
    assert assigned["assigned_to_id"] == other.user.id
    employee = make_person()
    refused = client.patch(
        f"/api/v1/requests/{rid}",
        json={"assigned_to_id": employee.user.id},
        headers=officer.headers,
    )
    assert refused.status_code == 422
    note = ok(
        client.post(
            f"/api/v1/requests/{rid}/notes",
            json={"body": "Called the requester."},
            headers=officer.headers,
        )
    )
    assert note["body"] == "Called the requester."
    assert (
        client.post(
            f"/api/v1/requests/{rid}/notes", json={"body": "   "}, headers=officer.headers
        ).status_code
        == 422
    )
    audit = ok(
        client.get(
            "/api/v1/audit",
            params={"object_type": "records_request", "object_id": str(rid)},
            headers=officer.headers,
        )
    )
    actions = {e["action"] for e in audit["items"]}
    assert {
        "request.received",
        "request.acknowledged",
        "request.denied",
        "request.closed",
        "request.assigned",
        "request.note_added",
    } <= actions


def test_employees_reach_none_of_it(client: TestClient, make_person: MakePerson) -> None:
    officer, employee = make_person("records_officer"), make_person()
    rid = new_request(client, officer)["id"]
    for method, path in [
        ("GET", "/api/v1/requests"),
        ("GET", f"/api/v1/requests/{rid}"),
        ("POST", "/api/v1/requests"),
        ("GET", f"/api/v1/requests/{rid}/items"),
        ("POST", f"/api/v1/requests/{rid}/package"),
        ("POST", f"/api/v1/requests/{rid}/status"),
        ("GET", f"/api/v1/requests/{rid}/notes"),
    ]:
        assert client.request(method, path, headers=employee.headers, json={}).status_code == 403, (
            path
        )


def test_bad_input_is_a_clear_4xx(client: TestClient, make_person: MakePerson) -> None:
    officer = make_person("records_officer")
    h = officer.headers
    assert client.post("/api/v1/requests", json={"description": "x"}, headers=h).status_code == 422
    future = client.post(
        "/api/v1/requests", json={"received_on": "2999-01-01", "description": "x"}, headers=h
    )
    assert future.status_code == 422
    assert "future" in future.json()["detail"]
    empty_search = client.post(
        "/api/v1/requests",
        json={"received_on": "2026-11-02", "description": "x", "saved_searches": [{}]},
        headers=h,
    )
    assert empty_search.status_code == 422
    rid = new_request(client, officer)["id"]
    assert client.post(f"/api/v1/requests/{rid}/items", json={}, headers=h).status_code == 422
    assert (
        client.post(
            f"/api/v1/requests/{rid}/items",
            json={"search": {"text": "nothing matches this"}},
            headers=h,
        ).status_code
        == 422
    )
    assert client.get("/api/v1/requests/99999", headers=h).status_code == 404
    assert client.post(f"/api/v1/requests/{rid}/package", headers=h).status_code == 409
    assert client.get(f"/api/v1/requests/{rid}/package/12345", headers=h).status_code == 404


def test_deadlines_count_business_days(settings: Settings) -> None:
    calendar = load_calendar()
    request = RecordsRequest(
        number="2026-0001", received_on=dt.date(2026, 11, 20), description="x", status="received"
    )
    # Received Friday Nov 20; Thanksgiving (Nov 26) is a legal holiday.
    assert (
        deadline(
            request, today=dt.date(2026, 11, 27), calendar=calendar, settings=settings
        ).age_business_days
        == 4
    )
    due = deadline(request, today=dt.date(2026, 12, 3), calendar=calendar, settings=settings)
    assert (due.age_business_days, due.due_soon, due.overdue) == (8, True, False)
    late = deadline(request, today=dt.date(2026, 12, 8), calendar=calendar, settings=settings)
    assert (late.due_soon, late.overdue) == (False, True)
    request.status = "granted"
    request.decided_at = dt.datetime(2026, 11, 24, 15, tzinfo=dt.UTC)
    decided = deadline(request, today=dt.date(2027, 1, 5), calendar=calendar, settings=settings)
    assert (decided.age_business_days, decided.overdue) == (2, False)


def _archived_post(db: Database, person: Person, text: str) -> int:
    from app.accounts.service import register_account

    with db.session() as session:
        account, _ = register_account(
            session,
            owner=person.user,
            platform="mastodon",
            handle=f"{person.user.id}x@city.example",
        )
        post = FlaggedPost(
            account_id=account.id,
            flagged_by_id=person.user.id,
            url="https://city.example/@x/1",
            platform="mastodon",
            external_id=f"city.example/{person.user.id}",
            status="captured",
        )
        session.add(post)
        session.flush()
        for n in (1, 2):
            session.add(
                CapturedVersion(
                    post_id=post.id,
                    number=n,
                    content_hash=str(n) * 64,
                    source_sha256="b" * 64,
                    source_json="{}",
                    normalized={},
                    text=f"{text} v{n}",
                    collector="mastodon",
                    collector_version="t",
                )
            )
        return post.id


def test_items_by_search_and_removal_with_reason(
    client: TestClient, make_person: MakePerson, db: Database
) -> None:
    officer, employee = make_person("records_officer"), make_person()
    post_id = _archived_post(db, employee, "Budget hearing moved")
    rid = new_request(client, officer)["id"]
    items = ok(
        client.post(
            f"/api/v1/requests/{rid}/items",
            json={"search": {"text": "budget hearing"}},
            headers=officer.headers,
        )
    )
    assert [i["version_number"] for i in items] == [1, 2]
    latest = ok(
        client.post(
            f"/api/v1/requests/{rid}/items",
            json={"post_ids": [post_id], "latest_only": True},
            headers=officer.headers,
        )
    )
    assert latest == []  # already in the set
    removed = client.request(
        "DELETE",
        f"/api/v1/requests/{rid}/items/{items[0]['id']}",
        json={"reason": "duplicate of v2"},
        headers=officer.headers,
    )
    assert ok(removed)["removed_reason"] == "duplicate of v2"
    again = client.request(
        "DELETE",
        f"/api/v1/requests/{rid}/items/{items[0]['id']}",
        json={"reason": "x"},
        headers=officer.headers,
    )
    assert again.status_code == 409
    assert (
        client.request(
            "DELETE",
            f"/api/v1/requests/{rid}/items/{items[1]['id']}",
            json={},
            headers=officer.headers,
        ).status_code
        == 422
    )
    detail = ok(client.get(f"/api/v1/posts/{post_id}", headers=officer.headers))
    assert [h["kind"] for h in detail["holds"]] == ["open_records"]
    assert (
        ok(client.get(f"/api/v1/requests/{rid}", headers=officer.headers))["status"]
        == "in_progress"
    )


def test_cli_packages_a_request(
    client: TestClient, make_person: MakePerson, settings: Settings, tmp_path: Path
) -> None:
    officer = make_person("records_officer")
    rid = new_request(client, officer)["id"]
    ok(
        client.post(
            f"/api/v1/requests/{rid}/status",
            json={"status": "in_progress"},
            headers=officer.headers,
        )
    )
    ok(
        client.post(
            f"/api/v1/requests/{rid}/status",
            json={"status": "denied", "reason": "no such records exist"},
            headers=officer.headers,
        )
    )
    env = {
        "PATH": "/usr/bin:/bin",
        "POSTVAULT_DATABASE_URL": settings.database_url,
        "POSTVAULT_ARCHIVE_DIR": str(settings.archive_dir),
    }
    out = tmp_path / "package.zip"
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "requests", "package", str(rid), "--output", str(out)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    with zipfile.ZipFile(out) as archive:
        names = archive.namelist()
        letter = archive.read(next(n for n in names if n.endswith("data/letter.pdf")))
    assert any(n.endswith("bagit.txt") for n in names)
    assert letter.startswith(b"%PDF")
    missing = subprocess.run(
        [sys.executable, "-m", "app.cli", "requests", "package", "9999"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert missing.returncode == 2
    assert "no request 9999" in missing.stderr
