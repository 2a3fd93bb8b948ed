"""Request files have a retention too: once a released request's package and redacted copies
are destroyed at the end of their series, the tracking link answers 404 saying so and the
reading room no longer lists an item whose released file is gone (never a server error)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from app.db import Database, utcnow
from app.open_records.models import RequestItem, RequestStatus, ResponsePackage
from app.storage.local import LocalStore
from app.storage.models import StoredObject
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


def test_destroyed_request_files_are_gone_from_the_portal(
    client: TestClient,
    db: Database,
    make_person: MakePerson,
    archive_post: ArchivePost,
    store: LocalStore,
) -> None:
    officer = make_person("records_officer")
    secret_post = post_with_text(archive_post, f"Pool closes in June. Call {SECRET} for keys.")
    plain_post = post_with_text(archive_post, "Oak St parking stays open all summer.")
    path, number = file_request(client)
    request_id = request_id_of(db, number)
    add_and_redact(db, store, officer.user, request_id, [secret_post, plain_post])
    decide(db, officer.user, request_id, RequestStatus.granted)
    make_package(db, store, officer.user, request_id)
    assert client.get(path + "/package.zip").status_code == 200
    assert "2 released posts" in client.get("/public/reading-room").text

    # What the run of a destruction batch does to the request's files (request_files.py).
    with db.session() as session:
        keys = set(
            session.scalars(
                select(ResponsePackage.sha256).where(ResponsePackage.request_id == request_id)
            )
        ) | set(
            session.scalars(
                select(RequestItem.redacted_sha256).where(
                    RequestItem.request_id == request_id, RequestItem.redacted_sha256.is_not(None)
                )
            )
        )
        keys.discard(None)
        for obj in session.scalars(select(StoredObject).where(StoredObject.sha256.in_(keys))):
            obj.destroyed_at = utcnow()
    for key in keys:
        assert key is not None
        store.delete(key)

    gone = client.get(path + "/package.zip")
    assert gone.status_code == 404
    assert "destroyed at the end of its retention period" in gone.text
    room = client.get("/public/reading-room").text
    assert "1 released post" in room  # the redacted item's released copy is gone
    assert SECRET not in room
