"""Transfer to the archives: posts whose series ends in `transfer_to_archives` go to the state
archives (in Wisconsin, the Historical Society) as one BagIt package per batch, then the local
copies are disposed of.

Lifecycle of a transfer batch (a DispositionBatch of kind `transfer`, same two-step approval as
destruction: proposed → approved by a records officer, separation of duties respected):

1. run (export): each post is re-checked (holds, due date, series) and marked `exported` or
   skipped; then the package is built from the archive store (every object's hash verified on
   read), checked back against its own manifests, stored write-once under its SHA-256 and the
   batch waits in `awaiting_receipt`. Held posts are never exported.
2. receipt: a records officer records the archives' confirmation (reference, date, who, and the
   SHA-256 of what they received, which must be the package's): audited, batch → running.
3. run (disposal): each exported post is re-checked and its local copies are destroyed through
   the same path as destruction (app.retention.scrub), leaving a stub; the package itself goes
   too (the archives hold it now), and the certificate names the transfer and the receipt. A
   post held since the export keeps its local copy (skipped, with the reason).

Every step is idempotent and resumable: the package's bytes depend only on the batch (fixed
member times, the audit events up to `audit_through`), so building it again after a crash
stores the same object.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from app import __version__
from app.audit.models import AuditEvent
from app.audit.service import Actor, record
from app.auth.models import Role, User
from app.classification.models import Classification, ClassificationOverride
from app.db import Database, utcnow
from app.errors import Conflict, Forbidden, Invalid, NotFound
from app.posts.models import FlaggedPost, PostStatus
from app.retention.approvals import leave_out_lapsed
from app.retention.assignment import current_assignment
from app.retention.bag import build_bag_zip, check_bag_zip
from app.retention.calendar import DEFAULT_TIMEZONE, local_today
from app.retention.disposition import (
    allowed_disposition,
    batch_items,
    due_candidates,
    get_batch,
    new_batch,
)
from app.retention.holds import active_holds_on, extend_scoped_holds, lock_posts
from app.retention.models import (
    BatchKind,
    BatchStatus,
    DispositionBatch,
    DispositionItem,
    HeldPost,
    Hold,
    ItemStatus,
    RetentionAssignment,
)
from app.snapshots.models import Snapshot
from app.storage.base import ArchiveStore, StoreError, sha256_hex
from app.storage.models import StoredObject
from app.storage.service import put_object
from app.timestamps.models import TimestampToken

TRANSFER = "transfer_to_archives"
StepHook = Callable[[str], None]

_EXTENSIONS = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/gif": "gif",
    "image/webp": "webp",
    "video/mp4": "mp4",
    "application/pdf": "pdf",
    "application/json": "json",
    "application/wacz": "wacz",
    "application/zip": "zip",
    "text/html": "html",
}


def propose_transfer_batch(
    session: Session, *, actor: Actor, today: dt.date
) -> DispositionBatch | None:
    """Propose a transfer batch of the posts due for transfer with no holds (None: none)."""
    extend_scoped_holds(session, actor=actor)
    candidates, held_back = leave_out_lapsed(
        session,
        due_candidates(session, today=today, disposition=TRANSFER),
        today=today,
        what="the transfer",
    )
    if not candidates:
        return None
    batch = new_batch(session, actor=actor, kind=BatchKind.transfer)
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
            "as_of": today,
            **({"left_out_approval_expired": [a.post_id for a in held_back]} if held_back else {}),
        },
    )
    return batch


def _skip(session: Session, item: DispositionItem, reason: str, actor: Actor) -> None:
    item.status = ItemStatus.skipped
    item.skip_reason = reason
    session.flush()
    record(
        session,
        actor=actor,
        action="disposition.skipped",
        object_type="post",
        object_id=item.post_id,
        details={"batch_id": item.batch_id, "reason": reason},
    )


def decide_export(session: Session, *, item_id: int, actor: Actor, today: dt.date) -> bool:
    """Decide one post at export time: True when it goes into the package. Idempotent."""
    item = session.get(DispositionItem, item_id)
    if item is None:
        raise NotFound(f"no disposition item {item_id}")
    if item.status != ItemStatus.pending:
        return item.status == ItemStatus.exported
    batch = get_batch(session, item.batch_id)
    lock_posts(session, [item.post_id])
    post = session.get(FlaggedPost, item.post_id)
    assert post is not None
    session.refresh(post)
    assignment = current_assignment(session, post.id)
    holds = active_holds_on(session, post.id)
    reason: str | None = None
    if post.status == PostStatus.disposed:
        reason = "post already disposed"
    elif holds:
        reason = "held by " + ", ".join(f"hold {h.id} ({h.kind}: {h.authority})" for h in holds)
    elif assignment is None or assignment.due_on is None:
        reason = "no longer due: " + (assignment.due_reason if assignment else "no series")
    elif assignment.due_on > today:
        reason = f"not due until {assignment.due_on}"
    elif assignment.series_code != item.series_code:
        reason = f"series changed from {item.series_code} to {assignment.series_code}"
    elif not allowed_disposition(session, batch, assignment):
        reason = f"series disposition is now {assignment.disposition}"
    if reason is not None:
        _skip(session, item, reason, actor)
        return False
    item.status = ItemStatus.exported
    session.flush()
    record(
        session,
        actor=actor,
        action="transfer.exported",
        object_type="post",
        object_id=post.id,
        details={"batch_id": batch.id, "series_code": item.series_code},
    )
    return True


def _iso(value: dt.datetime | dt.date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _ext(mime: str) -> str:
    return _EXTENSIONS.get(mime.split(";")[0].strip().lower(), "bin")


def _json(value: Any) -> bytes:
    return (json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True) + "\n").encode()


def _holds_history(session: Session, post_id: int) -> list[dict[str, Any]]:
    rows = session.execute(
        select(Hold, HeldPost.added_at)
        .join(HeldPost, HeldPost.hold_id == Hold.id)
        .where(HeldPost.post_id == post_id)
        .order_by(Hold.id)
    ).all()
    return [
        {
            "hold_id": h.id,
            "kind": h.kind,
            "reason": h.reason,
            "authority": h.authority,
            "request_id": h.request_id,
            "placed_by_id": h.placed_by_id,
            "placed_at": _iso(h.placed_at),
            "post_added_at": _iso(added),
            "released_by_id": h.released_by_id,
            "released_at": _iso(h.released_at),
            "release_reason": h.release_reason,
            "release_authority": h.release_authority,
        }
        for h, added in rows
    ]


def _audit_events(session: Session, post_id: int, version_ids: list[int], through: int) -> bytes:
    query = (
        select(AuditEvent)
        .where(
            AuditEvent.id <= through,
            or_(
                and_(AuditEvent.object_type == "post", AuditEvent.object_id == str(post_id)),
                and_(
                    AuditEvent.object_type == "version",
                    AuditEvent.object_id.in_([str(v) for v in version_ids]),
                ),
            ),
        )
        .order_by(AuditEvent.id)
    )
    lines = [
        json.dumps(
            {
                "id": e.id,
                "occurred_at": _iso(e.occurred_at),
                "actor": e.actor,
                "actor_id": e.actor_id,
                "action": e.action,
                "object_type": e.object_type,
                "object_id": e.object_id,
                "details": e.details,
                "prev_hash": e.prev_hash,
                "hash": e.hash,
            },
            ensure_ascii=False,
            sort_keys=True,
        )
        for e in session.scalars(query)
    ]
    return ("\n".join(lines) + "\n").encode() if lines else b""


def _post_files(
    session: Session, store: ArchiveStore, post: FlaggedPost, *, through: int
) -> tuple[dict[str, bytes], dict[str, Any]]:
    """The payload files of one post, and its entry in transfer.json."""
    base = f"data/posts/{post.id}"
    files: dict[str, bytes] = {}
    versions: list[dict[str, Any]] = []
    for version in post.versions:
        vdir = f"{base}/versions/{version.number}"
        entry: dict[str, Any] = {
            "number": version.number,
            "kind": version.kind,
            "captured_at": _iso(version.captured_at),
            "platform_created_at": _iso(version.platform_created_at),
            "platform_edited_at": _iso(version.platform_edited_at),
            "platform_version_id": version.platform_version_id,
            "content_hash": version.content_hash,
            "source_sha256": version.source_sha256,
            "collector": version.collector,
            "collector_version": version.collector_version,
            "author_handle": version.author_handle,
            "author_name": version.author_name,
            "replies_captured": version.replies_captured,
            "files": {},
        }
        if version.source_json is not None:
            source = version.source_json.encode("utf-8")
            if sha256_hex(source) != version.source_sha256:
                raise StoreError(
                    f"the source JSON of post {post.id} version {version.number} does not "
                    "match its recorded SHA-256"
                )
            files[f"{vdir}/source.json"] = source
            entry["files"]["source"] = f"{vdir}/source.json"
        if version.normalized is not None:
            files[f"{vdir}/normalized.json"] = _json(version.normalized)
            entry["files"]["normalized"] = f"{vdir}/normalized.json"
        snapshots = session.scalars(
            select(Snapshot).where(Snapshot.version_id == version.id).order_by(Snapshot.id)
        ).all()
        entry["files"]["snapshots"] = []
        for snap in snapshots:
            path = f"{vdir}/snapshot-{snap.id}.pdf"
            files[path] = store.get(snap.sha256)  # verified against its hash on read
            entry["files"]["snapshots"].append(
                {
                    "path": path,
                    "sha256": snap.sha256,
                    "format": "PDF/A-3b",
                    "renderer_version": snap.renderer_version,
                    "current": snap.is_current,
                    "created_at": _iso(snap.created_at),
                    "timestamp": _timestamp(session, store, snap.sha256, path, files),
                }
            )
        entry["files"]["media"] = []
        for media in version.media:
            obj = session.get(StoredObject, media.sha256)
            mime = obj.mime_type if obj else "application/octet-stream"
            folder = "web-archives" if media.role == "wacz" else "media"
            ext = "wacz" if media.role == "wacz" else _ext(mime)
            path = f"{vdir}/{folder}/{media.position}-{media.role}.{ext}"
            files[path] = store.get(media.sha256)
            entry["files"]["media"].append(
                {
                    "path": path,
                    "sha256": media.sha256,
                    "role": media.role,
                    "mime_type": mime,
                    "alt_text": media.alt_text,
                    "source_url": media.source_url,
                    "timestamp": (
                        _timestamp(session, store, media.sha256, path, files)
                        if media.role == "wacz"
                        else None
                    ),
                }
            )
        versions.append(entry)
    assignment = current_assignment(session, post.id)
    assert assignment is not None
    metadata = {
        "post_id": post.id,
        "provenance": {
            "platform": post.platform,
            "url": post.url,
            "external_id": post.external_id,
            "account_id": post.account_id,
            "account_handle": post.account.handle,
            "account_profile_url": post.account.profile_url,
            "account_owner_id": post.account.owner_id,
            "flagged_by_id": post.flagged_by_id,
            "flagged_at": _iso(post.flagged_at),
            "note": post.note,
            "first_captured_at": _iso(post.first_captured_at),
            "last_captured_at": _iso(post.last_captured_at),
            "removed_at": _iso(post.removed_at),
            "status": post.status,
            "archive": f"PostVault {__version__}",
        },
        "series": _series(assignment),
        "classification": _classification(session, post.id, [v.id for v in post.versions]),
        "holds": _holds_history(session, post.id),
        "versions": versions,
    }
    files[f"{base}/metadata.json"] = _json(metadata)
    events = _audit_events(session, post.id, [v.id for v in post.versions], through)
    files[f"{base}/audit-events.jsonl"] = events
    return files, {
        "post_id": post.id,
        "series_code": assignment.series_code,
        "metadata": f"{base}/metadata.json",
        "audit_events": f"{base}/audit-events.jsonl",
        "versions": len(versions),
    }


def _timestamp(
    session: Session, store: ArchiveStore, sha256: str, path: str, files: dict[str, bytes]
) -> dict[str, Any] | None:
    """The object's RFC 3161 token, carried beside it as `<path>.tsr` when there is one."""
    token = session.scalar(select(TimestampToken).where(TimestampToken.object_sha256 == sha256))
    if token is None:
        return None
    found: dict[str, Any] = {
        "status": token.status,
        "tsa_url": token.tsa_url,
        "gen_time": _iso(token.gen_time),
        "serial_number": token.serial_number,
        "policy": token.policy,
    }
    if token.token_sha256 is not None:
        files[f"{path}.tsr"] = store.get(token.token_sha256)
        found["token"] = f"{path}.tsr"
    return found


