"""Running an approved disposition batch: the one workflow in retention that owns its
transactions. It takes the Database and commits each step, so that the decision to destroy a
post is committed before its files go (a crash then leaves files to delete on resume, never a
post whose files are gone but which the database still calls kept).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.audit.service import Actor, record
from app.auth.models import User
from app.db import Database, utcnow
from app.errors import Conflict
from app.retention.calendar import DEFAULT_TIMEZONE, local_date
from app.retention.certificate import CertificateData, render_certificate
from app.retention.disposition import (
    batch_items,
    destroy_item,
    get_batch,
    request_items,
    run_blocker,
)
from app.retention.holds import extend_scoped_holds
from app.retention.models import (
    AttemptOutcome,
    BatchKind,
    BatchStatus,
    DispositionAttempt,
    DispositionBatch,
    DispositionItem,
    ItemStatus,
)
from app.retention.request_files import destroy_request_item
from app.retention.transfer import export_batch, mark_package_destroyed
from app.search.service import purge_removed_terms, remove_post_from_index
from app.storage.base import ArchiveStore, StoreError
from app.storage.service import put_object

DisposeHook = Callable[[Session, int], None]


def _sweep_search_index(session: Session, post_id: int) -> None:
    # destroy_item drops the post's search rows in its own transaction; this sweep, run after
    # the store's copies are gone, drops any row an indexer wrote for the post meanwhile.
    remove_post_from_index(session, post_id)


# Called once per destroyed post after its store objects are deleted, each call in its own
# transaction, with (session, post_id): what must go with a destroyed post beyond its database
# copies and store objects. A hook must be idempotent: a resumed batch calls it again for posts
# already destroyed, and the final sweep calls it once more for every destroyed post.
ON_DISPOSE: list[DisposeHook] = [_sweep_search_index]


class RunInterrupted(Exception):
    """The run stopped between steps: the process is stopping, or its lease was lost. Not a
    failure: the batch stays `running` and the next try resumes it."""


@dataclass
class RunResult:
    batch_id: int
    status: str
    destroyed: list[int] = field(default_factory=list)
    skipped: dict[int, str] = field(default_factory=dict)
    certificate_sha256: str | None = None
    error: str | None = None
    kind: str = BatchKind.destruction
    exported: list[int] = field(default_factory=list)
    package_sha256: str | None = None
    request_files_destroyed: list[int] = field(default_factory=list)


StepHook = Callable[[str], None]


def _noop(_step: str) -> None:
    return None


def _result(session: Session, batch: DispositionBatch) -> RunResult:
    items = batch_items(session, batch.id)
    gone = (ItemStatus.destroyed, ItemStatus.transferred)
    return RunResult(
        batch_id=batch.id,
        status=batch.status,
        destroyed=[i.post_id for i in items if i.status in gone],
        skipped={i.post_id: i.skip_reason or "" for i in items if i.status == ItemStatus.skipped},
        certificate_sha256=batch.certificate_sha256,
        error=batch.error if batch.status == BatchStatus.failed else None,
        kind=batch.kind,
        exported=[i.post_id for i in items if i.status == ItemStatus.exported],
        package_sha256=batch.package_sha256,
        request_files_destroyed=[
            r.request_id
            for r in request_items(session, batch.id)
            if r.status == ItemStatus.destroyed
        ],
    )


def _open_attempt(session: Session, batch: DispositionBatch, actor: Actor) -> int:
    """Start the batch's next try; a try still open was cut short by a process that died."""
    for stale in session.scalars(
        select(DispositionAttempt).where(
            DispositionAttempt.batch_id == batch.id,
            DispositionAttempt.outcome == AttemptOutcome.running,
        )
    ):
        stale.outcome = AttemptOutcome.interrupted
        stale.finished_at = utcnow()
    number = (
        session.scalar(
            select(func.max(DispositionAttempt.number)).where(
                DispositionAttempt.batch_id == batch.id
            )
        )
        or 0
    ) + 1
    attempt = DispositionAttempt(
        batch_id=batch.id,
        number=number,
        actor=actor.label,
        started_at=utcnow(),
        outcome=AttemptOutcome.running,
    )
    session.add(attempt)
    session.flush()
    return attempt.id


def _close_attempt(
    database: Database, attempt_id: int, outcome: AttemptOutcome, error: str | None = None
) -> None:
    with database.session() as session:
        attempt = session.get(DispositionAttempt, attempt_id)
        assert attempt is not None
        attempt.outcome = outcome
        attempt.error = error
        attempt.finished_at = utcnow()


