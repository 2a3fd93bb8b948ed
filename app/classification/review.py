"""What records officers review: the queue of near-duplicate proposals and low-confidence\ndecisions, and the history of a post's decisions. Reads only."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.classification.models import (
    Classification,
)
from app.classification.schemas import ReviewItem
from app.errors import NotFound
from app.posts.models import CapturedVersion, FlaggedPost, PostStatus


def review_queue(
    session: Session, *, limit: int = 50, offset: int = 0
) -> tuple[list[ReviewItem], int]:
    """Near-duplicate proposals and low-confidence decisions on the latest version of posts
    without an override, oldest first."""
    latest = (
        select(CapturedVersion.post_id, func.max(CapturedVersion.number).label("number"))
        .group_by(CapturedVersion.post_id)
        .subquery()
    )
    query = (
        select(Classification, CapturedVersion, FlaggedPost)
        .join(CapturedVersion, CapturedVersion.id == Classification.version_id)
        .join(
            latest,
            (latest.c.post_id == CapturedVersion.post_id)
            & (latest.c.number == CapturedVersion.number),
        )
        .join(FlaggedPost, FlaggedPost.id == CapturedVersion.post_id)
        .where(
            Classification.is_current.is_(True),
            Classification.source == "rules",
            Classification.needs_review.is_(True),
            FlaggedPost.status != PostStatus.disposed,
        )
    )
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.execute(query.order_by(Classification.id).limit(limit).offset(offset))
    items = [
        ReviewItem(
            classification_id=c.id,
            post_id=p.id,
            post_url=p.url,
            platform=p.platform,
            version_id=v.id,
            version_number=v.number,
            label=c.label,
            rule_id=c.rule_id,
            reasons=list(c.reasons),
            confidence=c.confidence,
            primary_ref=c.primary_ref,
            review_details=c.review_details,
            created_at=c.created_at,
        )
        for c, v, p in rows
    ]
    return items, total


def classification_history(session: Session, *, post_id: int) -> list[tuple[Classification, int]]:
    """Every decision stored for a post's versions with the version number, oldest first."""
    if session.get(FlaggedPost, post_id) is None:
        raise NotFound(f"no post {post_id}")
    rows = session.execute(
        select(Classification, CapturedVersion.number)
        .join(CapturedVersion, CapturedVersion.id == Classification.version_id)
        .where(CapturedVersion.post_id == post_id)
        .order_by(Classification.id)
    )
    return [(row, number) for row, number in rows]