def _series(a: RetentionAssignment) -> dict[str, Any]:
    return {
        "schedule_id": a.schedule_id,
        "schedule_version": a.schedule_version,
        "series_code": a.series_code,
        "label": a.label,
        "retention": a.retention,
        "due_on": _iso(a.due_on),
        "due_reason": a.due_reason,
        "disposition": a.disposition,
        "whs_notice": a.whs_notice,
        "assigned_at": _iso(a.computed_at),
    }


def _classification(session: Session, post_id: int, version_ids: list[int]) -> dict[str, Any]:
    rows = session.scalars(
        select(Classification)
        .where(Classification.version_id.in_(version_ids))
        .order_by(Classification.id)
    ).all()
    overrides = session.scalars(
        select(ClassificationOverride)
        .where(ClassificationOverride.post_id == post_id)
        .order_by(ClassificationOverride.id)
    ).all()
    return {
        "versions": [
            {
                "version_id": c.version_id,
                "label": c.label,
                "rule_id": c.rule_id,
                "reasons": c.reasons,
                "source": c.source,
                "confidence": c.confidence,
                "classifier_version": c.classifier_version,
                "config_hash": c.config_hash,
                "current": c.is_current,
                "created_at": _iso(c.created_at),
            }
            for c in rows
        ],
        "overrides": [
            {
                "label": o.label,
                "reason": o.reason,
                "officer_id": o.officer_id,
                "created_at": _iso(o.created_at),
                "revoked_at": _iso(o.revoked_at),
            }
            for o in overrides
        ],
    }


