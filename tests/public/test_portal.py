"""The public portal with the TestClient: filing a request (holds, the token kept hashed,
size caps, honeypot, CSRF, per-address limits), tracking (wrong, guessed and other requests'
tokens), fees holding the release, and the reading room exposing released items only."""

from __future__ import annotations

import hashlib
import io
import re
import zipfile

from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

from app.audit.models import AuditEvent
from app.config import Settings
from app.db import Database
from app.main import create_app
from app.open_records.models import RecordsRequest, RequestItem, RequestStatus
from app.open_records.redaction import archived_snapshot_sha256, find_leaks
from app.public import fees
from app.public.models import FeeStatus, PortalAttempt, PortalRequest
from app.public.service import token_hash
from app.retention.models import Hold
from app.storage.local import LocalStore
from tests.conftest import MakePerson
from tests.public.helpers import (
    SECRET,
    add_and_redact,
    decide,
    file_request,
    make_package,
    post_with_text,
    request_id_of,
)
from tests.snapshots.conftest import ArchivePost
from tests.web.support import app_routes, csrf_of, give_password, sign_in


def test_the_portal_is_off_unless_the_setting_turns_it_on(settings: Settings, db: Database) -> None:
    off = create_app(settings.model_copy(update={"public_portal": False}), database=db)
    with TestClient(off) as client:
        for path in ("/public/", "/public/request", "/public/reading-room", "/public/track/x" * 1):
            assert client.get(path).status_code == 404, path


def test_a_request_is_filed_like_a_logged_one_with_holds_and_a_hashed_token(
    client: TestClient, db: Database, make_person: MakePerson
) -> None:
    page = client.get("/public/request")
    assert "stay anonymous" in page.text
    assert "or a reason" in page.text
    assert "<script" not in page.text
    path, number = file_request(client, platform="bluesky", date_from="2026-01-01")
    token = path.rsplit("/", 1)[1]
    assert len(token) >= 40
    request_id = request_id_of(db, number)
    with db.session() as session:
        row = session.get(PortalRequest, request_id)
        assert row is not None
        assert row.token_sha256 == token_hash(token)
        stored = session.get(RecordsRequest, request_id)
        assert stored is not None
        assert stored.requester_name is None
        holds = list(session.scalars(select(Hold).where(Hold.request_id == request_id)))
        assert len(holds) == 1
        assert holds[0].scope is not None
        assert holds[0].scope["platform"] == "bluesky"
        # The token itself is nowhere in the database (only its hash).
        for table in ("portal_requests", "records_requests", "audit_events"):
            rows = session.execute(text(f"SELECT * FROM {table}")).all()
            assert rows
            assert token not in repr(rows)
    # The officer's request page says how it came in.
    officer = make_person("records_officer")
    give_password(db, officer.user)
    sign_in(client, officer.user.email)
    officer_page = client.get(f"/officer/requests/{request_id}")
    assert "Came in through the public portal" in officer_page.text
    assert client.get(path).status_code == 200


def test_fields_are_capped_required_and_escaped(client: TestClient, db: Database) -> None:
    csrf = csrf_of(client.get("/public/request").text)
    too_long = client.post("/public/request", data={"description": "x" * 5001, "csrf_token": csrf})
    assert too_long.status_code == 422
    assert "at most 5,000 characters" in too_long.text
    missing = client.post("/public/request", data={"description": " ", "csrf_token": csrf})
    assert missing.status_code == 422
    assert "Describe the records" in missing.text
    long_name = client.post(
        "/public/request", data={"description": "a", "name": "n" * 201, "csrf_token": csrf}
    )
    assert long_name.status_code == 422
    path, _ = file_request(client, description="<script>alert(1)</script> pool", name="<b>x</b>")
    tracked = client.get(path)
    assert "<script>alert(1)" not in tracked.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in tracked.text
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(RecordsRequest)) == 1


def test_every_portal_form_needs_its_csrf_token(client: TestClient, db: Database) -> None:
    client.get("/public/request")
    refused = client.post("/public/request", data={"description": "pool"})
    assert refused.status_code == 403
    wrong = client.post("/public/request", data={"description": "pool", "csrf_token": "forged"})
    assert wrong.status_code == 403
    assert client.post("/public/track", data={"link": "abc"}).status_code == 403
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(RecordsRequest)) == 0


