"""The disposition report: what would be destroyed, and when. Reads only."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.posts.models import FlaggedPost, PostStatus
from app.retention.disposition import OPEN_BATCH_STATUSES
from app.retention.holds import active_holds_on, held_any
from app.retention.models import DispositionBatch, DispositionItem, ItemStatus, RetentionAssignment
from app.retention.review import REVIEW, destruction_approved, latest_decision


@dataclass(frozen=True)
class ReportLine:
    post_id: int
    url: str
    series_code: str
    disposition: str
    due_on: dt.date | None
    state: str
    would_destroy: bool


def disposition_report(
    session: Session, *, today: dt.date, until: dt.date | None = None
) -> list[ReportLine]:
    """What would be destroyed, and when, for every kept post with a series; changes nothing."""
    horizon = until or today
    open_batches: dict[int, int] = {
        row[0]: row[1]
        for row in session.execute(
            select(DispositionItem.post_id, DispositionBatch.id)
            .join(DispositionBatch, DispositionBatch.id == DispositionItem.batch_id)
            .where(
                DispositionBatch.status.in_(OPEN_BATCH_STATUSES),
                DispositionItem.status.in_((ItemStatus.pending, ItemStatus.exported)),
            )
        )
    }
    rows = session.execute(
        select(RetentionAssignment, FlaggedPost.url)
        .join(FlaggedPost, FlaggedPost.id == RetentionAssignment.post_id)
        .where(RetentionAssignment.is_current.is_(True), FlaggedPost.status != PostStatus.disposed)
        .order_by(RetentionAssignment.due_on.is_(None), RetentionAssignment.due_on, FlaggedPost.id)
    ).all()
    held = held_any(session, [a.post_id for a, _ in rows])
    lines: list[ReportLine] = []
    for assignment, url in rows:
        due = assignment.due_on
        if due is None:
            state = f"never due yet: {assignment.due_reason}"
        elif assignment.post_id in held and assignment.disposition != "retain_permanently":
            holds = active_holds_on(session, assignment.post_id)
            state = f"due {due} but held by " + ", ".join(f"hold {h.id} ({h.kind})" for h in holds)
        elif assignment.disposition == "transfer_to_archives":
            state = (
                f"due {due}; in transfer batch {open_batches[assignment.post_id]}"
                if assignment.post_id in open_batches
                else f"due {due}; will be proposed for transfer to the archives"
                if due <= today
                else f"due {due} for transfer to the archives"
            )
        elif assignment.disposition == REVIEW and not destruction_approved(session, assignment):
            decision = latest_decision(session, assignment.id)
            state = (
                f"due {due}; retained by review until {decision.retain_until}: {decision.reason}"
                if decision is not None and decision.retain_until and decision.retain_until > today
                else f"due {due}; on the review list (a records officer decides)"
                if due <= today
                else f"due {due} for review, not destruction"
            )
        elif assignment.disposition not in ("destroy", REVIEW):
            state = f"due {due} for {assignment.disposition}, not destruction"
        elif assignment.post_id in held:
            holds = active_holds_on(session, assignment.post_id)
            state = f"due {due} but held by " + ", ".join(f"hold {h.id} ({h.kind})" for h in holds)
        elif assignment.post_id in open_batches:
            state = f"due {due}; in disposition batch {open_batches[assignment.post_id]}"
        elif due <= today:
            state = f"due {due}; will be proposed for destruction"
        else:
            state = f"due {due}"
        would = (
            due is not None
            and due <= horizon
            and (assignment.disposition == "destroy" or destruction_approved(session, assignment))
            and assignment.post_id not in held
        )
        lines.append(
            ReportLine(
                post_id=assignment.post_id,
                url=url,
                series_code=assignment.series_code,
                disposition=assignment.disposition,
                due_on=due,
                state=state,
                would_destroy=would,
            )
        )
    return lines