def build_package(session: Session, store: ArchiveStore, batch: DispositionBatch) -> bytes:
    """The BagIt ZIP of a transfer batch's exported posts."""
    assert batch.audit_through is not None
    exported = [i for i in batch_items(session, batch.id) if i.status == ItemStatus.exported]
    approver = session.get(User, batch.approved_by_id) if batch.approved_by_id else None
    payload: dict[str, bytes] = {}
    entries: list[dict[str, Any]] = []
    for item in exported:
        post = session.get(FlaggedPost, item.post_id)
        assert post is not None
        files, entry = _post_files(session, store, post, through=batch.audit_through)
        payload.update(files)
        entries.append(entry)
    approved = batch.approved_at or batch.proposed_at
    payload["data/transfer.json"] = _json(
        {
            "batch_id": batch.id,
            "proposed_at": _iso(batch.proposed_at),
            "approved_at": _iso(batch.approved_at),
            "approved_by": f"{approver.name} <{approver.email}>" if approver else None,
            "authority": batch.authority,
            "audit_events_through": batch.audit_through,
            "posts": entries,
        }
    )
    return build_bag_zip(
        f"transfer-batch-{batch.id}",
        payload,
        {
            "Source-Organization": f"PostVault {__version__}",
            "Bagging-Date": approved.astimezone(dt.UTC).date().isoformat(),
            "External-Identifier": f"PostVault transfer batch {batch.id}",
            "External-Description": (
                f"{len(entries)} social-media record(s) transferred to the archives under "
                f"{batch.authority or 'the retention schedule'}"
            ),
            "Bag-Group-Identifier": ", ".join(sorted({i.series_code for i in exported})),
        },
    )