def _fail(database: Database, *, batch_id: int, attempt_id: int, actor: Actor, error: str) -> None:
    """Mark the batch `failed` with its error: it waits for an officer's retry, not the resume
    job (a failure repeats until someone fixes its cause)."""
    with database.session() as session:
        batch = get_batch(session, batch_id)
        batch.status = BatchStatus.failed
        batch.error = error
        attempt = session.get(DispositionAttempt, attempt_id)
        assert attempt is not None
        attempt.outcome = AttemptOutcome.failed
        attempt.error = error
        attempt.finished_at = utcnow()
        record(
            session,
            actor=actor,
            action="disposition.failed",
            object_type="disposition_batch",
            object_id=batch_id,
            details={"attempt": attempt.number, "error": error},
        )


def retry_batch(session: Session, *, batch_id: int, officer: User) -> DispositionBatch:
    """A failed batch goes back to `running`: the next run (this request's, the resume job's)
    picks up where the failed try stopped; items already destroyed stay destroyed."""
    batch = get_batch(session, batch_id)
    if batch.status != BatchStatus.failed:
        raise Conflict(f"batch {batch_id} is {batch.status}; only a failed batch is retried")
    previous = batch.error
    batch.status = BatchStatus.running
    batch.error = None
    batch.lease_owner = None
    batch.lease_expires_at = None
    session.flush()
    record(
        session,
        actor=Actor.of(officer),
        action="disposition.retried",
        object_type="disposition_batch",
        object_id=batch.id,
        details={"previous_error": previous},
    )
    return batch


def attempts_of(session: Session, batch_id: int) -> list[DispositionAttempt]:
    return list(
        session.scalars(
            select(DispositionAttempt)
            .where(DispositionAttempt.batch_id == batch_id)
            .order_by(DispositionAttempt.number)
        )
    )


def run_batch(
    database: Database,
    *,
    batch_id: int,
    store: ArchiveStore,
    actor: Actor,
    today: dt.date,
    timezone: str = DEFAULT_TIMEZONE,
    on_step: StepHook | None = None,
) -> RunResult:
    """Run an approved batch, or resume one that stopped part-way.

    Order per post: (1) in one transaction, re-check holds and due date, keep the stub, null
    the database copies, mark its objects destroyed and the post disposed; (2) delete its
    objects from the store; (3) run the ON_DISPOSE hooks. A final sweep repeats (2) and (3) for
    every destroyed post of the batch and checks nothing is left, then the certificate is
    stored and the batch completed. Each step is idempotent, so a run stopped anywhere and run
    again ends in the same state, and no post is destroyed twice.
    """
    step = on_step or _noop
    with database.session() as session:
        batch = get_batch(session, batch_id)
        if batch.status == BatchStatus.completed:
            return _result(session, batch)
        if batch.status == BatchStatus.failed:
            raise Conflict(
                f"batch {batch_id} failed ({batch.error}); retry it once the cause is fixed"
            )
        blocker, _ = run_blocker(session, batch, today=today)
        if blocker:
            raise Conflict(blocker)
        attempt_id = _open_attempt(session, batch, actor)
        if batch.status == BatchStatus.approved:
            batch.status = BatchStatus.running
            batch.started_at = utcnow()
            record(
                session,
                actor=actor,
                action="disposition.started",
                object_type="disposition_batch",
                object_id=batch.id,
                details={"as_of": today},
            )
        extend_scoped_holds(session, actor=actor)
        exporting = batch.kind == BatchKind.transfer and batch.receipt_reference is None
        # A transfer's second run disposes of what the archives confirmed they received.
        ready = (
            ItemStatus.exported
            if batch.kind == BatchKind.transfer and not exporting
            else ItemStatus.pending
        )
        pending = [i.id for i in batch_items(session, batch_id) if i.status == ready]
        pending_requests = [
            r.id for r in request_items(session, batch_id) if r.status == ItemStatus.pending
        ]
    try:
        if exporting:
            export_batch(
                database,
                batch_id=batch_id,
                store=store,
                actor=actor,
                today=today,
                step=step,
                pending=pending,
            )
            with database.session() as session:
                result = _result(session, get_batch(session, batch_id))
            _close_attempt(database, attempt_id, AttemptOutcome.completed)
            return result
        result = _run_items(
            database,
            batch_id=batch_id,
            store=store,
            actor=actor,
            today=today,
            timezone=timezone,
            step=step,
            pending=pending,
            pending_requests=pending_requests,
        )
    except RunInterrupted:
        _close_attempt(database, attempt_id, AttemptOutcome.interrupted)
        raise
    except Exception as exc:  # any other error fails the batch, with its error kept
        error = f"{type(exc).__name__}: {exc}"
        _fail(database, batch_id=batch_id, attempt_id=attempt_id, actor=actor, error=error)
        with database.session() as session:
            return _result(session, get_batch(session, batch_id))
    _close_attempt(database, attempt_id, AttemptOutcome.completed)
    return result


