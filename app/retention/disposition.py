"""Two-step disposition, the decisions: batches of due posts are proposed, approved (with
Historical Society notice where a series needs it) or cancelled, and each item is decided
and its database copies destroyed at run time (`destroy_item`).

Session-first services: they flush, the caller owns the transaction. The run itself, which
deletes files and so commits step by step, is `app.retention.disposition_run`.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.audit.service import Actor, record
from app.auth.models import Role, User
from app.db import utcnow
from app.errors import Conflict, Forbidden, Invalid, NotFound
from app.open_records.models import RequestItem, ResponsePackage
from app.posts.models import CapturedVersion, FlaggedPost, PostStatus, VersionMedia
from app.retention.approvals import (
    batch_schedule_ids,
    blocked_schedules,
    leave_out_lapsed,
    refuse_if_expired,
)
from app.retention.assignment import as_utc, created_at_of, current_assignment
from app.retention.calendar import DEFAULT_TIMEZONE, local_date, local_today
from app.retention.holds import active_holds_on, extend_scoped_holds, held_any, lock_posts
from app.retention.models import (
    BatchKind,
    BatchStatus,
    DispositionAttempt,
    DispositionBatch,
    DispositionItem,
    DispositionRequestItem,
    ItemStatus,
    RetentionAssignment,
)
from app.retention.request_files import RequestFilesPolicy, due_requests
from app.retention.review import REVIEW, destruction_approved
from app.retention.schemas import AttemptOut, BatchDetail, ItemOut, RequestItemOut
from app.retention.scrub import disposed_external_id, scrub_post, sha256_text
from app.snapshots.models import Snapshot
from app.storage.base import ArchiveStore
from app.storage.models import StoredObject

# 19.21(4)(a): 60 days' written notice to the Wisconsin Historical Society before destruction.
WHS_NOTICE_DAYS = 60
# A batch still to run (or resume): its pending posts are not proposed again.
OPEN_BATCH_STATUSES = (
    BatchStatus.proposed,
    BatchStatus.approved,
    BatchStatus.running,
    BatchStatus.failed,
    BatchStatus.awaiting_receipt,
)
# Item states that keep a post out of new batches while its batch is open.
OPEN_ITEM_STATUSES = (ItemStatus.pending, ItemStatus.exported)

log = logging.getLogger("postvault.retention")


def get_batch(session: Session, batch_id: int) -> DispositionBatch:
    batch = session.get(DispositionBatch, batch_id)
    if batch is None:
        raise NotFound(f"no disposition batch {batch_id}")
    return batch


def batch_items(session: Session, batch_id: int) -> list[DispositionItem]:
    return list(
        session.scalars(
            select(DispositionItem)
            .where(DispositionItem.batch_id == batch_id)
            .order_by(DispositionItem.post_id)
        )
    )


def due_candidates(
    session: Session, *, today: dt.date, disposition: str = "destroy"
) -> list[RetentionAssignment]:
    """Current assignments due by `today` whose series ends in `disposition` (destroy: also a
    `review` series whose review approved destruction), for kept posts with no active hold and
    not already in an open batch."""
    in_open_batch = (
        select(DispositionItem.post_id)
        .join(DispositionBatch, DispositionBatch.id == DispositionItem.batch_id)
        .where(
            DispositionBatch.status.in_(OPEN_BATCH_STATUSES),
            DispositionItem.status.in_(OPEN_ITEM_STATUSES),
        )
    )
    wanted = [disposition, REVIEW] if disposition == "destroy" else [disposition]
    rows = session.scalars(
        select(RetentionAssignment)
        .join(FlaggedPost, FlaggedPost.id == RetentionAssignment.post_id)
        .where(
            RetentionAssignment.is_current.is_(True),
            RetentionAssignment.due_on.is_not(None),
            RetentionAssignment.due_on <= today,
            RetentionAssignment.disposition.in_(wanted),
            FlaggedPost.status != PostStatus.disposed,
            RetentionAssignment.post_id.not_in(in_open_batch),
        )
        .order_by(RetentionAssignment.post_id)
    ).all()
    rows = [r for r in rows if r.disposition != REVIEW or destruction_approved(session, r)]
    held = held_any(session, [r.post_id for r in rows])
    return [r for r in rows if r.post_id not in held]


def allowed_disposition(session: Session, batch: DispositionBatch, a: RetentionAssignment) -> bool:
    """Whether the post's current series still ends the way the batch disposes of it."""
    if batch.kind == BatchKind.transfer:
        return a.disposition == "transfer_to_archives"
    return a.disposition == "destroy" or destruction_approved(session, a)


