"""The records officer's request workspace through the real app (TestClient, real database,
posts really captured from a loopback Mastodon instance): a request from intake to package
download, every form's bad input answered with a sentence next to its field, who may open
what, and ages in business days that agree with the API and the dashboard."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import re
import time
import zipfile

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.collectors import service as capture_service
from app.config import Settings
from app.db import Database
from app.errors import Invalid
from app.open_records.models import RecordsRequest, RequestItem
from app.open_records.redaction import find_leaks
from app.retention.calendar import business_days_between, load_calendar, local_today
from app.web.workspace import marked_text, spans_of
from tests.conftest import MakePerson
from tests.platforms.mastodon_like import MastodonInstance
from tests.web.support import (
    SECRET,
    app_routes,
    capturing_settings,
    employee_with_toot,
    give_password,
    page_csrf,
    sign_in,
)

EXEMPTION = "employee's home telephone number (Wis. Stat. 19.36(10)(a))"
_PARAM = re.compile(r"\{[^}]+\}")


@pytest.fixture
def settings(settings: Settings, masto: MastodonInstance) -> Settings:
    # Captures happen when a test asks for them, never on a scheduler's timing.
    return capturing_settings(settings, masto, run_scheduler=False)


def capture(client: TestClient, post_id: int) -> None:
    context = client.app.state.capture_context()  # type: ignore[attr-defined]
    report = capture_service.capture_now(context, post_id)
    assert report.outcome == "new_version", report


def field_error(html: str, field_id: str) -> str:
    """The sentence shown next to a field (without the screen-reader 'Error: ' prefix)."""
    match = re.search(
        rf'<p class="field-error" id="{re.escape(field_id)}-error"[^>]*>(.*?)</p>', html, re.S
    )
    assert match, f"no error next to {field_id}"
    return re.sub(r"<[^>]+>", "", match.group(1)).removeprefix("Error: ").strip()


def officer_signed_in(client: TestClient, db: Database, make_person: MakePerson) -> int:
    officer = make_person("records_officer")
    give_password(db, officer.user)
    sign_in(client, officer.user.email)
    return officer.user.id


def open_request(client: TestClient, **fields: str) -> int:
    token = page_csrf(client, "/officer/requests/new")
    data = {
        "csrf_token": token,
        "received_on": local_today().isoformat(),
        "description": "Every post about the Oak St pool",
        "confirm_nothing_held": "yes",
        **fields,
    }
    response = client.post("/officer/requests", data=data, follow_redirects=False)
    assert response.status_code == 303, response.text
    match = re.fullmatch(r"/officer/requests/(\d+)\?done=opened#main", response.headers["location"])
    assert match, response.headers["location"]
    return int(match.group(1))


def post_form(client: TestClient, path: str, **fields: str | list[str]) -> tuple[int, str]:
    """Send a form from the request page it belongs to (the CSRF token read there), following
    the redirect; returns the final status and page."""
    request_page = re.match(r"/officer/requests/\d+", path)
    token = page_csrf(client, request_page.group(0) if request_page else "/officer/requests")
    response = client.post(path, data={"csrf_token": token, **fields}, follow_redirects=True)
    assert "Traceback" not in response.text
    return response.status_code, response.text


def item_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<li class="card item" id="item-(\d+)"', html)]


def test_a_request_from_intake_to_package_download(
    client: TestClient, db: Database, make_person: MakePerson, masto: MastodonInstance
) -> None:
    employee, post_id = employee_with_toot(db, make_person, masto)
    capture(client, post_id)
    colleague = make_person("records_officer")
    officer_id = officer_signed_in(client, db, make_person)

    assert "No request is open." in client.get("/officer/requests").text
    new = client.get("/officer/requests/new").text
    assert f'value="{local_today().isoformat()}"' in new
    assert 'name="requester_committed" type="checkbox"' in new

    # Intake: anonymous, committed, with a saved search that holds the post at once.
    rid = open_request(
        client,
        requester_committed="yes",
        search_text="Oak St",
        search_employee=str(employee.user.id),
        assigned_to=str(officer_id),
    )
    page = client.get(f"/officer/requests/{rid}?done=opened").text
    assert "The request is logged." in page
    assert "<dd>Anonymous" in page
    assert "Committed or incarcerated" in page
    assert "1 post held for this request" in page
    assert f"Held at intake: words “Oak St”, posts of {employee.user.name}" in page
    assert "0 business days old" in page
    listing = client.get("/officer/requests").text
    assert f'href="/officer/requests/{rid}"' in listing
    assert "Anonymous requester · 0 items in the set" in listing

    # Search from the request page; the hit can be ticked and added.
    page = client.get(f"/officer/requests/{rid}", params={"q": "pool closes"}).text
    assert "1 version found, in 1 post" in page
    assert "<mark>" in page
    assert f'name="post_id" type="checkbox" value="{post_id}"' in page
    status, page = post_form(
        client, f"/officer/requests/{rid}/items", post_id=[str(post_id)], q="pool closes"
    )
    assert status == 200
    assert "The posts are in the responsive set" in page
    assert "In progress" in page
    [item_id] = item_ids(page)
    assert "Pool on Oak St closes in June." in page
    assert f'href="/api/v1/posts/{post_id}/versions/1/snapshot.pdf"' in page
    # Searching again marks the post as already in the set.
    assert "In the set" in client.get(f"/officer/requests/{rid}", params={"q": "pool"}).text

    # Redact the phone number by typing it; the copy is made and checked at once.
    status, page = post_form(
        client,
        f"/officer/requests/{rid}/items/{item_id}/redact",
        phrase=f" {SECRET} ",
        exemption=EXEMPTION,
    )
    assert status == 200
    assert "The redaction is made" in page
    assert f'<span class="visually-hidden">[redacted in the copy: </span>{SECRET}' in page
    shown_reason = EXEMPTION.replace("'", "&#39;")  # as Jinja escapes it
    assert f"Text “{SECRET}”: {shown_reason}" in page
    pdf = client.get(f"/officer/requests/{rid}/items/{item_id}/redacted.pdf")
    assert pdf.status_code == 200
    assert pdf.content.startswith(b"%PDF")
    assert hashlib.sha256(pdf.content).hexdigest() == pdf.headers["X-Content-SHA256"]
    assert find_leaks(pdf.content, [SECRET]) == []

    # Withhold the attached image.
    media = re.findall(r'name="media_sha256" value="([0-9a-f]{64})"', page)
    assert media, "the item's files have withhold forms"
    status, page = post_form(
        client,
        f"/officer/requests/{rid}/items/{item_id}/withhold",
        media_sha256=media[0],
        exemption="photo of a minor (Wis. Stat. 19.35(1)(a) balancing)",
    )
    assert status == 200
    assert "The file is withheld from the released copy." in page
    assert "Withheld: photo of a minor" in page

    # Notes and assignment.
    status, page = post_form(client, f"/officer/requests/{rid}/notes", body="Called the clerk.")
    assert "The note is added." in page
    assert "Called the clerk." in page
    status, page = post_form(
        client, f"/officer/requests/{rid}/assign", assigned_to=str(colleague.user.id)
    )
    assert "The assignment is changed." in page
    assert f'<option value="{colleague.user.id}" selected>' in page

    # The package, made in the background; the page shows its progress until it is ready.
    status, page = post_form(client, f"/officer/requests/{rid}/package")
    assert "The package is being made." in page
    deadline = time.monotonic() + 120
    while "Download the package" not in page:
        assert "Failed" not in page, page
        assert time.monotonic() < deadline, "the package was not made in time"
        time.sleep(0.3)
        page = client.get(f"/officer/requests/{rid}").text
    assert "Ready" in page
    href = re.search(r'href="(/officer/requests/\d+/packages/\d+/download)"', page)
    assert href
    download = client.get(href.group(1))
    assert download.status_code == 200
    assert download.headers["content-type"] == "application/zip"
    assert hashlib.sha256(download.content).hexdigest() == download.headers["X-Content-SHA256"]
    with zipfile.ZipFile(io.BytesIO(download.content)) as bag:
        names = bag.namelist()
        root = names[0].split("/")[0]
        assert f"{root}/bagit.txt" in names
        assert f"{root}/data/manifest.json" in names
        redacted = [n for n in names if n.endswith("-redacted.pdf")]
        assert len(redacted) == 1
        assert find_leaks(bag.read(redacted[0]), [SECRET]) == []

    # Granted: the age stops at the decision.
    status, page = post_form(client, f"/officer/requests/{rid}/status", status="granted")
    assert "status is changed." in page
    assert '<span class="status status-request">Granted</span>' in page
    assert "to the decision" in page

    with db.session() as session:
        actions = set(session.scalars(select(AuditEvent.action)))
    assert {
        "request.received",
        "request.items_added",
        "request.redacted",
        "request.redacted_copy_made",
        "request.redacted_copy_viewed",
        "request.note_added",
        "request.assigned",
        "request.package_started",
        "request.packaged",
        "request.package_downloaded",
        "request.granted",
    } <= actions


def test_every_workspace_form_answers_bad_input_with_a_sentence(
    client: TestClient, db: Database, make_person: MakePerson, masto: MastodonInstance
) -> None:
    employee, post_id = employee_with_toot(db, make_person, masto)
    capture(client, post_id)
    officer_signed_in(client, db, make_person)

    # Opening a request.
    token = page_csrf(client, "/officer/requests/new")
    bad_forms: list[tuple[dict[str, str], dict[str, str]]] = [
        (
            {"received_on": "", "description": "  "},
            {
                "received_on": "Give the date the request arrived.",
                "description": "Say what the requester asked for",
            },
        ),
        ({"received_on": "20/11/2026"}, {"received_on": "Give the date as year-month-day"}),
        (
            {"received_on": (local_today() + dt.timedelta(days=2)).isoformat()},
            {"received_on": "A request cannot arrive in the future."},
        ),
        ({"requester_name": "x" * 301}, {"requester_name": "at most 300 characters"}),
        ({"requester_contact": "x" * 501}, {"requester_contact": "at most 500 characters"}),
        ({"search_text": "x" * 501}, {"search_text": "at most 500 characters"}),
        ({"search_employee": "ann"}, {"search_employee": "Choose an employee from the list."}),
        ({"search_platform": "myspace"}, {"search_platform": "Choose a platform from the list."}),
        ({"assigned_to": "me"}, {"assigned_to": "Choose a records officer from the list."}),
        (
            {"assigned_to": str(employee.user.id)},
            {"assigned_to": f"User {employee.user.id} is not a records officer."},
        ),
    ]
    for changes, expected in bad_forms:
        data = {
            "csrf_token": token,
            "received_on": local_today().isoformat(),
            "description": "Posts about the pool",
            "confirm_nothing_held": "yes",
            **changes,
        }
        response = client.post("/officer/requests", data=data)
        assert response.status_code == 422, (changes, response.status_code)
        for field, sentence in expected.items():
            assert sentence in field_error(response.text, field), (changes, field)
            assert f'id="{field}"' in response.text
        assert "Posts about the pool" in response.text or "description" in expected
    with db.session() as session:
        assert session.scalars(select(RecordsRequest)).all() == []

    rid = open_request(client)
    base = f"/officer/requests/{rid}"

    # Search.
    for params, sentence in [
        ({"q": ""}, "Type a word or two to search for."),
        ({"q": "pool OR"}, "OR must stand between two search terms"),
        ({"q": "x" * 501}, "A search has at most 500 characters."),
        ({"q": "pool", "platform": "myspace"}, "Choose a platform from the list."),
        ({"q": "pool", "employee": "ann"}, "Choose an employee from the list."),
    ]:
        response = client.get(base, params=params)
        assert response.status_code == 422, params
        assert sentence in field_error(response.text, "q"), params

    # Adding to the set.
    for ticked, sentence in [
        ([], "Tick at least one post to add."),
        (["abc"], "could not be read"),
        (["999999"], "No posts 999999."),
    ]:
        status, page = post_form(client, f"{base}/items", post_id=ticked)
        assert status == 422, ticked
        assert sentence in field_error(page, "add"), ticked

    # Status: from "received", granting is not a next step; a denial needs its reasons.
    status, page = post_form(client, f"{base}/status", status="granted")
    assert status == 409
    assert "The request is received now: it can move to acknowledged or in progress." == (
        field_error(page, "status")
    )
    status, page = post_form(client, f"{base}/status", status="approved")
    assert status == 422
    assert field_error(page, "status") == "Choose the next step from the list."
    status, page = post_form(client, f"{base}/items", post_id=[str(post_id)])
    assert status == 200
    status, page = post_form(client, f"{base}/status", status="denied", reason="  ")
    assert status == 422
    assert "A denial must give its reasons in writing" in field_error(page, "reason")
    status, page = post_form(client, f"{base}/status", status="granted", reason="x" * 10_001)
    assert status == 422
    assert "at most 10000 characters" in field_error(page, "reason")

    # Assignment and notes.
    status, page = post_form(client, f"{base}/assign", assigned_to="abc")
    assert status == 422
    assert field_error(page, "assigned_to") == "Choose a records officer from the list."
    status, page = post_form(client, f"{base}/assign", assigned_to=str(employee.user.id))
    assert status == 422
    assert "is not a records officer" in field_error(page, "assigned_to")
    status, page = post_form(client, f"{base}/notes", body="   ")
    assert status == 422
    assert field_error(page, "note") == "Write the note before adding it."

    # Redaction by typed text: missing, ambiguous, wrong capitals, no reason.
    [item_id] = item_ids(page)
    redact = f"{base}/items/{item_id}/redact"
    for fields, field, sentence in [
        ({"phrase": " ", "exemption": EXEMPTION}, "phrase", "Type the text to redact"),
        ({"phrase": "555-9999", "exemption": EXEMPTION}, "phrase", "That text is not in the item"),
        ({"phrase": "Oak St", "exemption": EXEMPTION}, "phrase", "appears 2 times in the item"),
        ({"phrase": "OAK ST parking", "exemption": EXEMPTION}, "phrase", "different capital"),
        ({"phrase": SECRET, "exemption": " "}, "exemption", "Give the reason"),
        ({"phrase": SECRET, "exemption": "x" * 2001}, "exemption", "at most 2000 characters"),
    ]:
        status, page = post_form(client, redact, **fields)
        assert status == 422, fields
        assert sentence in field_error(page, f"{field}-{item_id}"), fields
        assert f'value="{fields["phrase"]}"' in page  # what was typed stays in the form
    with db.session() as session:
        item = session.get(RequestItem, item_id)
        assert item is not None
        assert item.redacted_sha256 is None  # nothing was redacted by the refused forms
    # "Every place it appears" resolves the ambiguity.
    status, page = post_form(client, redact, phrase="Oak St", exemption="location", every="yes")
    assert status == 200
    assert page.count('[redacted in the copy: </span>Oak St<span class="visually-hidden">]') == 2

    # Withholding a file.
    media = re.findall(r'name="media_sha256" value="([0-9a-f]{64})"', page)
    withhold = f"{base}/items/{item_id}/withhold"
    status, page = post_form(client, withhold, media_sha256=media[0], exemption="")
    assert status == 422
    assert "Give the reason" in field_error(page, f"withhold-{item_id}-{media[0]}")
    status, page = post_form(client, withhold, media_sha256="nope", exemption="minor")
    assert status == 422
    assert "is not part of version 1" in field_error(page, f"withhold-{item_id}")

    # Packages: not before a set exists (on a second request), not twice at once.
    other = open_request(client, description="Posts about the library")
    status, page = post_form(client, f"/officer/requests/{other}/package")
    assert status == 409
    assert "has nothing in its responsive set to package" in field_error(page, "package")
    response = client.get(f"{base}/packages/999/download")
    assert response.status_code == 404
    assert "No package 999" in response.text
    response = client.get(f"/officer/requests/{other}/items/{item_id}/redacted.pdf")
    assert response.status_code == 404

    # Taking an item out needs a reason; a removed item cannot be redacted.
    status, page = post_form(client, f"{base}/items/{item_id}/remove", reason=" ")
    assert status == 422
    assert "Say why the item leaves the set" in field_error(page, f"remove-{item_id}")
    status, page = post_form(client, f"{base}/items/{item_id}/remove", reason="not responsive")
    assert status == 200
    assert "Taken out of the set (1)" in page
    assert "not responsive" in page
    status, page = post_form(client, redact, phrase=SECRET, exemption=EXEMPTION)
    assert status == 409
    assert "taken out of the set" in field_error(page, f"phrase-{item_id}")

    # Unknown requests and items are "not found" pages, not errors.
    assert client.get("/officer/requests/999999").status_code == 404
    token = page_csrf(client, base)
    for path, fields in [
        ("/officer/requests/999999/notes", {"body": "x"}),
        (f"{base}/items/999999/redact", {"phrase": "x", "exemption": "y"}),
        (f"/officer/requests/{other}/items/{item_id}/withhold", {"media_sha256": media[0]}),
    ]:
        response = client.post(path, data={"csrf_token": token, **fields})
        assert response.status_code == 404, path
        assert "<h1>Not found</h1>" in response.text


def test_employees_get_403_on_every_request_page_and_form(
    client: TestClient, db: Database, make_person: MakePerson
) -> None:
    employee = make_person()
    give_password(db, employee.user)
    routes = [
        (method, path)
        for path, route in app_routes(client.app.routes)  # type: ignore[attr-defined]
        if path.startswith("/officer/requests")
        for method in sorted((route.methods or set()) - {"HEAD"})
    ]
    paths = {path for _method, path in routes}
    assert {
        "/officer/requests",
        "/officer/requests/new",
        "/officer/requests/{request_id}",
        "/officer/requests/{request_id}/status",
        "/officer/requests/{request_id}/assign",
        "/officer/requests/{request_id}/notes",
        "/officer/requests/{request_id}/items",
        "/officer/requests/{request_id}/items/{item_id}/redact",
        "/officer/requests/{request_id}/items/{item_id}/withhold",
        "/officer/requests/{request_id}/items/{item_id}/remove",
        "/officer/requests/{request_id}/items/{item_id}/redacted.pdf",
        "/officer/requests/{request_id}/package",
        "/officer/requests/{request_id}/packages/{package_id}/download",
    } <= paths

    # Signed out: pages send to sign-in, forms are refused.
    for method, path in routes:
        url = _PARAM.sub("1", path)
        if method == "GET":
            response = client.get(url, follow_redirects=False)
            assert response.status_code == 303, url
            assert response.headers["location"].startswith("/login?next=")
    sign_in(client, employee.user.email)
    token = page_csrf(client, "/flag")
    for method, path in routes:
        url = _PARAM.sub("1", path)
        response = client.request(
            method, url, data={"csrf_token": token} if method == "POST" else None
        )
        assert response.status_code == 403, (method, url)
        assert "This page is for records officers." in response.text
    with db.session() as session:
        assert session.scalars(select(RecordsRequest)).all() == []


def test_request_ages_count_business_days_like_the_api_and_the_dashboard(
    client: TestClient, db: Database, make_person: MakePerson, settings: Settings
) -> None:
    officer_id = officer_signed_in(client, db, make_person)
    calendar = load_calendar(settings.holiday_calendar)
    today = local_today(settings.retention_timezone)
    # The day before the latest weekday holiday: a weekday-only count is one day too many.
    holidays = sorted(
        day
        for year in (today.year - 1, today.year)
        for day in calendar.holidays_in(year)
        if day < today and day.weekday() < 5
    )
    received = holidays[-1] - dt.timedelta(days=1)
    weekdays_only = sum(
        1
        for n in range(1, (today - received).days + 1)
        if (received + dt.timedelta(days=n)).weekday() < 5
    )
    expected = business_days_between(received, today, calendar)
    assert expected < weekdays_only
    with db.session() as session:
        for number, day in (("2026-9001", received), ("2026-9002", today)):
            session.add(
                RecordsRequest(
                    number=number,
                    received_on=day,
                    description=f"Posts about parks ({number})",
                    created_by_id=officer_id,
                    saved_searches=[],
                )
            )
        session.flush()
        old_id = session.scalars(
            select(RecordsRequest.id).where(RecordsRequest.number == "2026-9001")
        ).one()

    age = f"{expected} business day{'' if expected == 1 else 's'} old"
    listing = client.get("/officer/requests").text
    assert age in listing
    assert listing.index("2026-9001") < listing.index("2026-9002")  # the oldest first
    assert age in client.get(f"/officer/requests/{old_id}").text
    assert age in client.get("/officer").text
    # The API's token-less GET with the page's cookie reads the same age.
    assert client.get(f"/api/v1/requests/{old_id}").json()["age_business_days"] == expected
    mark = "Overdue" if expected > settings.request_overdue_business_days else None
    if expected >= settings.request_due_soon_business_days and mark is None:
        mark = "Due soon"
    card = listing[listing.index("2026-9001") : listing.index("2026-9002")]
    if mark:
        assert f'">{mark}</span>' in card
    else:
        assert "status-overdue" not in card and "status-due-soon" not in card  # noqa: PT018
    # Filters: the decided and closed ones are not "open".
    assert "2026-9001" in client.get("/officer/requests?status=received").text
    assert "No request here." in client.get("/officer/requests?status=granted").text
    assert "2026-9001" in client.get("/officer/requests?status=nonsense").text


def test_capture_now_from_the_post_page_and_its_pdf(
    client: TestClient, db: Database, make_person: MakePerson, masto: MastodonInstance
) -> None:
    employee, post_id = employee_with_toot(db, make_person, masto)
    sign_in(client, employee.user.email)
    page = client.get(f"/posts/{post_id}").text
    assert "Waiting for capture" in page
    assert "The PDF snapshot" not in page or "not made yet" in page
    token = page_csrf(client, f"/posts/{post_id}")
    response = client.post(f"/posts/{post_id}/capture", data={"csrf_token": token})
    assert response.status_code == 200
    assert "PostVault captured the post again and kept the new version." in response.text
    assert '<span class="status status-captured">Captured</span>' in response.text
    href = re.search(r'href="(/api/v1/posts/\d+/versions/1/snapshot\.pdf)"', response.text)
    assert href, "the captured version links its PDF snapshot"
    pdf = client.get(href.group(1))
    assert pdf.status_code == 200
    assert pdf.content.startswith(b"%PDF")
    assert hashlib.sha256(pdf.content).hexdigest() == pdf.headers["X-Content-SHA256"]

    # Unchanged, then edited on the platform.
    again = client.post(f"/posts/{post_id}/capture", data={"csrf_token": token})
    assert "nothing changed since the last capture" in again.text
    masto.edit("117020586180926938", "<p>Pool on Oak St closes all of June.</p>")
    edited = client.post(f"/posts/{post_id}/capture", data={"csrf_token": token})
    assert '<span class="status status-edited">Edited</span>' in edited.text
    assert "Version 1 to version" in edited.text

    # Gone from the platform.
    masto.statuses["117020586180926938"].deleted = True
    gone = client.post(f"/posts/{post_id}/capture", data={"csrf_token": token})
    assert "The post is gone from the platform" in gone.text

    # A failing platform: the reason on the page, not an error page.
    masto.statuses["117020586180926938"].deleted = False
    masto.fail_next = 50
    failing = client.post(f"/posts/{post_id}/capture", data={"csrf_token": token})
    assert failing.status_code == 200
    assert 'id="capture-error"' in failing.text
    assert "The capture did not succeed" in failing.text
    masto.fail_next = 0

    # Someone else's post: not found, and nothing captured.
    other = make_person()
    give_password(db, other.user)
    sign_in(client, other.user.email)
    token = page_csrf(client, "/flag")
    response = client.post(f"/posts/{post_id}/capture", data={"csrf_token": token})
    assert response.status_code == 404


def test_capture_now_while_a_capture_runs_is_a_sentence(
    client: TestClient, db: Database, make_person: MakePerson, masto: MastodonInstance
) -> None:
    employee, post_id = employee_with_toot(db, make_person, masto)
    context = client.app.state.capture_context()  # type: ignore[attr-defined]
    assert capture_service.claim_one(context, post_id)  # a worker holds the post
    sign_in(client, employee.user.email)
    token = page_csrf(client, f"/posts/{post_id}")
    response = client.post(f"/posts/{post_id}/capture", data={"csrf_token": token})
    assert response.status_code == 409
    assert "is being captured right now; try again in a moment." in response.text
    assert "Waiting for capture" in response.text


def test_spans_of_finds_exactly_one_place_or_says_why_not() -> None:
    text = "Call 555-0142 or 555-0142. Oak St."
    assert spans_of(text, "Oak St", every=False) == [(27, 33)]
    assert spans_of(text, "555-0142", every=True) == [(5, 13), (17, 25)]
    with pytest.raises(Invalid, match="appears 2 times"):
        spans_of(text, "555-0142", every=False)
    with pytest.raises(Invalid, match="different capital letters"):
        spans_of(text, "oak st", every=False)
    with pytest.raises(Invalid, match="not in the item"):
        spans_of(text, "Elm St", every=False)
    with pytest.raises(Invalid, match="type the text"):
        spans_of(text, "", every=False)
    # Overlapping occurrences count as ambiguous, and "every" covers them once.
    assert spans_of("aaa", "aa", every=True) == [(0, 2)]
    with pytest.raises(Invalid, match="appears 2 times"):
        spans_of("aaa", "aa", every=False)


def test_marked_text_shows_what_will_be_redacted() -> None:
    from app.open_records.models import Redaction

    def red(start: int, end: int, why: str) -> Redaction:
        return Redaction(kind="text", start=start, end=end, exemption=why)

    pieces = marked_text("Call 555-0142 now", [red(5, 13, "phone"), red(9, 13, "again")])
    assert [(p.text, p.exemption) for p in pieces] == [
        ("Call ", None),
        ("555-0142", "phone; again"),
        (" now", None),
    ]
    assert marked_text("", []) == []