def _run_items(
    database: Database,
    *,
    batch_id: int,
    store: ArchiveStore,
    actor: Actor,
    today: dt.date,
    timezone: str,
    step: StepHook,
    pending: list[int],
    pending_requests: list[int],
) -> RunResult:
    step("started")

    for item_id in pending:
        with database.session() as session:
            keys = destroy_item(
                session, item_id=item_id, actor=actor, today=today, timezone=timezone
            )
            post_id = session.get(DispositionItem, item_id).post_id  # type: ignore[union-attr]
        step(f"post {post_id}: decided")
        if keys is None:
            continue
        for key in keys:
            store.delete(key)
            step(f"post {post_id}: deleted {key[:12]}")
        with database.session() as session:
            for hook in ON_DISPOSE:
                hook(session, post_id)
        step(f"post {post_id}: hooks done")

    for request_item_id in pending_requests:
        with database.session() as session:
            keys = destroy_request_item(session, item_id=request_item_id, actor=actor, today=today)
        step(f"request item {request_item_id}: decided")
        for key in keys or []:
            store.delete(key)

    with database.session() as session:
        destroyed_items = [
            i
            for i in batch_items(session, batch_id)
            if i.status in (ItemStatus.destroyed, ItemStatus.transferred)
        ]
        keys_by_post = {
            i.post_id: list((i.stub or {}).get("destroyed_objects", [])) for i in destroyed_items
        }
        request_keys = [
            key
            for r in request_items(session, batch_id)
            if r.status == ItemStatus.destroyed
            for key in (r.stub or {}).get("destroyed_objects", [])
        ]
        package_key = mark_package_destroyed(session, get_batch(session, batch_id))
    for key in [*request_keys, *([package_key] if package_key else [])]:
        store.delete(key)
        if store.exists(key):
            raise StoreError(f"object {key} of batch {batch_id} is still in the store")
    for post_id, keys in keys_by_post.items():
        for key in keys:
            store.delete(key)
            if store.exists(key):
                raise StoreError(f"object {key} of post {post_id} is still in the store")
    step("swept store")
    with database.session() as session:
        for post_id in keys_by_post:
            for hook in ON_DISPOSE:
                hook(session, post_id)
        purge_removed_terms(session)
    step("swept hooks")

    with database.session() as session:
        batch = get_batch(session, batch_id)
        if batch.certificate_sha256 is None:
            pdf = render_certificate(_certificate_data(session, batch, timezone))
            obj = put_object(session, store, pdf, mime_type="application/pdf", kind="certificate")
            step("certificate stored")
            batch.certificate_sha256 = obj.sha256
            batch.status = BatchStatus.completed
            batch.completed_at = utcnow()
            record(
                session,
                actor=actor,
                action="disposition.completed",
                object_type="disposition_batch",
                object_id=batch.id,
                details={
                    "kind": batch.kind,
                    "destroyed_post_ids": sorted(keys_by_post),
                    "destroyed_request_files": sorted(
                        r.request_id
                        for r in request_items(session, batch.id)
                        if r.status == ItemStatus.destroyed
                    ),
                    "package_sha256": batch.package_sha256,
                    "receipt_reference": batch.receipt_reference,
                    "certificate_sha256": obj.sha256,
                },
            )
        result = _result(session, batch)
    step("completed")
    return result


def _certificate_data(session: Session, batch: DispositionBatch, timezone: str) -> CertificateData:
    items = batch_items(session, batch.id)
    destroyed = [i for i in items if i.status in (ItemStatus.destroyed, ItemStatus.transferred)]
    requests = [r for r in request_items(session, batch.id) if r.status == ItemStatus.destroyed]
    approver = session.get(User, batch.approved_by_id) if batch.approved_by_id else None
    recorder = (
        session.get(User, batch.receipt_recorded_by_id) if batch.receipt_recorded_by_id else None
    )
    times = [i.destroyed_at for i in destroyed] + [r.destroyed_at for r in requests]
    last = max((t for t in times if t is not None), default=None)
    return CertificateData(
        batch_id=batch.id,
        proposed_at=batch.proposed_at,
        approved_at=batch.approved_at,
        approver=f"{approver.name} <{approver.email}>" if approver else "unknown",
        authority=batch.authority or "",
        whs_notice_on=batch.whs_notice_on,
        whs_reply_ref=batch.whs_reply_ref,
        destroyed_on=local_date(last, timezone) if last else None,
        skipped_count=sum(1 for i in items if i.status == ItemStatus.skipped)
        + sum(1 for r in request_items(session, batch.id) if r.status == ItemStatus.skipped),
        stubs=[dict(i.stub or {}) for i in destroyed],
        request_stubs=[dict(r.stub or {}) for r in requests],
        transfer=(
            {
                "package_sha256": batch.package_sha256 or "",
                "package_size": str(batch.package_size or ""),
                "receipt_reference": batch.receipt_reference or "",
                "received_on": str(batch.receipt_received_on or ""),
                "received_by": batch.receipt_received_by or "",
                "recorded_by": f"{recorder.name} <{recorder.email}>" if recorder else "",
            }
            if batch.kind == BatchKind.transfer
            else None
        ),
    )
