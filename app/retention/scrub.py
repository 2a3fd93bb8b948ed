"""Nothing left after destruction: every field of a destroyed post that carries content goes.

The stub (app.retention.disposition._stub) keeps only what the certificate needs: ids, series,
dates, hashes, approver and authority. Everything else a post left in the database is nulled
or replaced here, in the same transaction that nulls its versions: classification reasons
(they quote the text), officers' override reasons, media alt text and source URLs, author
names and handles, the post's URL and note, capture errors, fingerprints and search rows.
Redacted copies made for a records request go with the post's other objects
(`_objects_to_destroy`); a response package already released keeps its bytes (it is the
request's record, with its own series) and is flagged on the disposition report instead.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.classification.crosspost import forget_version
from app.classification.models import Classification, ClassificationOverride
from app.collectors.models import CaptureAttempt
from app.posts.models import FlaggedPost, VersionMedia
from app.search.service import remove_post_from_index

DESTROYED = "[destroyed with the post]"


def sha256_text(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def disposed_external_id(external_id: str) -> str:
    """A URL used as the platform id (web pages, feeds) names the content; a hash does not."""
    if "://" in external_id and not external_id.startswith("at://"):
        return "sha256:" + sha256_text(external_id)
    return external_id


def scrub_post(session: Session, post: FlaggedPost) -> None:
    version_ids = [v.id for v in post.versions]
    for version in post.versions:
        version.source_json = None
        version.normalized = None
        version.text = None
        version.diff_from_previous = None
        version.author_handle = None
        version.author_name = None
        forget_version(session, version_id=version.id)  # its cross-post fingerprints
    if version_ids:
        session.execute(
            update(VersionMedia)
            .where(VersionMedia.version_id.in_(version_ids))
            .values(alt_text=None, source_url=None)
            .execution_options(synchronize_session=False)
        )
        for row in session.scalars(
            select(Classification).where(Classification.version_id.in_(version_ids))
        ):
            row.reasons = [DESTROYED]
            row.primary_ref = None
            row.review_details = None
        session.execute(
            update(CaptureAttempt)
            .where(CaptureAttempt.post_id == post.id)
            .values(error=None)
            .execution_options(synchronize_session=False)
        )
    session.execute(
        update(ClassificationOverride)
        .where(ClassificationOverride.post_id == post.id)
        .values(reason=DESTROYED)
        .execution_options(synchronize_session=False)
    )
    # Search rows go in the same transaction as the copies they were made from.
    remove_post_from_index(session, post.id)
    post.url = f"disposed:{post.platform}:{post.id}"
    post.external_id = disposed_external_id(post.external_id)
    post.note = None
    post.last_error = None
    post.fetch_state = None
    session.flush()
    # Rows loaded before the bulk updates would otherwise show their old values.
    session.expire_all()
