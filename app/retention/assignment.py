"""Which series a post is in and when it is due: assignment from its label, recomputation, and release of AV posts.

Session-first services: they flush, the caller owns the transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from app.audit.service import Actor, record, record_many
from app.auth.models import User
from app.bulk import in_values, insert_rows
from app.classification.labels import active_override, classified_label
from app.classification.models import ClassificationOverride, Label
from app.classification.reclassify import active_overrides, most_retentive_labels
from app.db import utcnow
from app.errors import Conflict, Invalid, NotFound
from app.posts.models import CapturedVersion, FlaggedPost, PostStatus
from app.retention.calendar import DEFAULT_TIMEZONE, local_date
from app.retention.expressions import compute_due
from app.retention.models import RetentionAssignment, refuse_if_held
from app.retention.schedules import ScheduleSet

DEFAULT_LABEL = "record"  # a post not classified yet is treated as a record: the safe side
# Posts per chunk of `assign_retention_many`: IN lists well under the parameter limits.
_CHUNK = 900


def current_label(session: Session, post_id: int) -> tuple[str, str]:
    """(label, where it came from): the classifier's effective label (an active override,
    else the most retentive current label of the post's versions), else `record` until the
    post is classified. One definition, shared with the classifier."""
    override = active_override(session, post_id)
    return _label_and_source(override, None if override else classified_label(session, post_id))


def _label_and_source(
    override: ClassificationOverride | None, classified: Label | None
) -> tuple[str, str]:
    if override is not None:
        return override.label, f"override {override.id}"
    if classified is None:
        return DEFAULT_LABEL, "not classified yet"
    return classified.value, "the most retentive current classification of its versions"


# Built once (their compiled form is cached): every assignment reads these.
_CREATED_AT = select(
    func.min(CapturedVersion.platform_created_at), func.min(CapturedVersion.captured_at)
).where(CapturedVersion.post_id == bindparam("post_id"))
_CURRENT_ASSIGNMENT = (
    select(RetentionAssignment)
    .where(
        RetentionAssignment.post_id == bindparam("post_id"),
        RetentionAssignment.is_current.is_(True),
    )
    .order_by(RetentionAssignment.id.desc())
    .limit(1)
)


def created_at_of(session: Session, post: FlaggedPost) -> tuple[dt.datetime, str]:
    """When the post was created: the platform's own date, else its first capture."""
    platform_created, captured = session.execute(_CREATED_AT, {"post_id": post.id}).one()
    return _created_and_source(post, platform_created, captured)


def _created_and_source(
    post: FlaggedPost, platform_created: dt.datetime | None, captured: dt.datetime | None
) -> tuple[dt.datetime, str]:
    if platform_created is not None:
        return platform_created, "platform creation date"
    if captured is not None:
        return captured, "first capture"
    return post.flagged_at, "flagging (not captured yet)"


def current_assignment(session: Session, post_id: int) -> RetentionAssignment | None:
    return session.scalar(_CURRENT_ASSIGNMENT, {"post_id": post_id})


def current_assignments(
    session: Session, post_ids: Sequence[int]
) -> dict[int, RetentionAssignment]:
    """`current_assignment` of many posts, in one query (posts without one are left out)."""
    current: dict[int, RetentionAssignment] = {}
    for assignment in session.scalars(
        select(RetentionAssignment)
        .where(
            in_values(session, RetentionAssignment.post_id, post_ids),
            RetentionAssignment.is_current.is_(True),
        )
        .order_by(RetentionAssignment.id.desc())
    ):
        current.setdefault(assignment.post_id, assignment)
    return current


def as_utc(value: dt.datetime | None) -> dt.datetime | None:
    # Rows read back from SQLite through a Core query are naive UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


@dataclass(frozen=True)
class _Planned:
    """A new current assignment of a post: its row's values and its audit events."""

    row: dict[str, Any]
    events: list[tuple[str, str, object, dict[str, Any] | None]]


