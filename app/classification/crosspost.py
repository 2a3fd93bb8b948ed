"""The cross-post index in the database: each version's content fingerprint and its bands, so that\na copy of a post made elsewhere can be found; dropped with the version's copies at disposition.\n\nSession-first services: they flush, the caller owns the transaction."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from app.classification.crosspost_index import Fingerprint, IndexedCapture
from app.classification.models import (
    ContentFingerprint,
    ContentFingerprintBand,
)
from app.classification.rules import FINGERPRINT_ALGORITHM
from app.db import utcnow
from app.posts.models import CapturedVersion, FlaggedPost


def _indexed(fp: ContentFingerprint) -> IndexedCapture:
    return IndexedCapture(
        version_id=fp.version_id,
        post_id=fp.post_id,
        platform=fp.platform,
        account_handle=fp.account_handle,
        url=fp.url,
        normalized_text=fp.normalized_text,
    )


class DbCrossPostIndex:
    """`CrossPostIndex` over content_fingerprints: indexed lookups, never a scan."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def exact_matches(
        self,
        exact_hash: str,
        *,
        exclude_post_id: int | None,
        before_version_id: int | None,
        limit: int,
    ) -> Sequence[IndexedCapture]:
        query = select(ContentFingerprint).where(ContentFingerprint.exact_hash == exact_hash)
        if exclude_post_id is not None:
            query = query.where(ContentFingerprint.post_id != exclude_post_id)
        if before_version_id is not None:
            query = query.where(ContentFingerprint.version_id < before_version_id)
        rows = self.session.scalars(query.order_by(ContentFingerprint.version_id).limit(limit))
        return [_indexed(fp) for fp in rows]

    def near_candidates(
        self,
        keys: Sequence[str],
        *,
        exclude_post_id: int | None,
        before_version_id: int | None,
        limit: int,
    ) -> Sequence[IndexedCapture]:
        if not keys:
            return []
        shared = func.count().label("shared")
        query = (
            select(ContentFingerprint, shared)
            .join(
                ContentFingerprintBand,
                ContentFingerprintBand.fingerprint_id == ContentFingerprint.id,
            )
            .where(ContentFingerprintBand.band_key.in_(list(keys)))
            .group_by(ContentFingerprint.id)
        )
        if exclude_post_id is not None:
            query = query.where(ContentFingerprint.post_id != exclude_post_id)
        if before_version_id is not None:
            query = query.where(ContentFingerprint.version_id < before_version_id)
        rows = self.session.execute(
            query.order_by(shared.desc(), ContentFingerprint.version_id).limit(limit)
        )
        return [_indexed(fp) for fp, _n in rows]


def store_fingerprint(
    session: Session, *, version: CapturedVersion, post: FlaggedPost, print_: Fingerprint
) -> None:
    existing = session.scalar(
        select(ContentFingerprint).where(ContentFingerprint.version_id == version.id)
    )
    if existing is not None and existing.algorithm == FINGERPRINT_ALGORITHM:
        return
    if existing is not None:
        session.delete(existing)
        session.flush()
    fp = ContentFingerprint(
        version_id=version.id,
        post_id=post.id,
        account_id=post.account_id,
        platform=post.platform,
        account_handle=post.account.handle,
        url=post.url,
        algorithm=FINGERPRINT_ALGORITHM,
        exact_hash=print_.exact_hash,
        normalized_text=print_.normalized_text,
        created_at=utcnow(),
    )
    session.add(fp)
    session.flush()
    if print_.band_keys:
        session.execute(
            insert(ContentFingerprintBand),
            [{"band_key": key, "fingerprint_id": fp.id} for key in sorted(set(print_.band_keys))],
        )


def forget_version(session: Session, *, version_id: int) -> None:
    """Remove a version's cross-post index rows: disposition calls this for each destroyed
    version, so no trace of its text stays in the index."""
    ids = select(ContentFingerprint.id).where(ContentFingerprint.version_id == version_id)
    session.execute(
        delete(ContentFingerprintBand).where(ContentFingerprintBand.fingerprint_id.in_(ids))
    )
    session.execute(delete(ContentFingerprint).where(ContentFingerprint.version_id == version_id))
    session.flush()
