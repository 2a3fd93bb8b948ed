"""Saved searches over flagged posts: which posts a hold (or an open-records request) covers.

Public: `posts_matching(session, criteria)`; the open-records search reuses it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from app.accounts.models import SocialAccount
from app.posts.models import CapturedVersion, FlaggedPost, PostStatus
from app.retention.schemas import SearchCriteria


def _like_pattern(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def matching_query(criteria: SearchCriteria) -> Select[Any]:
    """SELECT of the ids of the posts the criteria match (all criteria must hold)."""
    query = select(FlaggedPost.id)
    if criteria.employee_id is not None:
        owned = select(SocialAccount.id).where(SocialAccount.owner_id == criteria.employee_id)
        query = query.where(
            or_(
                FlaggedPost.account_id.in_(owned),
                FlaggedPost.flagged_by_id == criteria.employee_id,
            )
        )
    if criteria.account_id is not None:
        query = query.where(FlaggedPost.account_id == criteria.account_id)
    if criteria.platform is not None:
        query = query.where(FlaggedPost.platform == criteria.platform)
    if criteria.flagged_from is not None:
        query = query.where(FlaggedPost.flagged_at >= criteria.flagged_from)
    if criteria.flagged_to is not None:
        query = query.where(FlaggedPost.flagged_at < criteria.flagged_to)
    if criteria.created_from is not None or criteria.created_to is not None:
        created = func.coalesce(CapturedVersion.platform_created_at, CapturedVersion.captured_at)
        versions = select(CapturedVersion.post_id)
        if criteria.created_from is not None:
            versions = versions.where(created >= criteria.created_from)
        if criteria.created_to is not None:
            versions = versions.where(created < criteria.created_to)
        query = query.where(FlaggedPost.id.in_(versions))
    if criteria.text is not None:
        # lower() on both sides so SQLite and PostgreSQL agree (SQLite folds ASCII letters only).
        versions = select(CapturedVersion.post_id).where(
            func.lower(CapturedVersion.text).like(_like_pattern(criteria.text), escape="\\")
        )
        query = query.where(FlaggedPost.id.in_(versions))
    if not criteria.include_disposed:
        query = query.where(FlaggedPost.status != PostStatus.disposed)
    return query.order_by(FlaggedPost.id)


def posts_matching(session: Session, criteria: SearchCriteria | dict[str, Any]) -> list[int]:
    """Ids of the posts a saved search matches, in id order."""
    if not isinstance(criteria, SearchCriteria):
        criteria = SearchCriteria.model_validate(criteria)
    return list(session.scalars(matching_query(criteria)))
