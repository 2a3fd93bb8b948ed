"""Test data for retention: rows inserted directly, files written through a real LocalStore."""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy.orm import Session

from app.accounts.models import SocialAccount
from app.audit.service import Actor
from app.auth import service as auth_service
from app.auth.models import User
from app.classification.models import Classification
from app.posts.models import CapturedVersion, FlaggedPost, PostStatus, VersionMedia
from app.retention.assignment import assign_retention
from app.retention.schedules import ScheduleSet, load_schedules
from app.snapshots.models import Snapshot
from app.storage.base import ArchiveStore
from app.storage.service import put_object

PROJECT_SCHEDULES = Path(__file__).resolve().parents[2] / "retention_schedules"
TZ = "America/Chicago"
_counter = itertools.count(1)


def utc(year: int, month: int, day: int, hour: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, tzinfo=dt.UTC)


def schedules() -> ScheduleSet:
    return load_schedules(PROJECT_SCHEDULES, today=dt.date(2026, 11, 25))


def make_user(session: Session, role: str = "employee") -> User:
    n = next(_counter)
    return auth_service.create_user(
        session,
        email=f"{role}{n}@city.example",
        name=f"{role.title()} {n}",
        role=role,
        actor=Actor.system("tests"),
    )


def make_account(session: Session, owner: User, platform: str = "bluesky") -> SocialAccount:
    n = next(_counter)
    account = SocialAccount(
        owner_id=owner.id,
        platform=platform,
        handle=f"user{n}.example",
        profile_url=f"https://example.test/user{n}",
    )
    session.add(account)
    session.flush()
    return account


def make_post(
    session: Session,
    *,
    account: SocialAccount,
    created: dt.datetime | None = None,
    texts: Sequence[str] = ("Pool hours change on Monday",),
    removed_at: dt.datetime | None = None,
    store: ArchiveStore | None = None,
    media: Sequence[bytes] = (),
    snapshots: bool = True,
    label: str | None = None,
    flagged_at: dt.datetime | None = None,
    store_source: bool = False,
) -> FlaggedPost:
    """A captured post with one version per text; media and a PDF snapshot per version go
    through the store when one is given."""
    n = next(_counter)
    created = created or utc(2015, 3, 1, 12)
    post = FlaggedPost(
        account_id=account.id,
        flagged_by_id=account.owner_id,
        url=f"https://bsky.app/profile/{account.handle}/post/p{n}",
        platform=account.platform,
        external_id=f"post-{n}",
        status=PostStatus.captured if removed_at is None else PostStatus.removed,
        flagged_at=flagged_at or created + dt.timedelta(hours=1),
        first_captured_at=created + dt.timedelta(hours=2),
        removed_at=removed_at,
    )
    session.add(post)
    session.flush()
    for number, text in enumerate(texts, start=1):
        source = json.dumps({"text": text, "n": n, "v": number}, sort_keys=True)
        version = CapturedVersion(
            post_id=post.id,
            number=number,
            captured_at=created + dt.timedelta(hours=2, minutes=number),
            content_hash=hashlib.sha256(f"{n}:{number}:{text}".encode()).hexdigest(),
            source_sha256=hashlib.sha256(source.encode()).hexdigest(),
            source_json=source,
            normalized={"text": text},
            text=text,
            author_handle=account.handle,
            platform_created_at=created,
            collector="test",
            collector_version="1",
        )
        session.add(version)
        session.flush()
        if store is not None and store_source:
            put_object(session, store, source.encode(), mime_type="application/json", kind="source")
        if store is not None:
            for position, data in enumerate(media):
                obj = put_object(session, store, data, mime_type="image/png", kind="media")
                session.add(
                    VersionMedia(version_id=version.id, position=position, sha256=obj.sha256)
                )
            if snapshots:
                pdf = b"%PDF-1.7 snapshot of " + version.content_hash.encode()
                obj = put_object(session, store, pdf, mime_type="application/pdf", kind="snapshot")
                session.add(
                    Snapshot(
                        version_id=version.id,
                        sha256=obj.sha256,
                        size=obj.size,
                        renderer_version="test",
                    )
                )
        if label is not None:
            session.add(
                Classification(
                    version_id=version.id,
                    label=label,
                    rule_id="test",
                    reasons=["test"],
                    classifier_version="1",
                    config_hash="0" * 64,
                )
            )
        session.flush()
    return post


def assign(session: Session, post: FlaggedPost) -> None:
    assign_retention(
        session, post_id=post.id, actor=Actor.system("tests"), schedules=schedules(), timezone=TZ
    )


def object_keys_of(session: Session, post_id: int) -> set[str]:
    from sqlalchemy import select

    from app.storage.models import StoredObject

    versions = select(CapturedVersion.id).where(CapturedVersion.post_id == post_id)
    sources = select(CapturedVersion.source_sha256).where(CapturedVersion.post_id == post_id)
    return (
        set(session.scalars(select(Snapshot.sha256).where(Snapshot.version_id.in_(versions))))
        | set(
            session.scalars(
                select(VersionMedia.sha256).where(VersionMedia.version_id.in_(versions))
            )
        )
        | set(session.scalars(select(StoredObject.sha256).where(StoredObject.sha256.in_(sources))))
    )
