"""Issue 17, requests: `received_at` is a time (a day alone still accepted; the migration keeps
old dates' local day), business days count from the local day, the acknowledgment letter is
made at intake and the denial letter at a denial (PDF/A, 19.35(4)(b) wording), and intake
without a saved search needs the officer's confirmation, in the API and on the page."""

from __future__ import annotations

import datetime as dt
import io
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pypdfium2
import pytest
from alembic import command
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from app.config import Settings
from app.migrate import alembic_config
from app.open_records.letters import REVIEW_RIGHTS
from app.open_records.models import RecordsRequest
from app.open_records.requests import deadline
from app.retention.calendar import load_calendar
from app.snapshots.pdfa_check import check_pdfa
from tests.conftest import POSTGRES_URL, MakePerson, Person, is_postgres


def ok(response: httpx.Response) -> Any:
    assert 200 <= response.status_code < 300, response.text
    return response.json()


def pdf_text(data: bytes) -> str:
    document = pypdfium2.PdfDocument(data)
    try:
        return "\n".join(
            document[i].get_textpage().get_text_bounded() for i in range(len(document))
        )
    finally:
        document.close()


def flat(text: str) -> str:
    return " ".join(text.split())


def open_api(client: TestClient, officer: Person, **body: Any) -> Any:
    return ok(
        client.post(
            "/api/v1/requests",
            json={"description": "Posts about the pool", "confirm_nothing_held": True, **body},
            headers=officer.headers,
        )
    )


def test_received_at_takes_a_time_or_a_day(client: TestClient, make_person: MakePerson) -> None:
    officer = make_person("records_officer")
    h = officer.headers
    timed = open_api(client, officer, received_at="2026-11-20T21:30:00-06:00")
    # 21:30 in Chicago is 03:30 UTC the next day; the local day stays the 20th.
    assert timed["received_at"] in ("2026-11-21T03:30:00Z", "2026-11-21T03:30:00+00:00")
    assert timed["received_time_known"] is True
    assert timed["received_on"] == "2026-11-20"
    day = open_api(client, officer, received_at="2026-11-20")
    assert day["received_time_known"] is False
    assert day["received_on"] == "2026-11-20"
    assert dt.datetime.fromisoformat(day["received_at"].replace("Z", "+00:00")) == dt.datetime(
        2026, 11, 20, 6, tzinfo=dt.UTC
    )  # the start of the day in Chicago (CST, UTC-6)
    legacy = open_api(client, officer, received_on="2026-11-19")
    assert (legacy["received_on"], legacy["received_time_known"]) == ("2026-11-19", False)
    for body, words in [
        ({"received_at": "2026-11-20T21:30:00"}, "UTC offset"),
        ({"received_at": "20/11/2026"}, "2026-11-20T14:05:00-06:00"),
        ({"received_at": "2999-01-01T00:00:00Z"}, "future"),
        ({"received_at": "2026-11-20", "received_on": "2026-11-20"}, "received_at only"),
        ({}, "received_at is required"),
    ]:
        refused = client.post(
            "/api/v1/requests",
            json={"description": "x", "confirm_nothing_held": True, **body},
            headers=h,
        )
        assert refused.status_code == 422, body
        assert words in refused.json()["detail"], (body, refused.json()["detail"])


def test_business_days_count_from_the_local_day(settings: Settings) -> None:
    calendar = load_calendar()
    # Thursday 19 Nov, 20:00 in Chicago, is Friday 02:00 UTC: the age counts from Thursday.
    request = RecordsRequest(
        number="2026-0001",
        received_at=dt.datetime(2026, 11, 20, 2, 0, tzinfo=dt.UTC),
        received_time_known=True,
        description="x",
        status="received",
    )
    due = deadline(request, today=dt.date(2026, 11, 27), calendar=calendar, settings=settings)
    assert due.age_business_days == 5  # Fri 20, Mon 23, Tue 24, Wed 25, Fri 27 (26: Thanksgiving)
    by_day = RecordsRequest(number="2026-0002", description="x", status="received")
    by_day.received_on = dt.date(2026, 11, 19)
    assert by_day.received_time_known is False
    assert by_day.received_on == dt.date(2026, 11, 19)
    same = deadline(by_day, today=dt.date(2026, 11, 27), calendar=calendar, settings=settings)
    assert same.age_business_days == 5