def new_batch(session: Session, *, actor: Actor, kind: BatchKind) -> DispositionBatch:
    batch = DispositionBatch(
        status=BatchStatus.proposed, kind=kind, proposed_at=utcnow(), proposed_by_id=actor.user_id
    )
    session.add(batch)
    session.flush()
    return batch


def propose_batch(
    session: Session,
    *,
    actor: Actor,
    today: dt.date,
    request_files: RequestFilesPolicy | None = None,
) -> DispositionBatch | None:
    """Propose a destruction batch of the posts past due with no holds, and of the closed
    requests whose files are past due (when their series is set); None when there are none.
    Posts of a schedule whose approval lapsed are left out (logged); when they are all that
    is due, the proposal is refused (409) naming the lapsed approval."""
    extend_scoped_holds(session, actor=actor)
    candidates, held_back = leave_out_lapsed(
        session, due_candidates(session, today=today), today=today, what="the disposition"
    )
    requests = due_requests(session, request_files, today=today) if request_files else []
    if not candidates and not requests:
        if held_back:
            refuse_if_expired(
                session,
                schedule_ids={a.schedule_id for a in held_back},
                today=today,
                what="the disposition proposal",
            )
        return None
    batch = new_batch(session, actor=actor, kind=BatchKind.destruction)
    session.add_all(
        DispositionItem(
            batch_id=batch.id,
            post_id=a.post_id,
            status=ItemStatus.pending,
            series_code=a.series_code,
            due_on=a.due_on,
        )
        for a in candidates
    )
    if requests:
        assert request_files is not None
        session.add_all(
            DispositionRequestItem(
                batch_id=batch.id,
                request_id=request.id,
                status=ItemStatus.pending,
                series_code=request_files.series_code,
                whs_notice=request_files.whs_notice,
                due_on=due,
            )
            for request, due in requests
        )
    session.flush()
    record(
        session,
        actor=actor,
        action="disposition.proposed",
        object_type="disposition_batch",
        object_id=batch.id,
        details={
            "kind": batch.kind,
            "post_ids": [a.post_id for a in candidates],
            "request_ids": [r.id for r, _ in requests],
            "as_of": today,
            **({"left_out_approval_expired": [a.post_id for a in held_back]} if held_back else {}),
        },
    )
    return batch


def request_items(session: Session, batch_id: int) -> list[DispositionRequestItem]:
    return list(
        session.scalars(
            select(DispositionRequestItem)
            .where(DispositionRequestItem.batch_id == batch_id)
            .order_by(DispositionRequestItem.request_id)
        )
    )


def whs_series(session: Session, batch_id: int) -> list[str]:
    """Series in the batch whose destruction needs notice to the Historical Society (none
    for a transfer: the records go to the archives rather than being destroyed)."""
    batch = session.get(DispositionBatch, batch_id)
    if batch is not None and batch.kind == BatchKind.transfer:
        return []
    codes = select(DispositionItem.series_code).where(DispositionItem.batch_id == batch_id)
    posts = set(
        session.scalars(
            select(RetentionAssignment.series_code).where(
                RetentionAssignment.series_code.in_(codes),
                RetentionAssignment.whs_notice == "required",
            )
        )
    )
    requests = set(
        session.scalars(
            select(DispositionRequestItem.series_code).where(
                DispositionRequestItem.batch_id == batch_id,
                DispositionRequestItem.whs_notice == "required",
            )
        )
    )
    return sorted(posts | requests)


