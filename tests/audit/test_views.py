"""Issue 17: every view of a version's text is audited. GET .../versions, the web post page
with its diffs, search results with snippets and the request workspace's redaction preview
each write a `view` event (who, which post, what), coalesced per user, post and hour."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.audit.service import record_view, verify_chain
from app.auth.models import User
from app.db import Database, utcnow
from app.open_records.models import RecordsRequest, RequestItem
from app.search.service import index_version
from tests.conftest import MakePerson
from tests.factories import make_account, make_post
from tests.web.support import give_password, sign_in


def views(db: Database, user_id: int) -> list[tuple[str, str]]:
    with db.session() as session:
        return [
            (e.object_id, e.details["what"])
            for e in session.scalars(
                select(AuditEvent)
                .where(AuditEvent.action == "view", AuditEvent.actor_id == user_id)
                .order_by(AuditEvent.id)
            )
        ]


def test_each_way_of_reading_a_post_writes_one_view_an_hour(
    client: TestClient, db: Database, make_person: MakePerson
) -> None:
    officer = make_person("records_officer")
    employee = make_person("employee")
    with db.session() as session:
        owner = session.get(User, employee.user.id)
        assert owner is not None
        account = make_account(session, owner)
        first = make_post(session, account=account, texts=["Pool opens", "Pool opens at 9"])
        second = make_post(session, account=account, texts=["Library hours"])
        third = make_post(session, account=account, texts=["Snow plough routes"])
        for post in (first, second, third):
            for version in post.versions:
                index_version(session, version.id)
        request = RecordsRequest(
            number="2026-0042",
            received_on=dt.date(2026, 11, 2),
            description="snow posts",
            created_by_id=officer.user.id,
        )
        session.add(request)
        session.flush()
        session.add(
            RequestItem(
                request_id=request.id,
                version_id=third.versions[0].id,
                added_by_id=officer.user.id,
            )
        )
        ids = {"first": first.id, "second": second.id, "third": third.id, "request": request.id}

    # The API's versions, twice: one event.
    for _ in range(2):
        got = client.get(f"/api/v1/posts/{ids['first']}/versions", headers=officer.headers)
        assert got.status_code == 200, got.text
    assert views(db, officer.user.id) == [(str(ids["first"]), "versions (API)")]

    # Search snippets: each post on the page is viewed; `first` was already this hour.
    found = client.get("/api/v1/search", params={"q": "pool OR library"}, headers=officer.headers)
    assert found.status_code == 200, found.text
    assert {h["post_id"] for h in found.json()["hits"]} == {ids["first"], ids["second"]}
    assert views(db, officer.user.id)[1:] == [(str(ids["second"]), "search snippet")]

    # The web post page with its diff, read by its owner.
    give_password(db, employee.user)
    sign_in(client, employee.user.email)
    page = client.get(f"/posts/{ids['first']}")
    assert page.status_code == 200
    assert views(db, employee.user.id) == [(str(ids["first"]), "post page with its diffs")]
    client.get(f"/posts/{ids['first']}")
    assert len(views(db, employee.user.id)) == 1
    client.cookies.clear()

    # The request workspace shows the items' text with redactions marked.
    give_password(db, officer.user)
    sign_in(client, officer.user.email)
    workspace = client.get(f"/officer/requests/{ids['request']}")
    assert workspace.status_code == 200, workspace.text
    assert views(db, officer.user.id)[-1] == (
        str(ids["third"]),
        "redaction preview, request 2026-0042",
    )

    # The next hour is a new event; the chain holds every one of them.
    with db.session() as session:
        officer_row = session.get(User, officer.user.id)
        assert officer_row is not None
        later = utcnow() + dt.timedelta(hours=1)
        assert record_view(session, viewer=officer_row, post_ids=[ids["first"]], what="x") == 0
        assert (
            record_view(session, viewer=officer_row, post_ids=[ids["first"]], what="x", now=later)
            == 1
        )
        assert verify_chain(session).ok