def _plan(
    *,
    post: FlaggedPost,
    old: RetentionAssignment | None,
    label: str,
    label_source: str,
    created_at: dt.datetime,
    created_source: str,
    schedules: ScheduleSet,
    timezone: str,
) -> _Planned | None:
    """What `assign_retention` writes for a post that is not disposed, from what it read:
    None when nothing changed. One definition for one post and for many."""
    try:
        schedule, series = schedules.series_for_label(label)
    except KeyError as exc:
        raise Invalid(str(exc.args[0])) from None
    created = local_date(as_utc(created_at) or created_at, timezone)
    event: dt.date | None = None
    if series.trigger_event == "post_removed" and post.removed_at is not None:
        event = local_date(post.removed_at, timezone)
    released_on: dt.date | None = None
    released_by_id: int | None = None
    released_at: dt.datetime | None = None
    if (
        old is not None
        and old.released_at is not None
        and old.series_code == series.code
        and series.expression.kind == "av"
    ):
        released_by_id, released_at = old.released_by_id, old.released_at
        released_on = local_date(old.released_at, timezone)
    due = compute_due(
        series.expression,
        created=created,
        event=event,
        event_name=series.trigger_event or "event",
        fiscal_year_end_month=schedule.fiscal_year_end[0],
        fiscal_year_end_day=schedule.fiscal_year_end[1],
        released_on=released_on,
    )
    reason = f"{due.reason}; created {created} ({created_source})"
    if (
        old is not None
        and old.label == label
        and old.schedule_id == schedule.id
        and old.schedule_version == schedule.version
        and old.series_code == series.code
        and old.retention == series.retention
        and old.due_on == due.due_on
        and old.due_reason == reason
    ):
        return None
    row: dict[str, Any] = {
        "post_id": post.id,
        "label": label,
        "schedule_id": schedule.id,
        "schedule_version": schedule.version,
        "series_code": series.code,
        "retention": series.retention,
        "due_on": due.due_on,
        "due_reason": reason,
        "whs_notice": series.whs_notice,
        "disposition": series.disposition,
        "released_by_id": released_by_id,
        "released_at": released_at,
        "is_current": True,
        "computed_at": utcnow(),
    }
    details: dict[str, Any] = {
        "label": label,
        "label_source": label_source,
        "schedule_id": schedule.id,
        "schedule_version": schedule.version,
        "series_code": series.code,
        "retention": series.retention,
        "due_on": due.due_on,
        "due_reason": reason,
    }
    events: list[tuple[str, str, object, dict[str, Any] | None]] = [
        ("retention.assigned", "post", post.id, details)
    ]
    if old is not None and (old.due_on != due.due_on or old.series_code != series.code):
        events.append(
            (
                "retention.recomputed",
                "post",
                post.id,
                {
                    "old_series_code": old.series_code,
                    "new_series_code": series.code,
                    "old_due_on": old.due_on,
                    "new_due_on": due.due_on,
                    "reason": reason,
                },
            )
        )
    return _Planned(row=row, events=events)


def assign_retention(
    session: Session,
    *,
    post_id: int,
    actor: Actor,
    schedules: ScheduleSet,
    timezone: str = DEFAULT_TIMEZONE,
    known_label: tuple[ClassificationOverride | None, Label | None] | None = None,
) -> RetentionAssignment:
    """Give a post its series and due date; call after classification and when removed_at is
    set. Writes a new current assignment only when something changed (audited).
    `known_label` is (active override, most retentive current label of its versions) when the
    caller has just read them in this transaction (the classifier), else they are read."""
    post = session.get(FlaggedPost, post_id)
    if post is None:
        raise NotFound(f"no post {post_id}")
    old = current_assignment(session, post_id)
    if post.status == PostStatus.disposed:
        if old is None:
            raise Conflict(f"post {post_id} was disposed; only its stub remains")
        return old
    label, label_source = (
        current_label(session, post_id)
        if known_label is None
        else _label_and_source(known_label[0], None if known_label[0] else known_label[1])
    )
    created_at, created_source = created_at_of(session, post)
    planned = _plan(
        post=post,
        old=old,
        label=label,
        label_source=label_source,
        created_at=created_at,
        created_source=created_source,
        schedules=schedules,
        timezone=timezone,
    )
    if planned is None:
        assert old is not None
        return old
    if old is not None:
        old.is_current = False
    assignment = RetentionAssignment(**planned.row)
    session.add(assignment)
    session.flush()
    for action, object_type, object_id, details in planned.events:
        record(
            session,
            actor=actor,
            action=action,
            object_type=object_type,
            object_id=object_id,
            details=details,
        )
    return assignment


def current_labels(session: Session, post_ids: Sequence[int]) -> dict[int, tuple[str, str]]:
    """`current_label` of many posts, in a few queries (at most _CHUNK posts)."""
    overrides = active_overrides(session, post_ids)
    classified = most_retentive_labels(session, post_ids)
    return {
        post_id: _label_and_source(overrides.get(post_id), classified.get(post_id))
        for post_id in post_ids
    }


def assign_retention_many(
    session: Session,
    *,
    post_ids: Iterable[int],
    actor: Actor,
    schedules: ScheduleSet,
    timezone: str = DEFAULT_TIMEZONE,
) -> int:
    """`assign_retention` for many posts, in their order, with the same outcome: the same new
    assignments and the same audit events in the same order, the same errors. Reads and
    writes a chunk of posts at a time (a few queries, one UPDATE, one INSERT, one append to
    the audit chain), not one post at a time. Returns how many posts got a new assignment."""
    ordered = list(dict.fromkeys(post_ids))  # a post twice: the second time changes nothing
    changed = 0
    for start in range(0, len(ordered), _CHUNK):
        changed += _assign_chunk(
            session,
            ordered[start : start + _CHUNK],
            actor=actor,
            schedules=schedules,
            timezone=timezone,
        )
    return changed


