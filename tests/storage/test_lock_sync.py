"""Retention and holds reach the S3 store's own Object Lock (moto's server on loopback)."""

from __future__ import annotations

import datetime as dt

from app.accounts.service import register_account
from app.audit.service import Actor
from app.auth import service as auth_service
from app.db import Database
from app.posts.models import CapturedVersion, FlaggedPost, VersionMedia
from app.retention.models import HeldPost, Hold, RetentionAssignment
from app.retention.object_lock import sync_object_locks
from app.storage.service import put_object
from tests.storage.conftest import make_bucket, s3_client, s3_store


def test_due_dates_and_holds_become_object_locks(db: Database, moto_endpoint: str) -> None:
    bucket = make_bucket(moto_endpoint, locked=True)
    store = s3_store(moto_endpoint, bucket)
    due = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=400)
    with db.session() as session:
        user = auth_service.create_user(
            session,
            email="l@city.example",
            name="L",
            role="records_officer",
            actor=Actor.system("t"),
        )
        account, _ = register_account(
            session, owner=user, platform="mastodon", handle="l@city.example"
        )
        posts = []
        for n in range(2):
            post = FlaggedPost(
                account_id=account.id,
                flagged_by_id=user.id,
                url=f"https://city.example/@l/{n}",
                platform="mastodon",
                external_id=f"city.example/{n}",
                status="captured",
            )
            session.add(post)
            session.flush()
            version = CapturedVersion(
                post_id=post.id,
                number=1,
                content_hash=str(n) * 64,
                source_sha256="b" * 64,
                source_json="{}",
                normalized={},
                collector="mastodon",
                collector_version="t",
            )
            session.add(version)
            session.flush()
            obj = put_object(
                session, store, f"photo {n}".encode(), mime_type="image/jpeg", kind="media"
            )
            session.add(
                VersionMedia(version_id=version.id, position=0, sha256=obj.sha256, role="image")
            )
            session.add(
                RetentionAssignment(
                    post_id=post.id,
                    label="record",
                    schedule_id="s",
                    schedule_version="1",
                    series_code="S",
                    retention="CR+7Y",
                    due_on=due,
                    whs_notice="required",
                    disposition="destroy",
                )
            )
            posts.append((post.id, obj.sha256))
        hold = Hold(
            kind="litigation", reason="case 26-CV-1", authority="court order", placed_by_id=user.id
        )
        session.add(hold)
        session.flush()
        session.add(HeldPost(hold_id=hold.id, post_id=posts[0][0]))

    with db.session() as session:
        result = sync_object_locks(session, store=store)
    assert (result.posts, result.objects, result.failed) == (2, 2, 0)
    client = s3_client(moto_endpoint)
    for index, (_post_id, key) in enumerate(posts):
        head = client.head_object(Bucket=bucket, Key=store.object_key(key))
        assert head["ObjectLockMode"] == "COMPLIANCE"
        assert head["ObjectLockRetainUntilDate"].date() >= due
        assert head.get("ObjectLockLegalHoldStatus", "OFF") == ("ON" if index == 0 else "OFF")
