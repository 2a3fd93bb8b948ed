"""Keep the store's own locks in step with retention: on an S3 bucket with Object Lock, each
object of a kept post is retained (COMPLIANCE) until the post's due date and under a legal hold
while any hold is on it. Locks are only ever extended by the store, never shortened.

PostVault enforces holds and due dates itself in the disposition workflow; this adds the
store's own refusal on top, so an object cannot be deleted early even outside PostVault."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.posts.models import CapturedVersion, FlaggedPost, PostStatus, VersionMedia
from app.retention.models import HeldPost, Hold, RetentionAssignment
from app.snapshots.models import Snapshot
from app.storage.base import ArchiveStore, StoreError

log = logging.getLogger("postvault.storage")  # the store's locks: logged with the store


@dataclass
class LockSync:
    posts: int = 0
    objects: int = 0
    failed: int = 0


def objects_of_post(session: Session, post_id: int) -> set[str]:
    versions = select(CapturedVersion.id).where(CapturedVersion.post_id == post_id)
    keys = set(session.scalars(select(Snapshot.sha256).where(Snapshot.version_id.in_(versions))))
    keys |= set(
        session.scalars(select(VersionMedia.sha256).where(VersionMedia.version_id.in_(versions)))
    )
    return keys


def sync_object_locks(session: Session, *, store: ArchiveStore) -> LockSync:
    held = set(
        session.scalars(
            select(HeldPost.post_id)
            .join(Hold, Hold.id == HeldPost.hold_id)
            .where(Hold.released_at.is_(None))
        )
    )
    rows = session.execute(
        select(FlaggedPost.id, RetentionAssignment.due_on)
        .outerjoin(
            RetentionAssignment,
            (RetentionAssignment.post_id == FlaggedPost.id)
            & RetentionAssignment.is_current.is_(True),
        )
        .where(FlaggedPost.status != PostStatus.disposed)
        .order_by(FlaggedPost.id)
    ).all()
    result = LockSync()
    for post_id, due_on in rows:
        result.posts += 1
        for key in sorted(objects_of_post(session, post_id)):
            try:
                store.set_retention(key, retain_until=due_on, legal_hold=post_id in held)
                result.objects += 1
            except StoreError as exc:
                result.failed += 1
                log.error("object lock of %s (post %s) not set: %s", key, post_id, exc)
    return result