def run_blocker(
    session: Session, batch: DispositionBatch, *, today: dt.date
) -> tuple[str | None, dt.date | None]:
    """(why the batch cannot run today, the first day it could) — (None, None) when it can."""
    if batch.status == BatchStatus.running:
        return None, None  # a started batch resumes: its checks were passed when it started
    if batch.status == BatchStatus.awaiting_receipt:
        return (
            f"transfer batch {batch.id} waits for the archives' receipt of its package: record "
            "it and the local copies are disposed of",
            None,
        )
    if batch.status != BatchStatus.approved:
        return f"batch {batch.id} is {batch.status}; only an approved batch runs", None
    blocked = blocked_schedules(session, today=today)
    lapsed = [blocked[s] for s in sorted(batch_schedule_ids(session, batch.id)) if s in blocked]
    if lapsed:
        return f"batch {batch.id} waits: " + "; ".join(n.message for n in lapsed), None
    if whs_series(session, batch.id):
        assert batch.whs_notice_on is not None  # approval refuses a batch without it
        first = batch.whs_notice_on + dt.timedelta(days=WHS_NOTICE_DAYS)
        if today < first:
            return (
                f"batch {batch.id} waits {WHS_NOTICE_DAYS} days after the Historical Society "
                f"notice of {batch.whs_notice_on} (until {first}), Wis. Stat. 19.21(4)(a)",
                first,
            )
        if not batch.whs_reply_ref:
            return (
                f"batch {batch.id} needs the Historical Society's reply or waiver attached",
                None,
            )
    return None, None


def approve_batch(
    session: Session,
    *,
    batch_id: int,
    officer: User,
    authority: str,
    whs_notice_on: dt.date | None = None,
    timezone: str = DEFAULT_TIMEZONE,
    allow_self_approval: bool = True,
) -> DispositionBatch:
    # Separation of duties: admins manage users; only a records officer approves destruction
    # (or transfer) of records.
    if officer.role != Role.records_officer:
        raise Forbidden("approving disposition needs the records_officer role")
    batch = get_batch(session, batch_id)
    if batch.status != BatchStatus.proposed:
        raise Conflict(f"batch {batch_id} is {batch.status}; only a proposed batch is approved")
    self_approved = batch.proposed_by_id is not None and batch.proposed_by_id == officer.id
    if self_approved and not allow_self_approval:
        raise Forbidden(
            f"batch {batch_id} was proposed by you: another records officer approves it "
            "(POSTVAULT_ALLOW_SELF_APPROVAL is false)"
        )
    refuse_if_expired(
        session,
        schedule_ids=batch_schedule_ids(session, batch_id),
        today=local_today(timezone),
        what=f"approving batch {batch_id}",
    )
    needs = whs_series(session, batch_id)
    if needs and whs_notice_on is None:
        raise Invalid(
            f"series {', '.join(needs)} need notice to the Wisconsin Historical Society: give "
            "whs_notice_on, the day the notice letter went out (Wis. Stat. 19.21(4)(a))"
        )
    if whs_notice_on is not None and whs_notice_on > local_today(timezone):
        raise Invalid("whs_notice_on is in the future: record the notice once it is sent")
    batch.status = BatchStatus.approved
    batch.approved_by_id = officer.id
    batch.approved_at = utcnow()
    batch.authority = authority
    batch.whs_notice_on = whs_notice_on
    session.flush()
    record(
        session,
        actor=Actor.of(officer),
        action="disposition.approved",
        object_type="disposition_batch",
        object_id=batch.id,
        details={
            "authority": authority,
            "whs_notice_on": whs_notice_on,
            "kind": batch.kind,
            "whs_series": needs,
            "post_ids": [i.post_id for i in batch_items(session, batch_id)],
            "request_ids": [i.request_id for i in request_items(session, batch_id)],
            "self_approved": self_approved,
        },
    )
    return batch


def attach_whs_reply(
    session: Session, *, batch_id: int, officer: User, reference: str
) -> DispositionBatch:
    batch = get_batch(session, batch_id)
    if batch.status not in (BatchStatus.proposed, BatchStatus.approved):
        raise Conflict(f"batch {batch_id} is {batch.status}")
    batch.whs_reply_ref = reference
    session.flush()
    record(
        session,
        actor=Actor.of(officer),
        action="disposition.whs_reply_attached",
        object_type="disposition_batch",
        object_id=batch.id,
        details={"reference": reference},
    )
    return batch


