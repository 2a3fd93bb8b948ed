"""Helpers for the portal tests: filing through the form, and an officer's steps by service."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from app.audit.service import Actor
from app.auth.models import User
from app.db import Database
from app.open_records import package as package_service
from app.open_records import requests as requests_service
from app.open_records.models import RequestStatus
from app.storage.local import LocalStore
from app.web import workspace
from tests.factories import bluesky_capture
from tests.snapshots.conftest import ArchivePost
from tests.web.support import csrf_of

LINK = re.compile(r'id="tracking-link" href="([^"]+)"')
SECRET = "555-0142"


def file_request(client: TestClient, **fields: str) -> tuple[str, str]:
    """File a request on the portal; returns (tracking path, request number)."""
    page = client.get("/public/request")
    assert page.status_code == 200, page.text
    data = {
        "description": "Posts about the Oak St pool",
        **fields,
        "csrf_token": csrf_of(page.text),
    }
    response = client.post("/public/request", data=data)
    assert response.status_code == 201, response.text
    match = LINK.search(response.text)
    assert match, response.text
    number = re.search(r"Request (\d{4}-\d{4}) is received", response.text)
    assert number
    path = "/" + match.group(1).split("://", 1)[1].split("/", 1)[1]
    return path, number.group(1)


def post_with_text(archive_post: ArchivePost, text: str) -> int:
    collected, media = bluesky_capture(reply_count=0)
    archived = archive_post([(collected.model_copy(update={"text": text}), media)])
    return archived.post_id


def request_id_of(db: Database, number: str) -> int:
    from sqlalchemy import select

    from app.open_records.models import RecordsRequest

    with db.session() as session:
        found = session.scalar(select(RecordsRequest.id).where(RecordsRequest.number == number))
        assert found is not None
        return found


def add_and_redact(
    db: Database, store: LocalStore, officer: User, request_id: int, post_ids: list[int]
) -> list[int]:
    """Add the posts to the set; redact SECRET wherever an item has it. Returns item ids."""
    with db.session() as session:
        user = session.get(User, officer.id)
        assert user is not None
        items = requests_service.add_items(
            session, officer=user, request_id=request_id, post_ids=post_ids
        )
        ids = [i.id for i in items]
        for item_id in ids:
            item = requests_service.get_item(session, request_id=request_id, item_id=item_id)
            from app.posts.models import CapturedVersion

            version = session.get(CapturedVersion, item.version_id)
            assert version is not None
            if SECRET in (version.text or ""):
                workspace.redact_phrase(
                    session,
                    store=store,
                    officer=user,
                    request_id=request_id,
                    item_id=item_id,
                    phrase=SECRET,
                    exemption="home telephone number (Wis. Stat. 19.36(10)(a))",
                    every=True,
                )
    return ids


def decide(
    db: Database, officer: User, request_id: int, status: RequestStatus, reason: str = ""
) -> None:
    with db.session() as session:
        user = session.get(User, officer.id)
        assert user is not None
        request = requests_service.get_request(session, request_id)
        if request.status == RequestStatus.received:
            requests_service.transition(
                session,
                officer=user,
                request_id=request_id,
                status=RequestStatus.in_progress,
                reason=None,
            )
        requests_service.transition(
            session, officer=user, request_id=request_id, status=status, reason=reason or None
        )


def make_package(db: Database, store: LocalStore, officer: User, request_id: int) -> None:
    with db.session() as session:
        user = session.get(User, officer.id)
        assert user is not None
        package_id = package_service.start_package(session, officer=user, request_id=request_id).id
    done = package_service.run_package(
        db, store, package_id=package_id, actor=Actor.system("tests")
    )
    assert done.status == "done", done.error
