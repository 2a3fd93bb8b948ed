"""What the pages show and do, through the real app (TestClient, real database)."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select

from app.auth import service as auth_service
from app.auth.models import User
from app.classification.models import Classification
from app.config import Settings
from app.db import Database, utcnow
from app.open_records.models import RecordsRequest
from app.posts.models import CapturedVersion, FlaggedPost
from app.retention.calendar import local_today
from app.retention.models import DispositionBatch, DispositionItem, RetentionAssignment
from app.web.diff import Piece, word_diff
from app.web.service import first_url, holiday_calendar, request_deadline, request_mark
from tests.conftest import MakePerson
from tests.web.support import (
    PASSWORD,
    POST_URL,
    add_version,
    employee_with_post,
    give_password,
    page_csrf,
    sign_in,
)


def test_register_flag_and_see_a_post(
    client: TestClient, db: Database, make_person: MakePerson
) -> None:
    person = make_person()
    give_password(db, person.user)
    sign_in(client, person.user.email)

    # Flagging before registering the account: the reason, next to the field.
    token = page_csrf(client, "/flag")
    response = client.post("/flag", data={"csrf_token": token, "url": POST_URL, "note": ""})
    assert response.status_code == 422
    error = re.search(r'<p class="field-error" id="url-error">(.*?)</p>', response.text, re.S)
    assert error is not None
    assert (
        "not one of your registered accounts: register it first on the My accounts page."
        in error.group(1)
    )
    assert 'aria-describedby="url-hint url-error"' in response.text
    assert f'value="{POST_URL}"' in response.text  # what was typed stays in the form

    # Register by profile link; a wrong one is explained next to its field.
    token = page_csrf(client, "/accounts")
    bad = client.post("/accounts", data={"csrf_token": token, "platform": "", "account": "ftp://x"})
    assert bad.status_code == 422
    assert 'id="account-error"' in bad.text
    assert "Traceback" not in bad.text
    response = client.post(
        "/accounts",
        data={
            "csrf_token": token,
            "platform": "",
            "account": "https://bsky.app/profile/Ann.bsky.social",
        },
    )
    assert response.status_code == 200
    assert "The account is registered." in response.text
    assert "ann.bsky.social" in response.text

    response = client.post(
        "/flag", data={"csrf_token": token, "url": POST_URL, "note": "pool hours"}
    )
    assert response.status_code == 200
    assert str(response.url).split("?")[0].rsplit("/", 1)[0].endswith("/posts")
    assert "The post is flagged." in response.text
    assert "Waiting for capture" in response.text
    # Flagging it again leads to the same post.
    again = client.post("/flag", data={"csrf_token": token, "url": POST_URL})
    assert "already flagged" in again.text
    assert again.url == response.url.copy_with(query=b"done=already-flagged")

    listing = client.get("/posts")
    assert "Bluesky post by ann.bsky.social" in listing.text
    assert "Waiting for capture" in listing.text
    assert "1 post." in listing.text


def test_removing_an_account_and_the_reason_when_it_cannot_be(
    client: TestClient, db: Database, make_person: MakePerson
) -> None:
    person, post_id = employee_with_post(db, make_person)
    add_version(db, post_id, 1, "Pool opens at 9", pdf=False)
    sign_in(client, person.user.email)
    page = client.get("/accounts")
    account_id = int(re.search(r'action="/accounts/(\d+)/remove"', page.text).group(1))  # type: ignore[union-attr]
    token = page_csrf(client, "/accounts")
    response = client.post(f"/accounts/{account_id}/remove", data={"csrf_token": token})
    assert response.status_code == 409
    assert f'id="remove-{account_id}-error"' in response.text
    assert "has archived posts" in response.text
    # Someone else's account is simply not there.
    other = make_person()
    give_password(db, other.user)
    sign_in(client, other.user.email)
    token = page_csrf(client, "/accounts")
    assert (
        client.post(f"/accounts/{account_id}/remove", data={"csrf_token": token}).status_code == 404
    )
    # An account without archived posts goes.
    response = client.post(
        "/accounts",
        data={"csrf_token": token, "platform": "mastodon", "account": "@bo@mastodon.social"},
    )
    assert "bo@mastodon.social" in response.text
    new_id = int(re.search(r'action="/accounts/(\d+)/remove"', response.text).group(1))  # type: ignore[union-attr]
    response = client.post(f"/accounts/{new_id}/remove", data={"csrf_token": token})
    assert "The account is removed." in response.text
    assert "bo@mastodon.social" not in response.text


def test_post_page_shows_versions_pdf_links_and_an_escaped_diff(
    client: TestClient, db: Database, make_person: MakePerson
) -> None:
    person, post_id = employee_with_post(db, make_person)
    add_version(db, post_id, 1, "Pool opens at 9 <b>today</b>", pdf=True)
    add_version(db, post_id, 2, "Pool opens at 10 <script>alert(1)</script> today", pdf=False)
    with db.session() as session:
        post = session.get(FlaggedPost, post_id)
        assert post is not None
        post.status = "edited"
    sign_in(client, person.user.email)
    page = client.get(f"/posts/{post_id}").text
    assert "Version 1" in page and "Version 2" in page  # noqa: PT018
    assert f'href="/api/v1/posts/{post_id}/versions/1/snapshot.pdf"' in page
    assert f"/api/v1/posts/{post_id}/versions/2/snapshot.pdf" not in page
    assert "The PDF snapshot of this version is not made yet." in page
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert re.search(r"<del><span class=\"visually-hidden\">\[removed: </span>9 ", page)
    assert re.search(r"<ins><span class=\"visually-hidden\">\[added: </span>10 ", page)
    assert "Edited" in page
    # Fingerprints and classification details are for officers.
    assert "Content SHA-256" not in page


def test_failing_and_unavailable_posts_show_their_reason(
    client: TestClient, db: Database, make_person: MakePerson
) -> None:
    person, post_id = employee_with_post(db, make_person)
    with db.session() as session:
        post = session.get(FlaggedPost, post_id)
        assert post is not None
        post.status = "failing"
        post.last_error = "the platform answered 503 five times"
        post.failure_count = 5
    sign_in(client, person.user.email)
    for path in ("/posts", f"/posts/{post_id}", "/posts?status=failing"):
        text = client.get(path).text
        assert "Capture failing" in text
        assert "Why: the platform answered 503 five times" in text
    assert "No posts" not in client.get("/posts?status=failing").text
    assert "0 posts with this status." in client.get("/posts?status=captured").text


def test_share_target_and_bookmarklet_fill_in_the_link(
    client: TestClient, db: Database, make_person: MakePerson
) -> None:
    person = make_person()
    give_password(db, person.user)
    sign_in(client, person.user.email)
    shared = client.get(
        "/flag", params={"title": "Ann on Bluesky", "text": f"Pool news! {POST_URL}"}
    )
    assert f'value="{POST_URL}"' in shared.text
    assert 'class="bookmarklet" href="javascript:' in shared.text
    assert "http://testserver/flag?url=" in shared.text

    manifest = client.get("/manifest.webmanifest")
    assert manifest.headers["content-type"].startswith("application/manifest+json")
    body = manifest.json()
    assert body["share_target"] == {
        "action": "/flag",
        "method": "GET",
        "params": {"title": "title", "text": "text", "url": "url"},
    }
    for icon in body["icons"]:
        assert client.get(icon["src"]).headers["content-type"] == "image/png"


def test_first_url_finds_the_link_wherever_the_phone_put_it() -> None:
    assert (
        first_url("https://a.example/p/1", "ignored https://b.example") == "https://a.example/p/1"
    )
    assert first_url(None, "Look at this: https://bsky.app/profile/a/post/3x.", None) == (
        "https://bsky.app/profile/a/post/3x"
    )
    assert first_url("", "", "(see https://mastodon.social/@a/1)") == "https://mastodon.social/@a/1"
    assert first_url(None, "at://did:plc:abc/app.bsky.feed.post/3x", None) == (
        "at://did:plc:abc/app.bsky.feed.post/3x"
    )
    assert first_url(None, "https://en.wikipedia.org/wiki/Pool_(game)", None) == (
        "https://en.wikipedia.org/wiki/Pool_(game)"
    )
    assert first_url("just words", None, None) == ""


def test_word_diff_keeps_every_character() -> None:
    before, after = (
        "Pool opens at 9 today.\nBring ID",
        "Pool opens at 10 today.\nBring ID and a towel",
    )
    pieces = word_diff(before, after)
    assert "".join(p.text for p in pieces if p.kind != "added") == before
    assert "".join(p.text for p in pieces if p.kind != "removed") == after
    assert Piece("removed", "9 ") in pieces
    assert Piece("added", "10 ") in pieces
    assert word_diff("same", "same") == [Piece("equal", "same")]


def test_request_marks_follow_the_business_day_calendar(settings: Settings) -> None:
    calendar = holiday_calendar(settings)
    thanksgiving = dt.date(2026, 11, 26)  # a Thursday, and a Wisconsin legal holiday
    assert calendar.is_holiday(thanksgiving)

    def received(day: dt.date) -> RecordsRequest:
        return RecordsRequest(number="x", received_on=day, status="received", description="x")

    monday = dt.date(2026, 11, 23)
    # Mon → Fri of Thanksgiving week: Tue, Wed and Fri count, Thursday does not.
    due = request_deadline(received(monday), settings=settings, today=dt.date(2026, 11, 27))
    assert due.age_business_days == 3
    assert request_mark(due) is None
    # 8 business days is "due soon", more than 10 is "overdue" (the defaults).
    due = request_deadline(received(monday), settings=settings, today=dt.date(2026, 12, 4))
    assert due.age_business_days == 8
    assert request_mark(due) == "due soon"
    due = request_deadline(received(monday), settings=settings, today=dt.date(2026, 12, 9))
    assert due.age_business_days == 11
    assert request_mark(due) == "overdue"
    # A decided request is neither, however old.
    decided = received(monday)
    decided.status = "granted"
    due = request_deadline(decided, settings=settings, today=dt.date(2027, 1, 4))
    assert request_mark(due) is None


def test_officer_dashboard_lists_what_needs_attention(
    client: TestClient, db: Database, make_person: MakePerson
) -> None:
    employee, post_id = employee_with_post(db, make_person)
    officer = make_person("records_officer")
    give_password(db, officer.user)
    add_version(db, post_id, 1, "Council meets Tuesday", pdf=False)
    today = local_today()  # requests arrive on local days
    with db.session() as session:
        post = session.get(FlaggedPost, post_id)
        assert post is not None
        post.status = "failing"
        post.last_error = "the instance answered 500"
        post.failure_count = 3
        post.last_error_at = utcnow()
        post.first_captured_at = utcnow()
        version_id = session.scalars(select(CapturedVersion.id)).one()
        session.add(
            Classification(
                version_id=version_id,
                label="record",
                rule_id="R3-public-business",
                reasons=["mentions council business"],
                needs_review=True,
                classifier_version="1",
                config_hash="0" * 64,
            )
        )
        for number, age_days in (("R-2026-001", 30), ("R-2026-002", 0)):
            session.add(
                RecordsRequest(
                    number=number,
                    received_on=today - dt.timedelta(days=age_days),
                    description=f"All posts about the pool ({number})",
                    created_by_id=officer.user.id,
                    saved_searches=[],
                )
            )
        session.add(
            RetentionAssignment(
                post_id=post_id,
                label="record",
                schedule_id="city",
                schedule_version="1",
                series_code="COMM-01",
                retention="CR+2Y",
                due_on=today + dt.timedelta(days=10),
                whs_notice="required",
                disposition="destroy",
            )
        )
        batch = DispositionBatch(status="proposed")
        session.add(batch)
        session.flush()
        session.add(
            DispositionItem(
                batch_id=batch.id, post_id=post_id, status="pending", series_code="COMM-01"
            )
        )
    sign_in(client, officer.user.email)
    home = client.get("/")
    assert home.url.path == "/officer"
    page = home.text
    assert '<svg viewBox="0 0 360 196" role="img"' in page
    assert "1 flagged and 1 first captured" in page
    assert "Why: the instance answered 500" in page
    assert "R3-public-business" in page
    assert re.search(
        r"R-2026-001</strong></a>\s*<span class=\"status status-overdue\">Overdue", page
    )
    assert re.search(r"R-2026-002</strong></a>\s*</p>", page)
    assert "0 business days old" in page
    assert "series COMM-01" in page
    assert re.search(r"Batch \d+, proposed .*: 1 post<", page)
    # The officer's view of the post adds fingerprints and the classification's reasons.
    post_page = client.get(f"/posts/{post_id}").text
    assert "Content SHA-256" in post_page
    assert "mentions council business" in post_page
    assert employee.user.email in post_page
    assert "Bluesky post by ann.bsky.social" in client.get("/officer/posts?status=failing").text


def test_admin_creates_users_and_sets_passwords(
    client: TestClient, db: Database, make_person: MakePerson
) -> None:
    admin = make_person("admin")
    give_password(db, admin.user)
    sign_in(client, admin.user.email)
    token = page_csrf(client, "/admin/users")
    short = client.post(
        "/admin/users",
        data={
            "csrf_token": token,
            "email": "new@city.example",
            "name": "New",
            "role": "employee",
            "password": "short",
        },
    )
    assert short.status_code == 422
    assert 'id="new-password-error"' in short.text
    assert "A password needs at least 12 characters." in short.text
    assert 'value="new@city.example"' in short.text
    duplicate = client.post(
        "/admin/users",
        data={"csrf_token": token, "email": admin.user.email, "name": "X", "role": "employee"},
    )
    assert duplicate.status_code == 409
    assert 'id="new-email-error"' in duplicate.text
    with db.session() as session:
        assert session.scalar(select(User).where(User.email == "new@city.example")) is None

    created = client.post(
        "/admin/users",
        data={
            "csrf_token": token,
            "email": "New@City.example",
            "name": "Nia New",
            "role": "records_officer",
            "password": PASSWORD,
        },
    )
    assert "The user is created." in created.text
    assert "Nia New" in created.text
    with db.session() as session:
        user = session.scalar(select(User).where(User.email == "new@city.example"))
        assert user is not None
        assert user.role == "records_officer"
        assert auth_service.verify_password(session, email=user.email, password=PASSWORD) is user
        new_id = user.id
    reset = client.post(
        f"/admin/users/{new_id}/password", data={"csrf_token": token, "password": "tiny"}
    )
    assert f'id="password-{new_id}-error"' in reset.text
    reset = client.post(
        f"/admin/users/{new_id}/password",
        data={"csrf_token": token, "password": "a brand new password"},
    )
    assert "The password is set." in reset.text
    # An admin who resets their own password stays signed in.
    own = client.post(
        f"/admin/users/{admin.user.id}/password",
        data={"csrf_token": token, "password": "the admin's new password"},
    )
    assert "The password is set." in own.text
    # ...in a new session, with a new CSRF token: the old one no longer works.
    stale = client.post("/admin/users/999999/password", data={"csrf_token": token, "password": "x"})
    assert stale.status_code == 403
    token = page_csrf(client, "/admin/users")
    missing = client.post(
        "/admin/users/999999/password", data={"csrf_token": token, "password": "x"}
    )
    assert missing.status_code == 404


def test_errors_are_pages_with_a_sentence_for_people_and_json_for_the_api(
    client: TestClient, db: Database, make_person: MakePerson
) -> None:
    person = make_person()
    give_password(db, person.user)
    sign_in(client, person.user.email)
    missing = client.get("/no-such-page")
    assert missing.status_code == 404
    assert "There is no page at this address." in missing.text
    assert missing.headers["content-type"].startswith("text/html")
    bad = client.get("/posts/not-a-number")
    assert bad.status_code == 422
    assert "<h1>That could not be done</h1>" in bad.text
    assert client.get("/posts/424242").status_code == 404
    assert client.get("/api/v1/nothing").json() == {"detail": "Not Found"}
    assert client.get("/api/v1/posts/424242").json() == {"detail": "no post 424242"}
    # Pages are never cached and never framed.
    page = client.get("/flag")
    assert page.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]


def test_users_set_password_cli(tmp_path: Path, settings: Settings, db: Database) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "POSTVAULT_DATABASE_URL": settings.database_url,
        "POSTVAULT_ARCHIVE_DIR": str(tmp_path / "a"),
    }

    def run(args: list[str], stdin: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "app.cli", *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=env,
            cwd=Path(__file__).resolve().parents[2],
            check=False,
        )

    created = run(
        ["users", "create", "--email", "boss@city.example", "--name", "Boss", "--role", "admin"], ""
    )
    assert created.returncode == 0, created.stderr
    assert "postvault users set-password boss@city.example" in created.stdout
    short = run(["users", "set-password", "boss@city.example"], "too short\n")
    assert short.returncode == 2
    assert "at least 12 characters" in short.stderr
    empty = run(["users", "set-password", "boss@city.example"], "")
    assert empty.returncode == 2
    unknown = run(["users", "set-password", "nobody@city.example"], PASSWORD + "\n")
    assert unknown.returncode == 2
    assert "no user with email nobody@city.example" in unknown.stderr
    # A trailing space is part of the password; only the line end is not.
    done = run(
        ["users", "set-password", "Boss@City.example"], PASSWORD + " \nsecond line ignored\n"
    )
    assert done.returncode == 0, done.stderr
    assert "password set for boss@city.example" in done.stdout
    with db.session() as session:
        assert auth_service.verify_password(
            session, email="boss@city.example", password=PASSWORD + " "
        )
        assert (
            auth_service.verify_password(session, email="boss@city.example", password=PASSWORD)
            is None
        )


def test_dashboard_names_a_failing_fixity_check(
    client: TestClient, make_person: MakePerson, db: Database, settings: Settings
) -> None:
    from app.storage.fixity import check_fixity
    from app.storage.local import LocalStore
    from app.storage.service import put_object

    officer = make_person("records_officer")
    give_password(db, officer.user)
    store = LocalStore(settings.archive_dir)
    with db.session() as session:
        intact = put_object(
            session, store, b"intact photo", mime_type="image/jpeg", kind="media"
        ).sha256
        damaged = put_object(
            session, store, b"photo to damage", mime_type="image/jpeg", kind="media"
        ).sha256
    path = store.path_for(damaged)
    path.chmod(0o644)
    path.write_bytes(b"photo to damagE")
    with db.session() as session:
        report = check_fixity(session, store=store)
    assert [p.sha256 for p in report.problems] == [damaged]
    sign_in(client, officer.user.email)
    page = client.get("/officer").text
    assert "Fixity" in page
    assert damaged[:16] in page
    assert intact[:16] not in page
    assert "mismatch" in page