def cancel_batch(
    session: Session, *, batch_id: int, officer: User, reason: str
) -> DispositionBatch:
    batch = get_batch(session, batch_id)
    if batch.status not in (BatchStatus.proposed, BatchStatus.approved):
        raise Conflict(f"batch {batch_id} is {batch.status}; it can no longer be cancelled")
    batch.status = BatchStatus.cancelled
    items: list[DispositionItem | DispositionRequestItem] = [
        *batch_items(session, batch_id),
        *request_items(session, batch_id),
    ]
    for item in items:
        if item.status == ItemStatus.pending:
            item.status = ItemStatus.skipped
            item.skip_reason = f"batch cancelled: {reason}"
    session.flush()
    record(
        session,
        actor=Actor.of(officer),
        action="disposition.cancelled",
        object_type="disposition_batch",
        object_id=batch.id,
        details={"reason": reason},
    )
    return batch


def list_batches(
    session: Session,
    *,
    status: str | None = None,
    kind: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[DispositionBatch], int]:
    query = select(DispositionBatch)
    if status:
        query = query.where(DispositionBatch.status == status)
    if kind:
        query = query.where(DispositionBatch.kind == kind)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(DispositionBatch.id.desc()).limit(limit).offset(offset))
    return list(rows), total


def runnable_batch_ids(session: Session, *, today: dt.date) -> list[int]:
    """Approved batches whose checks pass today, and batches that stopped part-way."""
    ids: list[int] = []
    for batch in session.scalars(
        select(DispositionBatch)
        .where(DispositionBatch.status.in_((BatchStatus.approved, BatchStatus.running)))
        .order_by(DispositionBatch.id)
    ):
        if run_blocker(session, batch, today=today)[0] is None:
            ids.append(batch.id)
    return ids


def batch_out(session: Session, batch: DispositionBatch, *, today: dt.date) -> BatchDetail:
    detail = BatchDetail.model_validate(batch)
    items = batch_items(session, batch.id)
    detail.items = [ItemOut.model_validate(i) for i in items]
    detail.request_items = [
        RequestItemOut.model_validate(i) for i in request_items(session, batch.id)
    ]
    detail.item_count = len(items) + len(detail.request_items)
    detail.whs_series = whs_series(session, batch.id)
    blocker, first = run_blocker(session, batch, today=today)
    detail.blocked_because = blocker
    detail.runnable_on = (
        first if blocker else (today if batch.status != BatchStatus.completed else None)
    )
    if batch.status in (
        BatchStatus.proposed,
        BatchStatus.cancelled,
        BatchStatus.completed,
        BatchStatus.failed,
        BatchStatus.awaiting_receipt,
    ):
        detail.runnable_on = None
    if batch.proposed_by_id is not None and batch.proposed_by_id == batch.approved_by_id:
        detail.warnings.append(
            "approved by the records officer who proposed it: no second person checked it"
        )
    detail.attempts = [
        AttemptOut.model_validate(a)
        for a in session.scalars(
            select(DispositionAttempt)
            .where(DispositionAttempt.batch_id == batch.id)
            .order_by(DispositionAttempt.number)
        )
    ]
    return detail


def certificate_bytes(session: Session, *, batch_id: int, store: ArchiveStore) -> bytes:
    batch = get_batch(session, batch_id)
    if batch.certificate_sha256 is None:
        raise NotFound(f"batch {batch_id} has no certificate: it has not completed")
    return store.get(batch.certificate_sha256)


