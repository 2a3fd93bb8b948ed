"""The accounts API: removing an account only while nothing of it is archived."""

from __future__ import annotations

from fastapi.testclient import TestClient

from app.db import Database
from app.posts.models import CapturedVersion, FlaggedPost
from tests.conftest import MakePerson
from tests.factories import flag, register


def test_account_removal_only_while_nothing_is_archived(
    client: TestClient, make_person: MakePerson, db: Database
) -> None:
    erin = make_person()
    account = register(client, erin, platform="bluesky", handle="erin.bsky.social")
    flagged = flag(client, erin, "https://bsky.app/profile/erin.bsky.social/post/3kaaa")
    kept = register(client, erin, platform="mastodon", handle="erin@mastodon.social")
    archived = flag(client, erin, "https://mastodon.social/@erin/1234")
    with db.session() as session:
        session.add(
            CapturedVersion(
                post_id=archived["id"],
                number=1,
                content_hash="a" * 64,
                source_sha256="b" * 64,
                source_json="{}",
                normalized={},
                collector="mastodon",
                collector_version="test",
            )
        )
    refused = client.delete(f"/api/v1/accounts/{kept['id']}", headers=erin.headers)
    assert refused.status_code == 409
    assert "archived posts" in refused.json()["detail"]
    assert (
        client.delete(f"/api/v1/accounts/{account['id']}", headers=erin.headers).status_code == 204
    )
    with db.session() as session:
        assert session.get(FlaggedPost, flagged["id"]) is None
        assert session.get(FlaggedPost, archived["id"]) is not None
