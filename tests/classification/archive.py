"""Put real-shaped captures into the database the way the capture pipeline stores them."""

from __future__ import annotations

import hashlib
import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts.models import SocialAccount
from app.auth.models import User
from app.collectors.base import CollectedPost
from app.db import utcnow
from app.posts.models import CapturedVersion, FlaggedPost, PostStatus


def account_for(session: Session, *, owner: User, platform: str, handle: str) -> SocialAccount:
    found = session.scalar(
        select(SocialAccount).where(
            SocialAccount.platform == platform, SocialAccount.handle == handle
        )
    )
    if found is not None:
        return found
    account = SocialAccount(
        owner_id=owner.id,
        platform=platform,
        handle=handle,
        profile_url=f"https://{platform}/{handle}",
    )
    session.add(account)
    session.flush()
    return account


def add_capture(
    session: Session,
    *,
    owner: User,
    post: CollectedPost,
    handle: str | None = None,
    external_id: str | None = None,
    flagged: FlaggedPost | None = None,
) -> CapturedVersion:
    """A new version of `flagged` (or of a new flagged post) holding `post`."""
    if flagged is None:
        account = account_for(
            session, owner=owner, platform=post.platform, handle=handle or post.author.handle
        )
        flagged = FlaggedPost(
            account_id=account.id,
            flagged_by_id=owner.id,
            url=post.url,
            platform=post.platform,
            external_id=external_id or post.post_id,
            status=PostStatus.captured,
        )
        session.add(flagged)
        session.flush()
    normalized = post.model_dump(mode="json")
    canonical = json.dumps(normalized, sort_keys=True, separators=(",", ":"))
    number = 1 + len(
        session.scalars(
            select(CapturedVersion.id).where(CapturedVersion.post_id == flagged.id)
        ).all()
    )
    version = CapturedVersion(
        post_id=flagged.id,
        number=number,
        captured_at=utcnow(),
        content_hash=hashlib.sha256(canonical.encode()).hexdigest(),
        source_sha256=hashlib.sha256(b"{}").hexdigest(),
        source_json="{}",
        normalized=normalized,
        text=post.text,
        author_handle=post.author.handle,
        collector=post.platform,
        collector_version="test",
    )
    session.add(version)
    session.flush()
    return version