def test_acknowledgment_letter_is_made_at_intake(
    client: TestClient, make_person: MakePerson
) -> None:
    officer = make_person("records_officer")
    req = open_api(client, officer, received_at="2026-11-20T14:05:00-06:00", requester_name="Pat Q")
    letters = ok(client.get(f"/api/v1/requests/{req['id']}/letters", headers=officer.headers))
    assert [letter["kind"] for letter in letters] == ["acknowledgment"]
    download = client.get(letters[0]["download"], headers=officer.headers)
    assert download.status_code == 200
    assert download.headers["content-type"] == "application/pdf"
    assert download.headers["X-Content-SHA256"] == letters[0]["sha256"]
    assert check_pdfa(download.content) == []
    words = flat(pdf_text(download.content))
    assert req["number"] in words
    assert "What happens next" in words
    assert "19.35(4)(a)" in words
    assert "14:05" in words  # the time it arrived, in the city's time
    assert "Pat Q" in words
    audit = ok(
        client.get(
            "/api/v1/audit",
            params={"object_type": "records_request", "object_id": str(req["id"])},
            headers=officer.headers,
        )
    )
    actions = [e["action"] for e in audit["items"]]
    assert "request.letter_made" in actions
    assert "request.letter_viewed" in actions
    # No denial letter for a request that was not denied.
    assert (
        client.get(
            f"/api/v1/requests/{req['id']}/letters/denial.pdf", headers=officer.headers
        ).status_code
        == 404
    )


@pytest.mark.parametrize("decision", ["denied", "partly_denied"])
def test_a_denial_always_makes_its_letter(
    client: TestClient, make_person: MakePerson, decision: str
) -> None:
    officer = make_person("records_officer")
    rid = open_api(client, officer, received_at="2026-11-20")["id"]
    for status, reason in (("in_progress", None), (decision, "the records are drafts (19.32(2))")):
        ok(
            client.post(
                f"/api/v1/requests/{rid}/status",
                json={"status": status, "reason": reason},
                headers=officer.headers,
            )
        )
    # No package was made: the letter exists all the same.
    kinds = [
        letter["kind"]
        for letter in ok(client.get(f"/api/v1/requests/{rid}/letters", headers=officer.headers))
    ]
    assert kinds == ["acknowledgment", "denial"]
    letter = client.get(f"/api/v1/requests/{rid}/letters/denial.pdf", headers=officer.headers)
    assert letter.status_code == 200
    assert check_pdfa(letter.content) == []
    words = flat(pdf_text(letter.content))
    assert flat(REVIEW_RIGHTS) in words
    for needed in ("mandamus", "Attorney General", "district attorney", "19.35(4)(b)"):
        assert needed in words
    assert "the records are drafts (19.32(2))" in words
    assert ("denied in part" in words) == (decision == "partly_denied")


def test_intake_without_a_saved_search_needs_confirmation(
    client: TestClient, make_person: MakePerson
) -> None:
    officer = make_person("records_officer")
    h = officer.headers
    refused = client.post(
        "/api/v1/requests",
        json={"received_at": "2026-11-20", "description": "Posts about the pool"},
        headers=h,
    )
    assert refused.status_code == 422
    detail = refused.json()["detail"]
    assert "no post is held" in detail
    assert "confirm_nothing_held" in detail
    assert "saved_searches" in detail
    assert "/items" in detail
    held = ok(
        client.post(
            "/api/v1/requests",
            json={
                "received_at": "2026-11-20",
                "description": "Posts about the pool",
                "saved_searches": [{"text": "pool"}],
            },
            headers=h,
        )
    )
    assert held["saved_searches"][0]["text"] == "pool"
    confirmed = open_api(client, officer, received_at="2026-11-20")
    audit = ok(
        client.get(
            "/api/v1/audit",
            params={"object_type": "records_request", "object_id": str(confirmed["id"])},
            headers=h,
        )
    )
    received = next(e for e in audit["items"] if e["action"] == "request.received")
    assert received["details"]["nothing_held_confirmed"] is True