def test_the_honeypot_files_nothing(client: TestClient, db: Database) -> None:
    csrf = csrf_of(client.get("/public/request").text)
    answer = client.post(
        "/public/request",
        data={"description": "pool", "website": "http://spam.example", "csrf_token": csrf},
    )
    assert answer.status_code == 422
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(RecordsRequest)) == 0
        assert session.scalar(select(func.count()).select_from(PortalAttempt)) == 1


def test_requests_per_address_are_limited_in_the_database(settings: Settings, db: Database) -> None:
    limited = settings.model_copy(update={"public_requests_per_address_per_day": 2})
    with TestClient(create_app(limited, database=db)) as client:
        file_request(client)
        file_request(client)
        csrf = csrf_of(client.get("/public/request").text)
        third = client.post("/public/request", data={"description": "a", "csrf_token": csrf})
        assert third.status_code == 429
        assert "as many requests as the portal takes in a day" in third.text
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(RecordsRequest)) == 2


def test_wrong_and_guessed_tokens_find_nothing_and_are_limited(
    settings: Settings, db: Database
) -> None:
    limited = settings.model_copy(update={"public_track_per_address_per_hour": 4})
    with TestClient(create_app(limited, database=db)) as client:
        path, _ = file_request(client)
        token = path.rsplit("/", 1)[1]
        guesses = [
            token[:-1] + ("A" if token[-1] != "A" else "B"),  # one character off
            "A" * len(token),
            token_hash(token),  # the stored hash is not a token
        ]
        for guess in guesses:
            answer = client.get(f"/public/track/{guess}")
            assert answer.status_code == 404, guess
            assert "Posts about the Oak St pool" not in answer.text
        # The fourth miss uses up the share: now even the right link waits.
        assert client.get("/public/track/nothing-like-a-token").status_code == 404
        assert client.get(path).status_code == 429
        assert client.get(path + "/package.zip").status_code == 429


