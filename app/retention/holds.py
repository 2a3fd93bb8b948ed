"""Holds: kinds, placing (by post or saved search), extending, release and mandamus notices.

Nothing held is destroyed. Session-first services: they flush, the caller owns the transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.audit.service import Actor, record
from app.auth.models import User
from app.db import utcnow
from app.errors import Conflict, Invalid, NotFound
from app.open_records.models import RecordsRequest
from app.posts.models import FlaggedPost, PostStatus
from app.retention.models import HeldPost, Hold, HoldKind
from app.retention.schemas import HoldOut, SearchCriteria
from app.retention.search_scope import posts_matching


def lock_posts(session: Session, post_ids: Sequence[int]) -> None:
    """Serialise with disposition: it locks a post's row before checking its holds."""
    if post_ids:
        session.execute(
            update(FlaggedPost)
            .where(FlaggedPost.id.in_(list(post_ids)))
            .values(lease_owner=FlaggedPost.lease_owner)
            .execution_options(synchronize_session=False)
        )


def held_post_ids(session: Session, hold_id: int) -> list[int]:
    return list(
        session.scalars(
            select(HeldPost.post_id).where(HeldPost.hold_id == hold_id).order_by(HeldPost.post_id)
        )
    )


def active_holds_on(session: Session, post_id: int) -> list[Hold]:
    return list(
        session.scalars(
            select(Hold)
            .join(HeldPost, HeldPost.hold_id == Hold.id)
            .where(HeldPost.post_id == post_id, Hold.released_at.is_(None))
            .order_by(Hold.id)
        )
    )


def held_any(session: Session, post_ids: Sequence[int]) -> set[int]:
    """Which of these posts some active hold covers."""
    if not post_ids:
        return set()
    return set(
        session.scalars(
            select(HeldPost.post_id)
            .join(Hold, Hold.id == HeldPost.hold_id)
            .where(HeldPost.post_id.in_(list(post_ids)), Hold.released_at.is_(None))
        )
    )


def place_hold(
    session: Session,
    *,
    officer: User,
    kind: str,
    reason: str,
    authority: str,
    post_ids: Sequence[int] = (),
    scope: SearchCriteria | None = None,
    request_id: int | None = None,
) -> Hold:
    """Hold posts named by id and/or matched by a saved search; nothing held is destroyed."""
    if kind not in HoldKind.__members__:
        raise Invalid(f"kind must be one of {', '.join(HoldKind)}")
    if not post_ids and scope is None:
        raise Invalid("a hold names posts (post_ids) or a saved search (scope)")
    if scope is not None and scope.is_empty:
        raise Invalid(
            "the saved search has no criteria and would hold every post: give at least one of "
            "employee_id, account_id, platform, a date range or text"
        )
    if kind == HoldKind.open_records and request_id is None:
        raise Invalid("an open_records hold names its request (request_id) for the 19.35(5) timer")
    if request_id is not None and session.get(RecordsRequest, request_id) is None:
        raise Invalid(f"no records request {request_id}")
    explicit = sorted(set(post_ids))
    if explicit:
        found = {
            row[0]: row[1]
            for row in session.execute(
                select(FlaggedPost.id, FlaggedPost.status).where(FlaggedPost.id.in_(explicit))
            )
        }
        missing = [p for p in explicit if p not in found]
        if missing:
            raise Invalid(f"no post {', '.join(str(p) for p in missing)}")
        disposed = [p for p in explicit if found[p] == PostStatus.disposed]
        if disposed:
            raise Invalid(
                f"post {', '.join(str(p) for p in disposed)} was disposed; only a stub remains"
            )
    matched = posts_matching(session, scope) if scope is not None else []
    covered = sorted(set(explicit) | set(matched))
    lock_posts(session, covered)
    hold = Hold(
        kind=kind,
        reason=reason,
        authority=authority,
        request_id=request_id,
        scope=scope.saved() if scope is not None else None,
        placed_by_id=officer.id,
        placed_at=utcnow(),
    )
    session.add(hold)
    session.flush()
    session.add_all(HeldPost(hold_id=hold.id, post_id=p) for p in covered)
    session.flush()
    record(
        session,
        actor=Actor.of(officer),
        action="hold.placed",
        object_type="hold",
        object_id=hold.id,
        details={
            "kind": kind,
            "reason": reason,
            "authority": authority,
            "request_id": request_id,
            "scope": hold.scope,
            "post_ids": covered,
        },
    )
    return hold