def _objects_to_destroy(session: Session, post_id: int) -> tuple[list[str], list[str]]:
    """(store objects to destroy, objects kept because something kept still uses them).

    A post's objects are its versions' snapshots and media, plus any stored copy of a
    version's source JSON or canonical content (keyed by source_sha256 / content_hash). One
    stays when a post that is not disposed uses it too, or when it is part of another record
    (a redacted copy or package of an open-records response, a certificate).
    """
    versions = select(CapturedVersion.id).where(CapturedVersion.post_id == post_id)
    hashes = session.execute(
        select(CapturedVersion.source_sha256, CapturedVersion.content_hash).where(
            CapturedVersion.post_id == post_id
        )
    ).all()
    stored_copies = set(
        session.scalars(
            select(StoredObject.sha256).where(
                StoredObject.sha256.in_({h for row in hashes for h in row})
            )
        )
    )
    mine = (
        set(session.scalars(select(Snapshot.sha256).where(Snapshot.version_id.in_(versions))))
        | set(
            session.scalars(
                select(VersionMedia.sha256).where(VersionMedia.version_id.in_(versions))
            )
        )
        | stored_copies
        # Redacted copies of its versions made for records requests: copies of its content.
        | {
            k
            for k in session.scalars(
                select(RequestItem.redacted_sha256).where(RequestItem.version_id.in_(versions))
            )
            if k
        }
    )
    if not mine:
        return [], []
    kept_versions = (
        select(CapturedVersion.id)
        .join(FlaggedPost, FlaggedPost.id == CapturedVersion.post_id)
        .where(FlaggedPost.id != post_id, FlaggedPost.status != PostStatus.disposed)
    )
    candidates = list(mine)
    kept: set[str] = set()
    for query in (
        select(VersionMedia.sha256).where(
            VersionMedia.sha256.in_(candidates), VersionMedia.version_id.in_(kept_versions)
        ),
        select(Snapshot.sha256).where(
            Snapshot.sha256.in_(candidates), Snapshot.version_id.in_(kept_versions)
        ),
        select(CapturedVersion.source_sha256).where(
            CapturedVersion.source_sha256.in_(candidates), CapturedVersion.id.in_(kept_versions)
        ),
        select(CapturedVersion.content_hash).where(
            CapturedVersion.content_hash.in_(candidates), CapturedVersion.id.in_(kept_versions)
        ),
        select(RequestItem.redacted_sha256).where(
            RequestItem.redacted_sha256.in_(candidates), RequestItem.version_id.not_in(versions)
        ),
        select(ResponsePackage.sha256).where(ResponsePackage.sha256.in_(candidates)),
        select(DispositionBatch.certificate_sha256).where(
            DispositionBatch.certificate_sha256.in_(candidates)
        ),
    ):
        kept |= {k for k in session.scalars(query) if k}
    return sorted(mine - kept), sorted(kept)


