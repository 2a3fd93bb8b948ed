"""Schedules that change safely: a changed schedule file is applied to every post, and a lapsed
Public Records Board approval blocks disposition of its schedule's series (and only that).

`sync_schedules` compares the loaded files' SHA-256 with the ones recorded in
`retention_schedule_files`; when any differ (or a schedule was added or removed) every kept
post's assignment is recomputed (`assign_all`: each change audited per post, a post whose
series and due date stay the same is left alone) and one `retention.schedules_changed` event
names the files. Run at start-up and hourly by the scheduler, and idempotent: the same files
change nothing. The first run on a database records the files and recomputes the posts whose
assignment names a schedule version not loaded now, with an event only if any changed.

The recorded approval expiry is what disposition consults (`blocked_schedules`), so a lapse is
noticed on its day without reading the files again.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from app.audit.service import Actor, record
from app.db import utcnow
from app.errors import Conflict
from app.posts.models import FlaggedPost, PostStatus
from app.retention.assignment import assign_all, assign_retention, current_assignment
from app.retention.calendar import DEFAULT_TIMEZONE
from app.retention.models import DispositionItem, ItemStatus, RecordedSchedule, RetentionAssignment
from app.retention.schedules import ApprovalNotice, ScheduleSet, approval_notice

log = logging.getLogger("postvault.retention")

# Two processes starting at once recompute one after the other (PostgreSQL; SQLite has one
# writer at a time anyway).
_SYNC_LOCK_KEY = 0x50565343  # "PVSC"


class ApprovalExpired(Conflict):
    """Disposition of a series whose schedule's approval lapsed: 409, naming the approval."""


@dataclass
class SyncResult:
    changed_files: dict[str, dict[str, str | None]] = field(default_factory=dict)
    posts_reassigned: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.changed_files)


