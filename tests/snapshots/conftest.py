"""Archived versions in a real database and a real LocalStore, shaped as the capture pipeline
stores them (normalised JSON, canonical source JSON, media objects)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from app.accounts.models import SocialAccount
from app.db import Database
from app.platforms.collected import CollectedPost
from app.posts.models import CapturedVersion, FlaggedPost, PostStatus, VersionKind, VersionMedia
from app.snapshots.schemas import MediaFile
from app.storage.local import LocalStore
from app.storage.service import put_object
from tests.conftest import MakePerson, Person
from tests.factories import bluesky_capture, canonical_json, sha


@dataclass
class Archived:
    post_id: int
    version_ids: list[int]
    owner: Person


ArchivePost = Callable[..., Archived]


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "archive")


@pytest.fixture
def archive_post(db: Database, store: LocalStore, make_person: MakePerson) -> ArchivePost:
    """Store a post with one version per (CollectedPost, media) given, as collectors would."""

    def archive(
        versions: list[tuple[CollectedPost, list[MediaFile]]] | None = None,
        *,
        owner: Person | None = None,
        kinds: list[str] | None = None,
    ) -> Archived:
        owner = owner or make_person()
        versions = versions or [bluesky_capture(image_kind="jpeg")]
        first = versions[0][0]
        with db.session() as session:
            account = SocialAccount(
                owner_id=owner.user.id,
                platform=first.platform,
                handle=f"{first.author.handle}#{owner.user.id}",
                profile_url=first.author.profile_url or first.url,
            )
            session.add(account)
            session.flush()
            post = FlaggedPost(
                account_id=account.id,
                flagged_by_id=owner.user.id,
                url=first.url,
                platform=first.platform,
                external_id=f"{first.post_id}#{owner.user.id}",
                status=PostStatus.captured,
            )
            session.add(post)
            session.flush()
            ids = []
            for number, (collected, media) in enumerate(versions, start=1):
                source = canonical_json(collected.source)
                normalized = collected.model_dump(mode="json")
                kind = (kinds or [])[number - 1] if kinds else VersionKind.capture
                if kind == VersionKind.removal:
                    normalized = {"kind": "deleted", "reason": "the post was deleted"}
                version = CapturedVersion(
                    post_id=post.id,
                    number=number,
                    kind=kind,
                    captured_at=dt.datetime(2026, 1, 15, 17, number, tzinfo=dt.UTC),
                    content_hash=sha(canonical_json(normalized)),
                    source_sha256=sha(source),
                    source_json=source.decode(),
                    normalized=normalized,
                    text=collected.text,
                    author_handle=collected.author.handle,
                    author_name=collected.author.display_name,
                    collector=collected.platform,
                    collector_version="1.0",
                    diff_from_previous=None if number == 1 else f"- v{number - 1}\n+ v{number}",
                )
                session.add(version)
                session.flush()
                for position, item in enumerate(media):
                    put_object(session, store, item.data, mime_type=item.mime_type, kind="media")
                    session.add(
                        VersionMedia(
                            version_id=version.id,
                            position=position,
                            sha256=item.sha256,
                            role=item.role,
                            source_url=item.source_url,
                            alt_text=item.alt_text,
                        )
                    )
                session.flush()
                ids.append(version.id)
            return Archived(post.id, ids, owner)

    return archive