def _assign_chunk(
    session: Session,
    post_ids: list[int],
    *,
    actor: Actor,
    schedules: ScheduleSet,
    timezone: str,
) -> int:
    posts = {
        post.id: post
        for post in session.scalars(
            select(FlaggedPost).where(in_values(session, FlaggedPost.id, post_ids))
        )
    }
    olds = current_assignments(session, post_ids)
    kept = [
        post_id
        for post_id in post_ids
        if post_id in posts and posts[post_id].status != PostStatus.disposed
    ]
    labels = current_labels(session, kept)
    created: dict[int, tuple[dt.datetime | None, dt.datetime | None]] = {
        post_id: (platform_created, captured)
        for post_id, platform_created, captured in session.execute(
            select(
                CapturedVersion.post_id,
                func.min(CapturedVersion.platform_created_at),
                func.min(CapturedVersion.captured_at),
            )
            .where(in_values(session, CapturedVersion.post_id, kept))
            .group_by(CapturedVersion.post_id)
        )
    }
    retire: list[int] = []
    rows: list[dict[str, Any]] = []
    events: list[tuple[str, str, object, dict[str, Any] | None]] = []
    for post_id in post_ids:
        post = posts.get(post_id)
        if post is None:
            raise NotFound(f"no post {post_id}")
        old = olds.get(post_id)
        if post.status == PostStatus.disposed:
            if old is None:
                raise Conflict(f"post {post_id} was disposed; only its stub remains")
            continue
        label, label_source = labels[post_id]
        platform_created, captured = created.get(post_id, (None, None))
        created_at, created_source = _created_and_source(post, platform_created, captured)
        planned = _plan(
            post=post,
            old=old,
            label=label,
            label_source=label_source,
            created_at=created_at,
            created_source=created_source,
            schedules=schedules,
            timezone=timezone,
        )
        if planned is None:
            continue
        if old is not None:
            retire.append(old.id)
        rows.append(planned.row)
        events += planned.events
    if not rows:
        return 0
    if retire:
        session.execute(
            update(RetentionAssignment)
            .where(in_values(session, RetentionAssignment.id, retire))
            .values(is_current=False)
        )
    insert_rows(session, RetentionAssignment.__table__, rows)
    record_many(session, actor=actor, events=events)
    return len(rows)


def assign_all(
    session: Session, *, actor: Actor, schedules: ScheduleSet, timezone: str = DEFAULT_TIMEZONE
) -> int:
    """Re-assign every kept post (after a schedule changes); returns how many changed."""
    changed = 0
    ids = session.scalars(
        select(FlaggedPost.id)
        .where(FlaggedPost.status != PostStatus.disposed)
        .order_by(FlaggedPost.id)
    ).all()
    for post_id in ids:
        before = current_assignment(session, post_id)
        after = assign_retention(
            session, post_id=post_id, actor=actor, schedules=schedules, timezone=timezone
        )
        if before is None or before.id != after.id:
            changed += 1
    return changed


def release_av(
    session: Session,
    *,
    post_id: int,
    officer: User,
    reason: str,
    timezone: str = DEFAULT_TIMEZONE,
) -> RetentionAssignment:
    """A records officer says an AV ("until no longer needed") post is no longer needed."""
    post = session.get(FlaggedPost, post_id)
    if post is None:
        raise NotFound(f"no post {post_id}")
    refuse_if_held(session, post_ids=[post_id], actor=Actor.of(officer), attempted="av_release")
    old = current_assignment(session, post_id)
    if old is None:
        raise Conflict(f"post {post_id} has no retention series yet")
    if old.retention.strip().upper() != "AV":
        raise Conflict(
            f"post {post_id} is in series {old.series_code} ({old.retention}), not AV: its due "
            "date follows from the schedule"
        )
    if old.released_at is not None:
        raise Conflict(f"post {post_id} was already released on {old.released_at:%Y-%m-%d}")
    now = utcnow()
    today = local_date(now, timezone)
    old.is_current = False
    assignment = RetentionAssignment(
        post_id=post_id,
        label=old.label,
        schedule_id=old.schedule_id,
        schedule_version=old.schedule_version,
        series_code=old.series_code,
        retention=old.retention,
        due_on=today,
        due_reason=f"AV: released by a records officer on {today}: {reason}",
        whs_notice=old.whs_notice,
        disposition=old.disposition,
        released_by_id=officer.id,
        released_at=now,
        is_current=True,
        computed_at=now,
    )
    session.add(assignment)
    session.flush()
    record(
        session,
        actor=Actor.of(officer),
        action="retention.av_released",
        object_type="post",
        object_id=post_id,
        details={"series_code": old.series_code, "due_on": today, "reason": reason},
    )
    return assignment