def _iso(value: dt.datetime | dt.date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _stub(
    session: Session,
    post: FlaggedPost,
    assignment: RetentionAssignment,
    batch: DispositionBatch,
    *,
    destroyed: list[str],
    kept: list[str],
    now: dt.datetime,
    timezone: str,
) -> dict[str, Any]:
    approver = session.get(User, batch.approved_by_id) if batch.approved_by_id else None
    created_at, _ = created_at_of(session, post)
    versions = [
        {
            "number": v.number,
            "kind": v.kind,
            "captured_at": _iso(v.captured_at),
            "platform_created_at": _iso(v.platform_created_at),
            "content_hash": v.content_hash,
            "source_sha256": v.source_sha256,
            "platform_version_id": v.platform_version_id,
        }
        for v in post.versions
    ]
    return {
        "post_id": post.id,
        # The URL names the account and the content: the certificate proves it by its hash.
        "url_sha256": sha256_text(post.url),
        "platform": post.platform,
        "external_id": disposed_external_id(post.external_id),
        "account_id": post.account_id,
        "flagged_by_id": post.flagged_by_id,
        "flagged_at": _iso(post.flagged_at),
        "created_on": _iso(local_date(as_utc(created_at) or created_at, timezone)),
        "first_captured_at": _iso(post.first_captured_at),
        "removed_at": _iso(post.removed_at),
        "label": assignment.label,
        "schedule_id": assignment.schedule_id,
        "schedule_version": assignment.schedule_version,
        "series_code": assignment.series_code,
        "retention": assignment.retention,
        "due_on": _iso(assignment.due_on),
        "versions": versions,
        "destroyed_objects": destroyed,
        "kept_shared_objects": kept,
        "batch_id": batch.id,
        "approved_by_id": batch.approved_by_id,
        "approver": f"{approver.name} <{approver.email}>" if approver else None,
        "approved_at": _iso(batch.approved_at),
        "authority": batch.authority,
        "whs_notice_on": _iso(batch.whs_notice_on),
        "whs_reply_ref": batch.whs_reply_ref,
        "destroyed_at": _iso(now),
        **(
            {
                "transferred": {
                    "package_sha256": batch.package_sha256,
                    "receipt_reference": batch.receipt_reference,
                    "received_on": _iso(batch.receipt_received_on),
                    "received_by": batch.receipt_received_by,
                }
            }
            if batch.kind == BatchKind.transfer
            else {}
        ),
    }


def _skip(item: DispositionItem, reason: str) -> None:
    item.status = ItemStatus.skipped
    item.skip_reason = reason


def destroy_item(
    session: Session,
    *,
    item_id: int,
    actor: Actor,
    today: dt.date,
    timezone: str = DEFAULT_TIMEZONE,
) -> list[str] | None:
    """Decide one item at run time and, if it is still free and due, destroy its database
    copies and keep its stub. Returns the store keys to delete, or None when skipped.

    Idempotent: an item already decided returns what it decided.
    """
    item = session.get(DispositionItem, item_id)
    if item is None:
        raise NotFound(f"no disposition item {item_id}")
    if item.status in (ItemStatus.destroyed, ItemStatus.transferred):
        return list((item.stub or {}).get("destroyed_objects", []))
    batch = get_batch(session, item.batch_id)
    # A transfer batch destroys only what went to the archives, once they confirmed it.
    ready = ItemStatus.exported if batch.kind == BatchKind.transfer else ItemStatus.pending
    if item.status != ready:
        return None
    lock_posts(session, [item.post_id])
    post = session.get(FlaggedPost, item.post_id)
    assert post is not None
    session.refresh(post)
    assignment = current_assignment(session, post.id)
    holds = active_holds_on(session, post.id)
    if post.status == PostStatus.disposed:
        _skip(
            item,
            f"post already disposed on {post.disposed_at:%Y-%m-%d}"
            if post.disposed_at
            else "post already disposed",
        )
    elif holds:
        _skip(
            item,
            "held by " + ", ".join(f"hold {h.id} ({h.kind}: {h.authority})" for h in holds),
        )
    elif assignment is None or assignment.due_on is None:
        _skip(item, "no longer due: " + (assignment.due_reason if assignment else "no series"))
    elif assignment.due_on > today:
        _skip(item, f"not due until {assignment.due_on}")
    elif assignment.series_code != item.series_code:
        _skip(
            item,
            f"series changed from {item.series_code} to {assignment.series_code} since the "
            "batch was proposed",
        )
    elif not allowed_disposition(session, batch, assignment):
        _skip(item, f"series disposition is now {assignment.disposition}")
    if item.status == ItemStatus.skipped and batch.kind == BatchKind.transfer:
        # In the archives' hands already: only the local copy stays (and why).
        item.skip_reason = (
            f"transferred to the archives (receipt {batch.receipt_reference}) but the local "
            f"copy is kept: {item.skip_reason}"
        )
    if item.status == ItemStatus.skipped:
        session.flush()
        record(
            session,
            actor=actor,
            action="disposition.skipped",
            object_type="post",
            object_id=post.id,
            details={"batch_id": batch.id, "reason": item.skip_reason},
        )
        return None
    assert assignment is not None
    destroyed, kept = _objects_to_destroy(session, post.id)
    now = utcnow()
    item.stub = _stub(
        session, post, assignment, batch, destroyed=destroyed, kept=kept, now=now, timezone=timezone
    )
    version_hashes = [v.content_hash for v in post.versions]
    scrub_post(session, post)
    for obj in session.scalars(select(StoredObject).where(StoredObject.sha256.in_(destroyed))):
        if obj.destroyed_at is None:
            obj.destroyed_at = now
    post.status = PostStatus.disposed
    post.disposed_at = now
    post.next_poll_at = None
    post.lease_owner = None
    post.lease_expires_at = None
    item.status = (
        ItemStatus.transferred if batch.kind == BatchKind.transfer else ItemStatus.destroyed
    )
    item.destroyed_at = now
    session.flush()
    record(
        session,
        actor=actor,
        action="disposition.destroyed",
        object_type="post",
        object_id=post.id,
        details={
            "batch_id": batch.id,
            "series_code": assignment.series_code,
            "due_on": assignment.due_on,
            "authority": batch.authority,
            "approved_by_id": batch.approved_by_id,
            "destroyed_objects": destroyed,
            "kept_shared_objects": kept,
            "version_hashes": version_hashes,
            **(
                {"transfer_receipt": batch.receipt_reference}
                if batch.kind == BatchKind.transfer
                else {}
            ),
        },
    )
    return destroyed
