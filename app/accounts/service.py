"""Social accounts: an employee registers the accounts whose posts they will flag."""

from __future__ import annotations

from sqlalchemy import delete, exists, select
from sqlalchemy.orm import Session

from app.accounts.models import SocialAccount
from app.audit.service import Actor, record
from app.auth.models import User
from app.collectors.models import CaptureAttempt
from app.errors import AuditedRefusal, Conflict, NotFound
from app.platforms.base import AccountRef
from app.platforms.fetcher import Fetcher
from app.platforms.registry import registry
from app.posts.models import CapturedVersion, FlaggedPost
from app.retention.models import HeldPost, Hold, refuse_if_held


def register_account(
    session: Session,
    *,
    owner: User,
    platform: str | None = None,
    handle: str | None = None,
    profile_url: str | None = None,
    access_token: str | None = None,
    fetcher: Fetcher | None = None,
) -> tuple[SocialAccount, bool]:
    """Register an account for `owner`; returns (account, created). Registering one's own
    account again returns it; an account another employee holds is a conflict.

    `fetcher` (from Settings) names the plain-HTTP hosts and looks for a feed at a profile
    URL no platform knows by its form; without one, https only."""
    ref: AccountRef = registry.resolve_account(
        fetcher=fetcher or Fetcher(),
        platform_id=platform or None,
        handle=handle,
        profile_url=profile_url,
    )
    existing = session.scalar(
        select(SocialAccount).where(
            SocialAccount.platform == ref.platform, SocialAccount.handle == ref.handle
        )
    )
    if existing is not None:
        if existing.owner_id == owner.id:
            return existing, False
        raise Conflict(
            f"the {ref.platform} account {ref.handle} is registered to another employee; "
            "ask a records officer if it is yours"
        )
    account = SocialAccount(
        owner_id=owner.id,
        platform=ref.platform,
        handle=ref.handle,
        profile_url=ref.profile_url,
        access_token=access_token or None,
    )
    session.add(account)
    session.flush()
    record(
        session,
        actor=Actor.of(owner),
        action="account.registered",
        object_type="social_account",
        object_id=account.id,
        details={"platform": account.platform, "handle": account.handle},
    )
    return account, True


def list_accounts(session: Session, *, viewer: User) -> list[SocialAccount]:
    query = select(SocialAccount).order_by(SocialAccount.id)
    if not viewer.is_officer:
        query = query.where(SocialAccount.owner_id == viewer.id)
    return list(session.scalars(query))


def get_account(session: Session, *, viewer: User, account_id: int) -> SocialAccount:
    """An account the viewer may see; anyone else's is 'not found', never 'forbidden'."""
    account = session.get(SocialAccount, account_id)
    if account is None or (not viewer.is_officer and account.owner_id != viewer.id):
        raise NotFound(f"no account {account_id}")
    return account


def remove_account(session: Session, *, viewer: User, account_id: int) -> None:
    """Remove an account while nothing of it is archived. Posts flagged but never captured
    go with it; an archived post keeps its account for as long as the post is kept."""
    account = get_account(session, viewer=viewer, account_id=account_id)
    if not viewer.is_officer and account.owner_id != viewer.id:
        raise NotFound(f"no account {account_id}")
    post_ids = list(
        session.scalars(select(FlaggedPost.id).where(FlaggedPost.account_id == account.id))
    )
    actor = Actor.of(viewer)
    what = f"account {account_id} ({account.handle})"
    # A hold freezes the account with its posts: held posts, or a saved search naming it.
    refuse_if_held(
        session,
        post_ids=post_ids,
        actor=actor,
        attempted="account_removal",
        object_type="social_account",
        object_id=account.id,
        what=what,
    )
    scoped = [
        h.id
        for h in session.scalars(select(Hold).where(Hold.released_at.is_(None)))
        if (h.scope or {}).get("account_id") == account.id
    ]
    if scoped:
        raise AuditedRefusal(
            f"{what} is named by the saved search of "
            + ", ".join(f"hold {h}" for h in scoped)
            + ": account removal is refused until the hold is released",
            actor_id=actor.user_id,
            actor=actor.label,
            action="hold.refused_account_removal",
            object_type="social_account",
            object_id=account.id,
            details={"hold_ids": scoped, "post_ids": []},
        )
    in_history = sorted(
        set(session.scalars(select(HeldPost.hold_id).where(HeldPost.post_id.in_(post_ids))))
    )
    if in_history:
        # Released holds keep which posts they held: the posts stay with their history.
        raise Conflict(
            f"{what} has posts in the history of "
            + ", ".join(f"hold {h}" for h in in_history)
            + "; it stays so that history stays whole"
        )
    archived = session.scalar(
        select(
            exists().where(
                CapturedVersion.post_id == FlaggedPost.id, FlaggedPost.account_id == account.id
            )
        )
    )
    if archived:
        raise Conflict(
            f"account {account_id} has archived posts; it stays for as long as they are kept"
        )
    if post_ids:
        session.execute(delete(CaptureAttempt).where(CaptureAttempt.post_id.in_(post_ids)))
        session.execute(delete(FlaggedPost).where(FlaggedPost.id.in_(post_ids)))
    record(
        session,
        actor=Actor.of(viewer),
        action="account.removed",
        object_type="social_account",
        object_id=account.id,
        details={
            "platform": account.platform,
            "handle": account.handle,
            "uncaptured_posts_removed": post_ids,
        },
    )
    session.delete(account)
    session.flush()