def export_batch(
    database: Database,
    *,
    batch_id: int,
    store: ArchiveStore,
    actor: Actor,
    today: dt.date,
    step: StepHook,
    pending: list[int],
) -> None:
    """Phase 1 of a transfer run: decide each post, then build, check and store the package
    and leave the batch awaiting the archives' receipt."""
    step("started")
    for item_id in pending:
        with database.session() as session:
            decide_export(session, item_id=item_id, actor=actor, today=today)
        step(f"item {item_id}: decided")
    with database.session() as session:
        batch = get_batch(session, batch_id)
        if batch.audit_through is None:
            batch.audit_through = session.scalar(select(func.max(AuditEvent.id))) or 0
    step("decided")
    with database.session() as session:
        batch = get_batch(session, batch_id)
        if batch.package_sha256 is not None:
            return
        exported = [
            i.post_id for i in batch_items(session, batch.id) if i.status == ItemStatus.exported
        ]
        if not exported:
            batch.status = BatchStatus.completed
            batch.completed_at = utcnow()
            record(
                session,
                actor=actor,
                action="transfer.nothing_transferred",
                object_type="disposition_batch",
                object_id=batch.id,
                details={"reason": "every post of the batch was skipped at export"},
            )
            return
        data = build_package(session, store, batch)
        payload = check_bag_zip(data)
        obj = put_object(session, store, data, mime_type="application/zip", kind="transfer_package")
        if store.verify(obj.sha256) != sha256_hex(data):
            raise StoreError(f"the transfer package {obj.sha256} does not read back intact")
        batch.package_sha256 = obj.sha256
        batch.package_size = len(data)
        batch.status = BatchStatus.awaiting_receipt
        record(
            session,
            actor=actor,
            action="transfer.package_built",
            object_type="disposition_batch",
            object_id=batch.id,
            details={
                "package_sha256": obj.sha256,
                "size": len(data),
                "files": len(payload),
                "post_ids": exported,
            },
        )
    step("package stored")


