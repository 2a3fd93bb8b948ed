from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, BigInteger, Boolean, Date, ForeignKey, Integer, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.db import Base, UTCDateTime, utcnow
from app.errors import AuditedRefusal

if TYPE_CHECKING:
    from app.audit.service import Actor


class HoldKind(enum.StrEnum):
    open_records = "open_records"
    litigation = "litigation"
    audit = "audit"
    investigation = "investigation"


class BatchKind(enum.StrEnum):
    """What a batch does at the end of its series: destroy the posts (and request files), or
    transfer them to the state archives and then dispose of the local copies."""

    destruction = "destruction"
    transfer = "transfer"


class BatchStatus(enum.StrEnum):
    """A disposition batch: proposed → approved → running → completed, or cancelled before it
    runs (proposed or approved only). A run that fails (an error, not a stop) leaves the batch
    `failed` with its error until an officer retries it (failed → running).

    A transfer batch stops half-way: its run builds the export package (running →
    awaiting_receipt); once a records officer records the archives' receipt it runs again
    (awaiting_receipt → running) to dispose of the local copies, then completes."""

    proposed = "proposed"
    approved = "approved"
    running = "running"
    awaiting_receipt = "awaiting_receipt"
    failed = "failed"
    completed = "completed"
    cancelled = "cancelled"


class AttemptOutcome(enum.StrEnum):
    """One try at running a batch: running until it ends completed or failed, or interrupted
    (the process stopped or died; the next try resumes where it left off)."""

    running = "running"
    completed = "completed"
    failed = "failed"
    interrupted = "interrupted"


class ItemStatus(enum.StrEnum):
    """A post in a batch: pending until the run decides it, then destroyed or skipped. In a
    transfer batch: pending → exported (in the package sent to the archives) → transferred
    (the archives confirmed receipt and the local copies were destroyed), or skipped."""

    pending = "pending"
    destroyed = "destroyed"
    skipped = "skipped"
    exported = "exported"
    transferred = "transferred"


class ReviewOutcome(enum.StrEnum):
    """A records officer's decision on a post whose series ends in `review`: keep it longer
    (until a date, with a reason), or let it go to destruction through a normal batch."""

    retain = "retain"
    destroy = "destroy"


class RetentionAssignment(Base):
    """Which series a post belongs to and when it falls due; the latest one is current."""

    __tablename__ = "retention_assignments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("flagged_posts.id"), index=True)
    label: Mapped[str] = mapped_column(String(32))
    schedule_id: Mapped[str] = mapped_column(String(100))
    schedule_version: Mapped[str] = mapped_column(String(50))
    series_code: Mapped[str] = mapped_column(String(100))
    retention: Mapped[str] = mapped_column(String(200))
    due_on: Mapped[dt.date | None] = mapped_column(Date, index=True)
    due_reason: Mapped[str] = mapped_column(Text, default="")
    whs_notice: Mapped[str] = mapped_column(String(32))
    disposition: Mapped[str] = mapped_column(String(32))
    # AV ("until no longer needed") falls due only when an officer says so.
    released_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    released_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    is_current: Mapped[bool] = mapped_column(Boolean, default=True)
    computed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Hold(Base):
    __tablename__ = "holds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    authority: Mapped[str] = mapped_column(Text)
    request_id: Mapped[int | None] = mapped_column(ForeignKey("records_requests.id"), index=True)
    # A saved search (employee, account, platform, date range, text) that scopes the hold.
    scope: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    placed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    placed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    released_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    released_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    release_reason: Mapped[str | None] = mapped_column(Text)
    release_authority: Mapped[str | None] = mapped_column(Text)
    # 19.35(5): a mandamus notice stops the open-records release timer until an officer
    # releases the hold with the court order's reference.
    mandamus_noticed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class HeldPost(Base):
    __tablename__ = "held_posts"

    hold_id: Mapped[int] = mapped_column(ForeignKey("holds.id"), primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("flagged_posts.id"), primary_key=True)
    added_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class DispositionBatch(Base):
    __tablename__ = "disposition_batches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(16))  # a BatchStatus
    kind: Mapped[str] = mapped_column(  # a BatchKind
        String(16), default=BatchKind.destruction, server_default=BatchKind.destruction.value
    )
    proposed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # None: proposed by the daily job (the system), not a person.
    proposed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    authority: Mapped[str | None] = mapped_column(Text)
    whs_notice_on: Mapped[dt.date | None] = mapped_column(Date)
    whs_reply_ref: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    certificate_sha256: Mapped[str | None] = mapped_column(String(64))
    # Held by the process running the batch (app/leases.py): one run at a time, and a run
    # whose process died is resumed once its lease runs out.
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # Why the last try failed (status `failed`); each try is a DispositionAttempt.
    error: Mapped[str | None] = mapped_column(Text)
    # Transfer batches: the export package (a BagIt ZIP in the store, destroyed with the local
    # copies once the archives confirm), the last audit event it carries, and the receipt.
    package_sha256: Mapped[str | None] = mapped_column(String(64))
    package_size: Mapped[int | None] = mapped_column(BigInteger)
    audit_through: Mapped[int | None] = mapped_column(Integer)
    receipt_reference: Mapped[str | None] = mapped_column(Text)
    receipt_received_on: Mapped[dt.date | None] = mapped_column(Date)
    receipt_received_by: Mapped[str | None] = mapped_column(Text)
    receipt_notes: Mapped[str | None] = mapped_column(Text)
    receipt_recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    receipt_recorded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class DispositionAttempt(Base):
    """One try at running a batch, for the batch's history."""

    __tablename__ = "disposition_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("disposition_batches.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str] = mapped_column(String(16))  # an AttemptOutcome
    error: Mapped[str | None] = mapped_column(Text)


