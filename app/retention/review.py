"""Series whose disposition is `review`: when due, a post goes on the review list, never
straight to destruction. A records officer decides per post: retain it longer (until a date,
with a reason; it comes back on the list then), or approve its destruction, after which it is
proposed in a normal destruction batch (two-step approval, holds re-checked at run time).

Session-first: services flush, the caller commits.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.service import Actor, record
from app.auth.models import Role, User
from app.db import utcnow
from app.errors import Conflict, Forbidden, Invalid, NotFound
from app.posts.models import FlaggedPost, PostStatus
from app.retention.assignment import current_assignment
from app.retention.holds import active_holds_on, held_any
from app.retention.models import (
    DispositionItem,
    ItemStatus,
    RetentionAssignment,
    ReviewDecision,
    ReviewOutcome,
    refuse_if_held,
)

REVIEW = "review"


def latest_decision(session: Session, assignment_id: int) -> ReviewDecision | None:
    return session.scalar(
        select(ReviewDecision)
        .where(ReviewDecision.assignment_id == assignment_id)
        .order_by(ReviewDecision.id.desc())
        .limit(1)
    )


def destruction_approved(session: Session, assignment: RetentionAssignment) -> bool:
    """Whether a review-series post may go into a destruction batch: an officer's latest
    decision on its current assignment is `destroy`."""
    if assignment.disposition != REVIEW:
        return False
    decision = latest_decision(session, assignment.id)
    return decision is not None and decision.outcome == ReviewOutcome.destroy


@dataclass(frozen=True)
class ReviewLine:
    post_id: int
    series_code: str
    schedule_id: str
    schedule_version: str
    due_on: dt.date
    due_reason: str
    state: str  # to_review | retained | destruction_approved
    held_by: list[str]
    decision: str | None
    decision_reason: str | None
    retain_until: dt.date | None
    decided_by_id: int | None
    decided_at: dt.datetime | None
    in_batch: int | None


def review_list(
    session: Session, *, today: dt.date, include_decided: bool = False
) -> list[ReviewLine]:
    """Kept posts of a `review` series that are due: those waiting for a decision (never
    decided, or retained until a day now past); with include_decided, also those retained
    for longer and those approved for destruction."""
    rows = session.scalars(
        select(RetentionAssignment)
        .join(FlaggedPost, FlaggedPost.id == RetentionAssignment.post_id)
        .where(
            RetentionAssignment.is_current.is_(True),
            RetentionAssignment.disposition == REVIEW,
            RetentionAssignment.due_on.is_not(None),
            RetentionAssignment.due_on <= today,
            FlaggedPost.status != PostStatus.disposed,
        )
        .order_by(RetentionAssignment.due_on, RetentionAssignment.post_id)
    ).all()
    held = held_any(session, [a.post_id for a in rows])
    batches = dict(
        session.execute(
            select(DispositionItem.post_id, DispositionItem.batch_id).where(
                DispositionItem.post_id.in_([a.post_id for a in rows]),
                DispositionItem.status == ItemStatus.pending,
            )
        ).all()
    )
    lines: list[ReviewLine] = []
    for assignment in rows:
        assert assignment.due_on is not None
        decision = latest_decision(session, assignment.id)
        if decision is None:
            state = "to_review"
        elif decision.outcome == ReviewOutcome.destroy:
            state = "destruction_approved"
        elif decision.retain_until is not None and decision.retain_until <= today:
            state = "to_review"
        else:
            state = "retained"
        if state != "to_review" and not include_decided:
            continue
        holds = (
            [
                f"hold {h.id} ({h.kind}: {h.authority})"
                for h in active_holds_on(session, assignment.post_id)
            ]
            if assignment.post_id in held
            else []
        )
        lines.append(
            ReviewLine(
                post_id=assignment.post_id,
                series_code=assignment.series_code,
                schedule_id=assignment.schedule_id,
                schedule_version=assignment.schedule_version,
                due_on=assignment.due_on,
                due_reason=assignment.due_reason,
                state=state,
                held_by=holds,
                decision=decision.outcome if decision else None,
                decision_reason=decision.reason if decision else None,
                retain_until=decision.retain_until if decision else None,
                decided_by_id=decision.decided_by_id if decision else None,
                decided_at=decision.decided_at if decision else None,
                in_batch=batches.get(assignment.post_id),
            )
        )
    return lines


def decide(
    session: Session,
    *,
    post_id: int,
    officer: User,
    outcome: ReviewOutcome,
    reason: str,
    retain_until: dt.date | None,
    today: dt.date,
) -> ReviewDecision:
    """Record a records officer's review decision (audited). Retaining needs a later date;
    approving destruction of a held post is refused (409 naming the hold, audited)."""
    if officer.role != Role.records_officer:
        raise Forbidden("deciding a review needs the records_officer role")
    if not reason.strip():
        raise Invalid("give the reason for the decision")
    post = session.get(FlaggedPost, post_id)
    if post is None:
        raise NotFound(f"no post {post_id}")
    if post.status == PostStatus.disposed:
        raise Conflict(f"post {post_id} was disposed; only its stub remains")
    assignment = current_assignment(session, post_id)
    if assignment is None or assignment.disposition != REVIEW:
        raise Conflict(
            f"post {post_id} is not in a series that ends in review"
            + (
                f" (series {assignment.series_code}: {assignment.disposition})"
                if assignment
                else ""
            )
        )
    if assignment.due_on is None or assignment.due_on > today:
        raise Conflict(
            f"post {post_id} is not due for review yet"
            + (f" (due {assignment.due_on})" if assignment.due_on else f": {assignment.due_reason}")
        )
    if outcome == ReviewOutcome.retain:
        if retain_until is None or retain_until <= today:
            raise Invalid("retaining a post longer needs retain_until, a day after today")
    else:
        if retain_until is not None:
            raise Invalid("retain_until is only for a decision to retain")
        refuse_if_held(
            session, post_ids=[post_id], actor=Actor.of(officer), attempted="review_destruction"
        )
    decision = ReviewDecision(
        post_id=post_id,
        assignment_id=assignment.id,
        outcome=outcome,
        reason=reason.strip(),
        retain_until=retain_until,
        decided_by_id=officer.id,
        decided_at=utcnow(),
    )
    session.add(decision)
    session.flush()
    record(
        session,
        actor=Actor.of(officer),
        action=f"review.{outcome}",
        object_type="post",
        object_id=post_id,
        details={
            "series_code": assignment.series_code,
            "schedule_version": assignment.schedule_version,
            "due_on": assignment.due_on,
            "reason": decision.reason,
            "retain_until": retain_until,
        },
    )
    return decision