def record_receipt(
    session: Session,
    *,
    batch_id: int,
    officer: User,
    reference: str,
    received_on: dt.date,
    received_by: str,
    package_sha256: str,
    notes: str | None = None,
    timezone: str = DEFAULT_TIMEZONE,
) -> DispositionBatch:
    """The archives confirmed receipt: record it (audited); the batch runs again to dispose
    of the local copies."""
    if officer.role != Role.records_officer:
        raise Forbidden("recording a transfer receipt needs the records_officer role")
    batch = get_batch(session, batch_id)
    if batch.kind != BatchKind.transfer:
        raise Conflict(f"batch {batch_id} is a {batch.kind} batch, not a transfer")
    if batch.status != BatchStatus.awaiting_receipt:
        raise Conflict(
            f"batch {batch_id} is {batch.status}; a receipt is recorded only while the batch "
            "awaits it"
        )
    assert batch.package_sha256 is not None
    if package_sha256 != batch.package_sha256:
        raise Invalid(
            f"the archives received a file with SHA-256 {package_sha256}, but the package of "
            f"batch {batch_id} is {batch.package_sha256}: send the package again rather than "
            "record this receipt"
        )
    if received_on > local_today(timezone):
        raise Invalid("received_on is in the future: record the receipt once it arrives")
    built = batch.approved_at or batch.proposed_at
    if received_on < built.astimezone(dt.UTC).date() - dt.timedelta(days=1):
        raise Invalid(f"received_on {received_on} is before the batch was approved")
    batch.receipt_reference = reference
    batch.receipt_received_on = received_on
    batch.receipt_received_by = received_by
    batch.receipt_notes = notes
    batch.receipt_recorded_by_id = officer.id
    batch.receipt_recorded_at = utcnow()
    batch.status = BatchStatus.running
    batch.lease_owner = None
    batch.lease_expires_at = None
    session.flush()
    record(
        session,
        actor=Actor.of(officer),
        action="transfer.receipt_recorded",
        object_type="disposition_batch",
        object_id=batch.id,
        details={
            "reference": reference,
            "received_on": received_on,
            "received_by": received_by,
            "notes": notes,
            "package_sha256": package_sha256,
            "post_ids": [
                i.post_id for i in batch_items(session, batch.id) if i.status == ItemStatus.exported
            ],
        },
    )
    return batch


def package_bytes(session: Session, *, batch_id: int, store: ArchiveStore) -> bytes:
    batch = get_batch(session, batch_id)
    if batch.kind != BatchKind.transfer:
        raise NotFound(f"batch {batch_id} is not a transfer: it has no package")
    if batch.package_sha256 is None:
        raise NotFound(f"transfer batch {batch_id} has no package yet: run it first")
    obj = session.get(StoredObject, batch.package_sha256)
    if obj is not None and obj.destroyed_at is not None:
        raise NotFound(
            f"the package of transfer batch {batch_id} was destroyed on "
            f"{obj.destroyed_at:%Y-%m-%d} with the local copies, after the archives' receipt "
            f"{batch.receipt_reference}"
        )
    return store.get(batch.package_sha256)  # verified against its hash on read


def mark_package_destroyed(session: Session, batch: DispositionBatch) -> str | None:
    """After receipt, the package in the store is one more local copy: it goes too. Marks it
    destroyed (the caller commits, then deletes the returned key from the store)."""
    if batch.kind != BatchKind.transfer or batch.package_sha256 is None:
        return None
    obj = session.get(StoredObject, batch.package_sha256)
    if obj is not None and obj.destroyed_at is None:
        obj.destroyed_at = utcnow()
        session.flush()
    return batch.package_sha256