class DispositionItem(Base):
    """One post in a batch; after destruction it is the stub that remains."""

    __tablename__ = "disposition_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("disposition_batches.id"), index=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("flagged_posts.id"), index=True)
    status: Mapped[str] = mapped_column(String(16))  # an ItemStatus
    skip_reason: Mapped[str | None] = mapped_column(Text)
    series_code: Mapped[str] = mapped_column(String(100))
    due_on: Mapped[dt.date | None] = mapped_column(Date)
    stub: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # ids, dates, hashes kept
    destroyed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class DispositionRequestItem(Base):
    """The files of one closed records request (its response packages and redacted copies)
    in a destruction batch; after destruction it is the stub that remains."""

    __tablename__ = "disposition_request_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("disposition_batches.id"), index=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("records_requests.id"), index=True)
    status: Mapped[str] = mapped_column(String(16))  # an ItemStatus: pending|destroyed|skipped
    skip_reason: Mapped[str | None] = mapped_column(Text)
    series_code: Mapped[str] = mapped_column(String(100))
    whs_notice: Mapped[str] = mapped_column(String(32))  # the series' whs_notice
    due_on: Mapped[dt.date | None] = mapped_column(Date)
    stub: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    destroyed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class ReviewDecision(Base):
    """A records officer's decision on a post of a `review` series, for its current
    assignment: the latest decision for the assignment counts."""

    __tablename__ = "review_decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("flagged_posts.id"), index=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("retention_assignments.id"), index=True)
    outcome: Mapped[str] = mapped_column(String(16))  # a ReviewOutcome
    reason: Mapped[str] = mapped_column(Text)
    retain_until: Mapped[dt.date | None] = mapped_column(Date)
    decided_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


def refuse_if_held(
    session: Session,
    *,
    post_ids: Sequence[int],
    actor: Actor,
    attempted: str,
    object_type: str = "post",
    object_id: object = None,
    what: str = "",
) -> None:
    """Holds stop edits, not only destruction: raise an AuditedRefusal (409, naming each
    hold) when an active hold covers any of these posts. Here beside the tables, not in
    app.retention.holds, so the packages retention itself uses (classification, accounts)
    can ask without importing it back."""
    if not post_ids:
        return
    rows = session.execute(
        select(Hold, HeldPost.post_id)
        .join(HeldPost, HeldPost.hold_id == Hold.id)
        .where(HeldPost.post_id.in_(list(post_ids)), Hold.released_at.is_(None))
        .order_by(Hold.id, HeldPost.post_id)
    ).all()
    if not rows:
        return
    holds: dict[int, Hold] = {}
    held: set[int] = set()
    for hold, post_id in rows:
        holds[hold.id] = hold
        held.add(post_id)
    named = ", ".join(f"hold {h.id} ({h.kind}: {h.authority})" for h in holds.values())
    subject = what or (
        f"post {sorted(held)[0]}"
        if len(held) == 1
        else f"posts {', '.join(map(str, sorted(held)))}"
    )
    raise AuditedRefusal(
        f"{subject} is held by {named}: {attempted.replace('_', ' ')} is refused until every "
        "hold on it is released",
        actor_id=actor.user_id,
        actor=actor.label,
        action=f"hold.refused_{attempted}",
        object_type=object_type,
        object_id=object_id if object_id is not None else sorted(held)[0],
        details={"hold_ids": sorted(holds), "post_ids": sorted(held)},
    )


class RecordedSchedule(Base):
    """A schedule file as last applied to every post: its SHA-256 (a file that hashes
    differently is a changed schedule, and every post's assignment is recomputed) and its
    Public Records Board approval's expiry (an expired one blocks its series' disposition)."""

    __tablename__ = "retention_schedule_files"

    schedule_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    file_name: Mapped[str] = mapped_column(String(255))
    version: Mapped[str] = mapped_column(String(64))
    sha256: Mapped[str] = mapped_column(String(64))
    approval_body: Mapped[str | None] = mapped_column(String(200))
    approval_reference: Mapped[str | None] = mapped_column(String(200))
    approval_expires_on: Mapped[dt.date | None] = mapped_column(Date)
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