def extend_scoped_holds(session: Session, *, actor: Actor) -> dict[int, list[int]]:
    """Add posts flagged since a saved-search hold was placed that its search now matches."""
    added: dict[int, list[int]] = {}
    holds = session.scalars(
        select(Hold).where(Hold.released_at.is_(None), Hold.scope.is_not(None)).order_by(Hold.id)
    ).all()
    for hold in holds:
        if not hold.scope:
            continue
        matching = set(posts_matching(session, hold.scope))
        new = sorted(matching - set(held_post_ids(session, hold.id)))
        if not new:
            continue
        lock_posts(session, new)
        session.add_all(HeldPost(hold_id=hold.id, post_id=p) for p in new)
        session.flush()
        record(
            session,
            actor=actor,
            action="hold.extended",
            object_type="hold",
            object_id=hold.id,
            details={"post_ids": new, "scope": hold.scope},
        )
        added[hold.id] = new
    return added


def get_hold(session: Session, hold_id: int) -> Hold:
    hold = session.get(Hold, hold_id)
    if hold is None:
        raise NotFound(f"no hold {hold_id}")
    return hold


def list_holds(
    session: Session,
    *,
    active: bool | None = None,
    kind: str | None = None,
    post_id: int | None = None,
    request_id: int | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[Hold], int]:
    query = select(Hold)
    if active is True:
        query = query.where(Hold.released_at.is_(None))
    elif active is False:
        query = query.where(Hold.released_at.is_not(None))
    if kind:
        query = query.where(Hold.kind == kind)
    if request_id is not None:
        query = query.where(Hold.request_id == request_id)
    if post_id is not None:
        query = query.where(
            Hold.id.in_(select(HeldPost.hold_id).where(HeldPost.post_id == post_id))
        )
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(Hold.id.desc()).limit(limit).offset(offset))
    return list(rows), total


def release(session: Session, hold: Hold, *, actor: Actor, reason: str, authority: str) -> Hold:
    hold.released_by_id = actor.user_id
    hold.released_at = utcnow()
    hold.release_reason = reason
    hold.release_authority = authority
    session.flush()
    record(
        session,
        actor=actor,
        action="hold.released",
        object_type="hold",
        object_id=hold.id,
        details={
            "kind": hold.kind,
            "reason": reason,
            "authority": authority,
            "post_ids": held_post_ids(session, hold.id),
        },
    )
    return hold


def release_hold(
    session: Session,
    *,
    hold_id: int,
    officer: User,
    reason: str,
    authority: str,
    court_order_ref: str | None = None,
) -> Hold:
    """A records officer releases a hold; after a mandamus notice only with the court order."""
    hold = get_hold(session, hold_id)
    if hold.released_at is not None:
        raise Conflict(f"hold {hold_id} was already released on {hold.released_at:%Y-%m-%d}")
    if hold.mandamus_noticed_at is not None:
        if not (court_order_ref or "").strip():
            raise Invalid(
                f"hold {hold_id} has a mandamus notice: release it only when the court order "
                "and any appeal are final, citing the order (court_order_ref), 19.35(5)"
            )
        authority = f"{authority}; court order {court_order_ref.strip() if court_order_ref else ''}"
    return release(session, hold, actor=Actor.of(officer), reason=reason, authority=authority)


def record_mandamus_notice(
    session: Session, *, hold_id: int, officer: User, noticed_at: dt.datetime, reference: str
) -> Hold:
    """Notice of a mandamus action stops the 19.35(5) timer on an open-records hold."""
    hold = get_hold(session, hold_id)
    if hold.kind != HoldKind.open_records:
        raise Invalid(
            f"hold {hold_id} is a {hold.kind} hold; mandamus notices apply to open_records holds"
        )
    if hold.released_at is not None:
        raise Conflict(f"hold {hold_id} was released on {hold.released_at:%Y-%m-%d}")
    if hold.mandamus_noticed_at is not None:
        raise Conflict(f"hold {hold_id} already has a mandamus notice")
    if noticed_at > utcnow():
        raise Invalid("noticed_at is in the future")
    hold.mandamus_noticed_at = noticed_at
    session.flush()
    record(
        session,
        actor=Actor.of(officer),
        action="hold.mandamus_noticed",
        object_type="hold",
        object_id=hold.id,
        details={"noticed_at": noticed_at, "reference": reference},
    )
    return hold


def hold_out(session: Session, hold: Hold) -> HoldOut:
    out = HoldOut.model_validate(hold)
    out.post_ids = held_post_ids(session, hold.id)
    return out
