"""Flagged posts: recognise a URL, tie it to the caller's account, never flag twice."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.accounts.models import SocialAccount
from app.audit.service import Actor, record
from app.auth.models import User
from app.bounds import hidden_character
from app.classification.models import Classification
from app.db import utcnow
from app.errors import Conflict, Invalid, NotFound
from app.platforms.base import PostRef
from app.platforms.fetcher import Fetcher
from app.platforms.registry import registry
from app.posts.models import CapturedVersion, FlaggedPost, PostStatus
from app.posts.schemas import (
    ClassificationOut,
    HoldSummary,
    PostDetail,
    RetentionOut,
    VersionSummary,
)
from app.retention.models import HeldPost, Hold, RetentionAssignment


def _match_account(
    session: Session, *, owner: User, refs: list[PostRef], account_id: int | None
) -> tuple[PostRef, SocialAccount]:
    """The candidate reading of the URL that one of the owner's accounts claims, and that
    account. The platform explains a refusal; by-site readings nobody claims fall through to
    the list of what is supported."""
    for ref in refs:
        platform = registry.get(ref.platform)
        mine = list(
            session.scalars(
                select(SocialAccount).where(
                    SocialAccount.owner_id == owner.id, SocialAccount.platform == ref.platform
                )
            )
        )
        if account_id is not None:
            mine = [a for a in mine if a.id == account_id]
        account = platform.match_account(ref, mine)
        if account is not None:
            return ref, account
    raise Invalid(f"the URL matches no supported platform: expected {registry.supported()}")


def flag_post(
    session: Session,
    *,
    user: User,
    url: str,
    note: str | None,
    account_id: int | None = None,
    fetcher: Fetcher | None = None,
) -> tuple[FlaggedPost, bool]:
    """Flag a post of one of the caller's accounts; returns (post, created). With a
    `fetcher`, the platform's flag-time check (`verify_post`) may ask the site first."""
    hidden = hidden_character(url)
    if hidden is not None:
        # A URL that hides characters (bidi overrides, zero-width) reads as another address.
        raise Invalid(f"the URL contains an invisible or control character ({hidden})")
    refs = registry.recognise_post(url)
    ref, account = _match_account(session, owner=user, refs=refs, account_id=account_id)
    external_id = registry.get(ref.platform).external_id(ref, account)
    existing = session.scalar(
        select(FlaggedPost).where(
            FlaggedPost.platform == ref.platform, FlaggedPost.external_id == external_id
        )
    )
    if existing is not None:
        if existing.account.owner_id != user.id:
            # Another employee's post: say only that it is archived, nothing of it (not its
            # note, who flagged it, its status or its last error).
            raise Conflict("this post is already archived for another account")
        return existing, False
    if fetcher is not None:
        with fetcher.open_client() as client:
            registry.get(ref.platform).verify_post(ref, account, fetcher.session(client))
    now = utcnow()
    post = FlaggedPost(
        account_id=account.id,
        flagged_by_id=user.id,
        url=ref.canonical_url,
        platform=ref.platform,
        external_id=external_id,
        note=(note or "").strip() or None,
        status=PostStatus.waiting,
        flagged_at=now,
        next_poll_at=now,  # captured right after flagging
        polls_done=0,
        failure_count=0,
    )
    session.add(post)
    session.flush()
    record(
        session,
        actor=Actor.of(user),
        action="post.flagged",
        object_type="post",
        object_id=post.id,
        details={
            "url": post.url,
            "platform": post.platform,
            "external_id": external_id,
            "account_id": account.id,
        },
    )
    return post, True


def get_post(session: Session, *, viewer: User, post_id: int) -> FlaggedPost:
    """A post the viewer may see; another employee's post is 'not found'."""
    post = session.get(FlaggedPost, post_id)
    if post is None or (not viewer.is_officer and post.account.owner_id != viewer.id):
        raise NotFound(f"no post {post_id}")
    return post


@dataclass(frozen=True)
class PostFilters:
    account_id: int | None = None
    platform: str | None = None
    status: str | None = None
    flagged_from: dt.datetime | None = None
    flagged_to: dt.datetime | None = None


def list_posts(
    session: Session, *, viewer: User, filters: PostFilters, limit: int, offset: int
) -> tuple[list[FlaggedPost], int]:
    query = select(FlaggedPost)
    if not viewer.is_officer:
        query = query.join(SocialAccount, SocialAccount.id == FlaggedPost.account_id).where(
            SocialAccount.owner_id == viewer.id
        )
    if filters.account_id is not None:
        query = query.where(FlaggedPost.account_id == filters.account_id)
    if filters.platform:
        query = query.where(FlaggedPost.platform == filters.platform)
    if filters.status:
        query = query.where(FlaggedPost.status == filters.status)
    if filters.flagged_from:
        query = query.where(FlaggedPost.flagged_at >= filters.flagged_from)
    if filters.flagged_to:
        query = query.where(FlaggedPost.flagged_at < filters.flagged_to)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(FlaggedPost.id.desc()).limit(limit).offset(offset))
    return list(rows), total


def post_detail(session: Session, *, viewer: User, post_id: int) -> PostDetail:
    """A post with its versions, current classification, retention and holds."""
    post = get_post(session, viewer=viewer, post_id=post_id)
    detail = PostDetail.model_validate(post)
    detail.versions = [VersionSummary.model_validate(v) for v in post.versions]
    current = session.execute(
        select(Classification, CapturedVersion.number)
        .join(CapturedVersion, CapturedVersion.id == Classification.version_id)
        .where(CapturedVersion.post_id == post.id, Classification.is_current.is_(True))
        .order_by(CapturedVersion.number.desc(), Classification.id.desc())
        .limit(1)
    ).first()
    if current is not None:
        detail.classification = ClassificationOut.model_validate(current[0])
        detail.classification.version_number = current[1]
    assignment = session.scalar(
        select(RetentionAssignment)
        .where(RetentionAssignment.post_id == post.id, RetentionAssignment.is_current.is_(True))
        .order_by(RetentionAssignment.id.desc())
        .limit(1)
    )
    if assignment is not None:
        detail.retention = RetentionOut.model_validate(assignment)
    holds = session.scalars(
        select(Hold)
        .join(HeldPost, HeldPost.hold_id == Hold.id)
        .where(HeldPost.post_id == post.id)
        .order_by(Hold.id)
    )
    detail.holds = [HoldSummary.model_validate(h) for h in holds]
    return detail