def test_another_requests_token_shows_only_that_request(client: TestClient) -> None:
    first, number_1 = file_request(client, description="Posts about the Oak St pool")
    second, number_2 = file_request(client, description="Posts about snow plowing")
    page = client.get(second)
    assert number_2 in page.text
    assert "snow plowing" in page.text
    assert number_1 not in page.text
    assert "Oak St" not in page.text
    # The track form goes to the page of the link pasted.
    csrf = csrf_of(client.get("/public/track").text)
    answer = client.post(
        "/public/track",
        data={"link": "http://x" + first, "csrf_token": csrf},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == first


def _everything_served(client: TestClient, paths: list[str]) -> list[tuple[str, bytes]]:
    served = []
    for path in paths:
        answer = client.get(path)
        served.append((path, answer.content))
    return served


def _no_secret(served: list[tuple[str, bytes]]) -> None:
    for path, body in served:
        if body.startswith(b"%PDF"):
            assert find_leaks(body, [SECRET]) == [], path
        elif body.startswith(b"PK"):
            with zipfile.ZipFile(io.BytesIO(body)) as bag:
                for name in bag.namelist():
                    data = bag.read(name)
                    if name.endswith(".pdf"):
                        assert find_leaks(data, [SECRET]) == [], name
                    else:
                        assert SECRET.encode() not in data, name
        else:
            # A search for the secret echoes the visitor's own words in the box; nothing else.
            echoed = body.replace(f'value="{SECRET}"'.encode(), b"")
            assert SECRET.encode() not in echoed, path


def test_fees_hold_the_release_and_the_reading_room_shows_only_released_items(
    client: TestClient,
    db: Database,
    make_person: MakePerson,
    archive_post: ArchivePost,
    store: LocalStore,
    settings: Settings,
) -> None:
    # Many searches below: this test is not about the per-minute search limit.
    settings = settings.model_copy(update={"public_searches_per_address_per_minute": 1000})
    client.app.state.settings = settings  # type: ignore[attr-defined]
    officer = make_person("records_officer")
    secret_post = post_with_text(archive_post, f"Pool closes in June. Call {SECRET} for keys.")
    plain_post = post_with_text(archive_post, "Oak St parking stays open all summer.")
    other_post = post_with_text(archive_post, "Snow plowing starts at dawn.")
    path, number = file_request(client)
    other_path, other_number = file_request(client, description="Snow posts")
    request_id = request_id_of(db, number)
    other_id = request_id_of(db, other_number)
    items = add_and_redact(db, store, officer.user, request_id, [secret_post, plain_post])
    (unreleased,) = add_and_redact(db, store, officer.user, other_id, [other_post])

    def room_paths(ids: list[int]) -> list[str]:
        queries = [
            "",
            "?q=pool",
            f"?q={SECRET}",
            "?q=555",
            "?q=0142",
            "?q=keys",
            "?q=snow",
            "?platform=bluesky",
            "?platform=mastodon",
            "?date_from=2000-01-01&date_to=2100-01-01",
            "?date_from=2100-01-01",
            "?q=pool&page=2",
            "?date_from=nonsense",
            "?platform=nope",
        ]
        return [f"/public/reading-room{q}" for q in queries] + [
            f"/public/reading-room/{i}.pdf" for i in ids
        ]

    every_item = [*items, unreleased, 0, 999_999]
    # Nothing is released before the decision.
    for path_, body in _everything_served(client, room_paths(every_item)):
        if path_.endswith(".pdf"):
            assert not body.startswith(b"%PDF"), path_
    assert "0 released posts" in client.get("/public/reading-room").text

    # A fee over the threshold holds the release until it is waived.
    with db.session() as session:
        from app.auth.models import User

        user = session.get(User, officer.user.id)
        assert user is not None
        estimate = fees.set_estimate(
            session,
            officer=user,
            settings=settings,
            request_id=request_id,
            pages=40,
            files=2,
            location_minutes=30,
            mailed=False,
        )
        assert estimate.status == FeeStatus.awaiting_payment
        assert [line["kind"] for line in estimate.lines] == ["page", "file", "location"]
        assert estimate.lines[2]["amount_cents"] == 0  # $12.50 of locating: under $50
        assert estimate.total_cents == 40 * 25
    decide(db, officer.user, request_id, RequestStatus.granted)
    decide(db, officer.user, other_id, RequestStatus.denied, reason="No such records exist.")
    make_package(db, store, officer.user, request_id)
    make_package(db, store, officer.user, other_id)
    held = client.get(path)
    assert "waits for the fee" in held.text
    assert "package.zip" not in held.text
    assert "19.35(3)(c)" in held.text
    assert "never charged" in held.text
    assert client.get(path + "/package.zip").status_code == 404
    assert "0 released posts" in client.get("/public/reading-room").text
    with db.session() as session:
        user = session.get(User, officer.user.id)
        assert user is not None
        fees.settle(session, officer=user, request_id=request_id, outcome=FeeStatus.waived)

    # Released: the tracking page links the package and letter; the room lists both items.
    page = client.get(path)
    assert "package.zip" in page.text
    assert "letter.pdf" in page.text
    room = client.get("/public/reading-room").text
    assert "2 released posts" in room
    assert number in room
    assert SECRET not in room
    assert "[REDACTED: home telephone number" in room
    assert "1 released post" in client.get("/public/reading-room?q=parking").text
    assert "0 released posts" in client.get(f"/public/reading-room?q={SECRET}").text
    assert "0 released posts" in client.get("/public/reading-room?q=snow").text
    assert "0 released posts" in client.get("/public/reading-room?platform=mastodon").text
    assert client.get("/public/reading-room?date_from=nonsense").status_code == 422
    assert client.get(f"/public/reading-room/{unreleased}.pdf").status_code == 404

    # The denied request: reasons and review rights, its letter, no package, nothing in the room.
    denied = client.get(other_path).text
    assert "No such records exist." in denied
    assert "19.35(4)(b)" in denied
    assert "mandamus" in denied
    assert client.get(other_path + "/letter.pdf").content.startswith(b"%PDF")
    assert client.get(other_path + "/package.zip").status_code == 404

    served = _everything_served(
        client,
        room_paths(every_item)
        + [
            path,
            path + "/package.zip",
            path + "/letter.pdf",
            other_path,
            other_path + "/letter.pdf",
        ],
    )
    _no_secret(served)
    redacted_pdf = dict(served)[f"/public/reading-room/{items[0]}.pdf"]
    assert redacted_pdf.startswith(b"%PDF")
    # What the room serves for the redacted item is its redacted copy, not the original.
    with db.session() as session:
        item = session.get(RequestItem, items[0])
        assert item is not None
        original = archived_snapshot_sha256(session, item.version_id)
        assert original is not None
        assert item.redacted_sha256 is not None
        assert hashlib.sha256(redacted_pdf).hexdigest() == item.redacted_sha256 != original
        assert store.get(original) not in [body for _p, body in served]

    # The officer withholds one item from the room: it is gone from every query and URL.
    give_password(db, officer.user)
    sign_in(client, officer.user.email)
    officer_page = client.get(f"/officer/requests/{request_id}")
    assert re.search(r"Total \$10\.00</strong>:\s*waived", officer_page.text)
    answer = client.post(
        f"/officer/requests/{request_id}/portal/items/{items[1]}/room",
        data={"publish": "no", "csrf_token": csrf_of(officer_page.text)},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert "1 released post" in client.get("/public/reading-room").text
    assert "0 released posts" in client.get("/public/reading-room?q=parking").text
    assert client.get(f"/public/reading-room/{items[1]}.pdf").status_code == 404
    with db.session() as session:
        withheld = session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "reading_room.withheld")
        )
        assert withheld == 1