# --- the migration: old dates keep their local day -----------------------------------------


@pytest.fixture
def empty_database(tmp_path: Path) -> Iterator[str]:
    if not is_postgres():
        yield f"sqlite:///{tmp_path / 'letters.db'}"
        return
    name = f"pv_letters_{uuid.uuid4().hex[:10]}"
    admin = create_engine(make_url(POSTGRES_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_migration_turns_dates_into_the_start_of_the_local_day(empty_database: str) -> None:
    config = alembic_config(empty_database)
    command.upgrade(config, "records_0007_attempts")
    engine = create_engine(empty_database)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO users (id, email, name, role, is_active, created_at) "
                    "VALUES (1, 'o@city.example', 'O', 'records_officer', true, :now)"
                ),
                {"now": dt.datetime(2026, 7, 1, tzinfo=dt.UTC)},
            )
            for rid, day in ((1, dt.date(2026, 7, 6)), (2, dt.date(2026, 12, 7))):
                conn.execute(
                    text(
                        "INSERT INTO records_requests (id, number, requester_committed, "
                        "received_on, description, saved_searches, status, created_by_id, "
                        "created_at) VALUES (:id, :number, false, :day, 'x', '[]', 'received', "
                        "1, :now)"
                    ),
                    {
                        "id": rid,
                        "number": f"2026-000{rid}",
                        "day": day,
                        "now": dt.datetime(2026, 7, 1, tzinfo=dt.UTC),
                    },
                )
        command.upgrade(config, "head")
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT id, received_at, received_time_known FROM records_requests ORDER BY id"
                )
            ).all()
        moments = []
        for _id, value, known in rows:
            if isinstance(value, str):
                value = dt.datetime.fromisoformat(value)
            if value.tzinfo is None:  # SQLite keeps naive UTC
                value = value.replace(tzinfo=dt.UTC)
            moments.append(value.astimezone(dt.UTC))
            assert not known
        # Midnight in Chicago: CDT (UTC-5) in July, CST (UTC-6) in December.
        assert moments == [
            dt.datetime(2026, 7, 6, 5, tzinfo=dt.UTC),
            dt.datetime(2026, 12, 7, 6, tzinfo=dt.UTC),
        ]
        command.downgrade(config, "records_0007_attempts")
        with engine.connect() as conn:
            days = [
                str(day)[:10]
                for (day,) in conn.execute(
                    text("SELECT received_on FROM records_requests ORDER BY id")
                )
            ]
        assert days == ["2026-07-06", "2026-12-07"]
    finally:
        engine.dispose()


def test_the_web_form_asks_to_confirm_when_nothing_is_held(
    client: TestClient, make_person: MakePerson, db: Any
) -> None:
    from tests.web.support import give_password, page_csrf, sign_in

    officer = make_person("records_officer")
    give_password(db, officer.user)
    sign_in(client, officer.user.email)
    page = client.get("/officer/requests/new")
    assert 'name="confirm_nothing_held"' in page.text
    assert "add them to the responsive set" in page.text
    token = page_csrf(client, "/officer/requests/new")
    base = {
        "csrf_token": token,
        "received_on": "2026-11-20",
        "received_time": "14:05",
        "description": "Posts about the pool",
    }
    refused = client.post("/officer/requests", data=base)
    assert refused.status_code == 422
    assert 'id="confirm_nothing_held-error"' in refused.text
    assert "No post is held for this request yet" in refused.text
    opened = client.post(
        "/officer/requests", data={**base, "confirm_nothing_held": "yes"}, follow_redirects=False
    )
    assert opened.status_code == 303, opened.text
    shown = client.get(opened.headers["location"])
    assert "/letters/acknowledgment.pdf" in shown.text
    letter = client.get(
        opened.headers["location"].split("?")[0].replace("/officer/", "/api/v1/")
        + "/letters/acknowledgment.pdf"
    )
    assert letter.status_code == 200
    assert "14:05" in flat(pdf_text(letter.content))
    assert io.BytesIO(letter.content).read(4) == b"%PDF"