def sync_schedules(
    session: Session,
    *,
    schedules: ScheduleSet,
    actor: Actor,
    timezone: str = DEFAULT_TIMEZONE,
) -> SyncResult:
    """Apply changed schedule files to every post (flush, never commit)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SYNC_LOCK_KEY})
    recorded = {r.schedule_id: r for r in session.scalars(select(RecordedSchedule))}
    first = not recorded
    result = SyncResult()
    current = {s.id: s for s in schedules.schedules}
    for schedule_id in sorted(set(recorded) | set(current)):
        old = recorded.get(schedule_id)
        new = current.get(schedule_id)
        old_hash = old.sha256 if old else None
        new_hash = new.sha256 if new else None
        if old_hash != new_hash:
            result.changed_files[schedule_id] = {
                "file": new.path.name if new else (old.file_name if old else None),
                "old_sha256": old_hash,
                "new_sha256": new_hash,
                "old_version": old.version if old else None,
                "new_version": new.version if new else None,
            }
    if not result.changed:
        return result
    if first:
        # Nothing was recorded yet (a new or upgraded deployment): the posts were assigned
        # from the files of their time; recompute those whose schedule version is not one
        # loaded now (a running app's own captures are left to it).
        result.posts_reassigned = _assign_outdated(
            session, actor=actor, schedules=schedules, timezone=timezone
        )
    else:
        result.posts_reassigned = assign_all(
            session, actor=actor, schedules=schedules, timezone=timezone
        )
    for schedule_id, old in recorded.items():
        if schedule_id not in current:
            session.delete(old)
    now = utcnow()
    for schedule_id, schedule in current.items():
        row = recorded.get(schedule_id) or RecordedSchedule(schedule_id=schedule_id)
        row.file_name = schedule.path.name
        row.version = schedule.version
        row.sha256 = schedule.sha256
        row.approval_body = schedule.approval.body if schedule.approval else None
        row.approval_reference = schedule.approval.reference if schedule.approval else None
        row.approval_expires_on = schedule.approval.expires_on if schedule.approval else None
        row.recorded_at = now
        session.add(row)
    session.flush()
    if not first or result.posts_reassigned:
        record(
            session,
            actor=actor,
            action="retention.schedules_changed",
            object_type="retention_schedules",
            object_id=",".join(sorted(result.changed_files)),
            details={
                "files": result.changed_files,
                "posts_reassigned": result.posts_reassigned,
                "first_recording": first,
            },
        )
    log.info(
        "retention schedules changed (%s): %d post(s) reassigned",
        ", ".join(sorted(result.changed_files)),
        result.posts_reassigned,
    )
    return result


def _assign_outdated(
    session: Session, *, actor: Actor, schedules: ScheduleSet, timezone: str
) -> int:
    loaded = {(s.id, s.version) for s in schedules.schedules}
    rows = session.execute(
        select(
            RetentionAssignment.post_id,
            RetentionAssignment.schedule_id,
            RetentionAssignment.schedule_version,
        )
        .join(FlaggedPost, FlaggedPost.id == RetentionAssignment.post_id)
        .where(
            RetentionAssignment.is_current.is_(True),
            FlaggedPost.status != PostStatus.disposed,
        )
        .order_by(RetentionAssignment.post_id)
    ).all()
    changed = 0
    for post_id, schedule_id, version in rows:
        if (schedule_id, version) in loaded:
            continue
        before = current_assignment(session, post_id)
        after = assign_retention(
            session, post_id=post_id, actor=actor, schedules=schedules, timezone=timezone
        )
        if before is None or before.id != after.id:
            changed += 1
    return changed


def recorded_notices(session: Session, *, today: dt.date) -> list[ApprovalNotice]:
    """Approvals of the recorded schedules that lapse within 12 months, or lapsed."""
    found = []
    for row in session.scalars(select(RecordedSchedule).order_by(RecordedSchedule.schedule_id)):
        if row.approval_expires_on is None:
            continue
        notice = approval_notice(
            schedule_id=row.schedule_id,
            file_name=row.file_name,
            body=row.approval_body or "Public Records Board",
            reference=row.approval_reference or "(no reference)",
            expires_on=row.approval_expires_on,
            today=today,
        )
        if notice is not None:
            found.append(notice)
    return found


def blocked_schedules(session: Session, *, today: dt.date) -> dict[str, ApprovalNotice]:
    """{schedule id: its lapsed approval}: disposition of these schedules' series waits."""
    return {n.schedule_id: n for n in recorded_notices(session, today=today) if n.expired}


def refuse_if_expired(
    session: Session, *, schedule_ids: set[str], today: dt.date, what: str
) -> None:
    """Raise ApprovalExpired (409) naming the lapsed approval(s) among `schedule_ids`."""
    blocked = blocked_schedules(session, today=today)
    hit = [blocked[s] for s in sorted(schedule_ids) if s in blocked]
    if not hit:
        return
    message = f"{what} is refused: " + "; ".join(n.message for n in hit)
    log.error("%s", message)
    raise ApprovalExpired(message)


def leave_out_lapsed(
    session: Session, candidates: list[RetentionAssignment], *, today: dt.date, what: str
) -> tuple[list[RetentionAssignment], list[RetentionAssignment]]:
    """(the candidates whose schedule's approval stands, those left out because it lapsed);
    the latter are logged loudly: a lapsed approval blocks its series' disposition."""
    blocked = blocked_schedules(session, today=today)
    held_back = [a for a in candidates if a.schedule_id in blocked]
    if held_back:
        ids = sorted({a.schedule_id for a in held_back})
        log.error(
            "%s of %d due post(s) waits: %s",
            what,
            len(held_back),
            "; ".join(blocked[i].message for i in ids),
        )
    return [a for a in candidates if a.schedule_id not in blocked], held_back


def batch_schedule_ids(session: Session, batch_id: int) -> set[str]:
    """The schedules of the batch's pending posts (their current assignments)."""
    pending = select(DispositionItem.post_id).where(
        DispositionItem.batch_id == batch_id, DispositionItem.status == ItemStatus.pending
    )
    return set(
        session.scalars(
            select(RetentionAssignment.schedule_id).where(
                RetentionAssignment.post_id.in_(pending), RetentionAssignment.is_current.is_(True)
            )
        )
    )