def test_officer_messages_reach_the_tracking_page_as_plain_text(
    client: TestClient, db: Database, make_person: MakePerson
) -> None:
    path, number = file_request(client)
    request_id = request_id_of(db, number)
    officer = make_person("records_officer")
    give_password(db, officer.user)
    sign_in(client, officer.user.email)
    page = client.get(f"/officer/requests/{request_id}")
    csrf = csrf_of(page.text)
    empty = client.post(
        f"/officer/requests/{request_id}/portal/message", data={"body": " ", "csrf_token": csrf}
    )
    assert empty.status_code == 422
    assert "Write the message" in empty.text
    sent = client.post(
        f"/officer/requests/{request_id}/portal/message",
        data={"body": "We found 2 posts. <i>Soon</i>.", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert sent.status_code == 303
    assert (
        client.post(
            f"/officer/requests/{request_id}/portal/message", data={"body": "x"}
        ).status_code
        == 403
    )
    tracked = client.get(path).text
    assert "We found 2 posts. &lt;i&gt;Soon&lt;/i&gt;." in tracked


def test_reading_room_searches_are_limited_per_address(settings: Settings, db: Database) -> None:
    limited = settings.model_copy(update={"public_searches_per_address_per_minute": 3})
    with TestClient(create_app(limited, database=db)) as client:
        for _ in range(3):
            assert client.get("/public/reading-room?q=pool").status_code == 200
        assert client.get("/public/reading-room?q=pool").status_code == 429
        # The room itself (no query) stays open to read.
        assert client.get("/public/reading-room").status_code == 200


def test_no_portal_page_needs_javascript_and_every_form_carries_csrf(client: TestClient) -> None:
    path, _ = file_request(client)
    routes = {p for p, r in app_routes(client.app.routes) if p.startswith("/public")}  # type: ignore[attr-defined]
    assert routes >= {"/public/", "/public/request", "/public/track", "/public/reading-room"}
    for page_path in ("/public/", "/public/request", "/public/track", "/public/reading-room", path):
        page = client.get(page_path)
        assert page.status_code == 200, page_path
        assert "<script" not in page.text.lower(), page_path
        assert not re.search(r"<[^>]+\son[a-z]+=", page.text), page_path  # no inline handlers
        assert "script-src 'self'" in page.headers["content-security-policy"]
        for form in re.findall(r"<form[^>]*>.*?</form>", page.text, flags=re.S):
            if 'method="post"' in form:
                assert 'name="csrf_token"' in form, page_path


def test_every_portal_post_route_refuses_a_missing_or_forged_token(
    client: TestClient, db: Database
) -> None:
    posts = [
        (method, path)
        for path, route in app_routes(client.app.routes)  # type: ignore[attr-defined]
        if path.startswith("/public")
        for method in (route.methods or set()) - {"GET", "HEAD"}
    ]
    assert {path for _m, path in posts} == {"/public/request", "/public/track"}
    client.get("/public/request")
    for method, path in posts:
        for form in ({}, {"csrf_token": "forged"}, {"csrf_token": ""}):
            answer = client.request(method, path, data={"description": "x", **form})
            assert answer.status_code == 403, (path, form)
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(RecordsRequest)) == 0
        assert session.scalar(select(func.count()).select_from(PortalAttempt)) == 0
