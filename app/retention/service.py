"""Retention: series and due dates for posts, holds, and two-step disposition.

Services take the Session first and only flush; the caller owns the transaction. The one
exception is `run_batch`, which destroys files: it takes the Database and commits each step,
so that the decision to destroy a post is committed before its files go (a crash then leaves
files to delete on resume, never a post whose files are gone but which the database still
calls kept).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.audit.service import Actor, record
from app.auth.models import User
from app.classification.service import active_override, effective_label, forget_version
from app.db import Database, utcnow
from app.errors import Conflict, Invalid, NotFound
from app.open_records.models import (
    RecordsRequest,
    RequestItem,
    RequestStatus,
    ResponsePackage,
)
from app.open_records.search import remove_post_from_index
from app.posts.models import CapturedVersion, FlaggedPost, PostStatus, VersionMedia
from app.retention.calendar import HolidayCalendar, add_business_days
from app.retention.certificate import CertificateData, render_certificate
from app.retention.expressions import compute_due
from app.retention.models import (
    DispositionBatch,
    DispositionItem,
    HeldPost,
    Hold,
    HoldKind,
    RetentionAssignment,
)
from app.retention.schedules import ScheduleSet
from app.retention.schemas import BatchDetail, HoldOut, ItemOut, SearchCriteria
from app.retention.search_scope import posts_matching
from app.snapshots.models import Snapshot
from app.storage.base import ArchiveStore, StoreError
from app.storage.models import StoredObject
from app.storage.service import put_object

log = logging.getLogger("postvault.retention")

DEFAULT_TIMEZONE = "America/Chicago"
DEFAULT_LABEL = "record"  # a post not classified yet is treated as a record: the safe side
# 19.21(4)(a): 60 days' written notice to the Wisconsin Historical Society before destruction.
WHS_NOTICE_DAYS = 60
# 19.35(5): after a denial, records stay 60 days (90 if the requester is committed or
# incarcerated); 19.345 counts those days as business days.
DENIAL_HOLD_BUSINESS_DAYS = 60
DENIAL_HOLD_BUSINESS_DAYS_COMMITTED = 90

# Called once per destroyed post, inside a transaction, with (session, post_id): other parts of
# PostVault register here what they must delete (the open-records search index rows). A hook
# must be idempotent: a resumed batch calls it again for posts already destroyed.
ON_DISPOSE: list[Callable[[Session, int], None]] = []

OPEN_BATCH_STATUSES = ("proposed", "approved", "running")


def local_date(value: dt.datetime, timezone: str = DEFAULT_TIMEZONE) -> dt.date:
    return value.astimezone(ZoneInfo(timezone)).date()


def local_today(timezone: str = DEFAULT_TIMEZONE) -> dt.date:
    return local_date(utcnow(), timezone)


# --- Assignment -------------------------------------------------------------------------------


def current_label(session: Session, post_id: int) -> tuple[str, str]:
    """(label, where it came from): the classifier's effective label (an active override,
    else the most retentive current label of the post's versions), else `record` until the
    post is classified. One definition, shared with the classifier."""
    override = active_override(session, post_id)
    if override is not None:
        return override.label, f"override {override.id}"
    label = effective_label(session, post_id)
    if label is None:
        return DEFAULT_LABEL, "not classified yet"
    return label.value, "the most retentive current classification of its versions"


def created_at_of(session: Session, post: FlaggedPost) -> tuple[dt.datetime, str]:
    """When the post was created: the platform's own date, else its first capture."""
    platform_created = session.scalar(
        select(func.min(CapturedVersion.platform_created_at)).where(
            CapturedVersion.post_id == post.id
        )
    )
    if platform_created is not None:
        return platform_created, "platform creation date"
    captured = session.scalar(
        select(func.min(CapturedVersion.captured_at)).where(CapturedVersion.post_id == post.id)
    )
    if captured is not None:
        return captured, "first capture"
    return post.flagged_at, "flagging (not captured yet)"


def current_assignment(session: Session, post_id: int) -> RetentionAssignment | None:
    return session.scalar(
        select(RetentionAssignment)
        .where(RetentionAssignment.post_id == post_id, RetentionAssignment.is_current.is_(True))
        .order_by(RetentionAssignment.id.desc())
        .limit(1)
    )


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    # Rows read back from SQLite through a Core query are naive UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


def assign_retention(
    session: Session,
    *,
    post_id: int,
    actor: Actor,
    schedules: ScheduleSet,
    timezone: str = DEFAULT_TIMEZONE,
) -> RetentionAssignment:
    """Give a post its series and due date; call after classification and when removed_at is
    set. Writes a new current assignment only when something changed (audited)."""
    post = session.get(FlaggedPost, post_id)
    if post is None:
        raise NotFound(f"no post {post_id}")
    old = current_assignment(session, post_id)
    if post.status == PostStatus.disposed:
        if old is None:
            raise Conflict(f"post {post_id} was disposed; only its stub remains")
        return old
    label, label_source = current_label(session, post_id)
    try:
        schedule, series = schedules.series_for_label(label)
    except KeyError as exc:
        raise Invalid(str(exc.args[0])) from None
    created_at, created_source = created_at_of(session, post)
    created = local_date(_utc(created_at) or created_at, timezone)
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
        return old
    if old is not None:
        old.is_current = False
    assignment = RetentionAssignment(
        post_id=post_id,
        label=label,
        schedule_id=schedule.id,
        schedule_version=schedule.version,
        series_code=series.code,
        retention=series.retention,
        due_on=due.due_on,
        due_reason=reason,
        whs_notice=series.whs_notice,
        disposition=series.disposition,
        released_by_id=released_by_id,
        released_at=released_at,
        is_current=True,
        computed_at=utcnow(),
    )
    session.add(assignment)
    session.flush()
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
    record(
        session,
        actor=actor,
        action="retention.assigned",
        object_type="post",
        object_id=post_id,
        details=details,
    )
    if old is not None and (old.due_on != due.due_on or old.series_code != series.code):
        record(
            session,
            actor=actor,
            action="retention.recomputed",
            object_type="post",
            object_id=post_id,
            details={
                "old_series_code": old.series_code,
                "new_series_code": series.code,
                "old_due_on": old.due_on,
                "new_due_on": due.due_on,
                "reason": reason,
            },
        )
    return assignment


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


# --- Holds ------------------------------------------------------------------------------------


def _lock_posts(session: Session, post_ids: Sequence[int]) -> None:
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
    _lock_posts(session, covered)
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
        _lock_posts(session, new)
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


def _release(session: Session, hold: Hold, *, actor: Actor, reason: str, authority: str) -> Hold:
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
    return _release(session, hold, actor=Actor.of(officer), reason=reason, authority=authority)


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


@dataclass(frozen=True)
class TimerState:
    releasable: bool
    release_after: dt.date | None  # the last day the hold must still stand (denials)
    why: str


def open_records_timer(
    hold: Hold,
    request: RecordsRequest | None,
    *,
    today: dt.date,
    calendar: HolidayCalendar,
    timezone: str = DEFAULT_TIMEZONE,
) -> TimerState:
    """Where the 19.35(5) timer of an open-records hold stands."""
    if hold.mandamus_noticed_at is not None:
        return TimerState(
            False,
            None,
            "a mandamus action was noticed: released only by an officer citing the court order",
        )
    if request is None:
        return TimerState(False, None, "no request is linked: released only by an officer")
    if request.status == RequestStatus.granted:
        return TimerState(True, None, f"request {request.number} was granted")
    if request.status in (RequestStatus.denied, RequestStatus.partly_denied):
        if request.decided_at is None:
            return TimerState(False, None, f"request {request.number} has no decision date")
        decided = local_date(request.decided_at, timezone)
        days = (
            DENIAL_HOLD_BUSINESS_DAYS_COMMITTED
            if request.requester_committed
            else DENIAL_HOLD_BUSINESS_DAYS
        )
        last = add_business_days(decided, days, calendar)
        why = (
            f"request {request.number} was {request.status.replace('_', ' ')} on {decided}; "
            f"{days} business days after it ended on {last}"
        )
        return TimerState(today > last, last, why)
    return TimerState(
        False, None, f"request {request.number} is {request.status}: no decision to time from"
    )


def release_timed_open_records_holds(
    session: Session,
    *,
    today: dt.date,
    calendar: HolidayCalendar,
    actor: Actor,
    timezone: str = DEFAULT_TIMEZONE,
) -> list[int]:
    """Release open-records holds whose 19.35(5) timer has run; returns their ids."""
    released: list[int] = []
    holds = session.scalars(
        select(Hold)
        .where(Hold.kind == HoldKind.open_records, Hold.released_at.is_(None))
        .order_by(Hold.id)
    ).all()
    for hold in holds:
        request = session.get(RecordsRequest, hold.request_id) if hold.request_id else None
        state = open_records_timer(hold, request, today=today, calendar=calendar, timezone=timezone)
        if state.releasable:
            _release(
                session,
                hold,
                actor=actor,
                reason=f"19.35(5) timer: {state.why}",
                authority="Wis. Stat. 19.35(5)",
            )
            released.append(hold.id)
    return released


# --- Disposition ------------------------------------------------------------------------------


def _get_batch(session: Session, batch_id: int) -> DispositionBatch:
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


def _held_ids(session: Session, post_ids: Sequence[int]) -> set[int]:
    if not post_ids:
        return set()
    return set(
        session.scalars(
            select(HeldPost.post_id)
            .join(Hold, Hold.id == HeldPost.hold_id)
            .where(HeldPost.post_id.in_(list(post_ids)), Hold.released_at.is_(None))
        )
    )


def due_candidates(session: Session, *, today: dt.date) -> list[RetentionAssignment]:
    """Current assignments due by `today` whose series ends in destruction, for kept posts
    with no active hold and not already in an open batch."""
    in_open_batch = (
        select(DispositionItem.post_id)
        .join(DispositionBatch, DispositionBatch.id == DispositionItem.batch_id)
        .where(
            DispositionBatch.status.in_(OPEN_BATCH_STATUSES), DispositionItem.status == "pending"
        )
    )
    rows = session.scalars(
        select(RetentionAssignment)
        .join(FlaggedPost, FlaggedPost.id == RetentionAssignment.post_id)
        .where(
            RetentionAssignment.is_current.is_(True),
            RetentionAssignment.due_on.is_not(None),
            RetentionAssignment.due_on <= today,
            RetentionAssignment.disposition == "destroy",
            FlaggedPost.status != PostStatus.disposed,
            RetentionAssignment.post_id.not_in(in_open_batch),
        )
        .order_by(RetentionAssignment.post_id)
    ).all()
    held = _held_ids(session, [r.post_id for r in rows])
    return [r for r in rows if r.post_id not in held]


def propose_batch(session: Session, *, actor: Actor, today: dt.date) -> DispositionBatch | None:
    """Propose a batch of the posts past due with no holds (None when there are none)."""
    extend_scoped_holds(session, actor=actor)
    candidates = due_candidates(session, today=today)
    if not candidates:
        return None
    batch = DispositionBatch(status="proposed", proposed_at=utcnow())
    session.add(batch)
    session.flush()
    session.add_all(
        DispositionItem(
            batch_id=batch.id,
            post_id=a.post_id,
            status="pending",
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
        details={"post_ids": [a.post_id for a in candidates], "as_of": today},
    )
    return batch


def whs_series(session: Session, batch_id: int) -> list[str]:
    """Series in the batch whose destruction needs notice to the Historical Society."""
    codes = select(DispositionItem.series_code).where(DispositionItem.batch_id == batch_id)
    return sorted(
        set(
            session.scalars(
                select(RetentionAssignment.series_code).where(
                    RetentionAssignment.series_code.in_(codes),
                    RetentionAssignment.whs_notice == "required",
                )
            )
        )
    )


def run_blocker(
    session: Session, batch: DispositionBatch, *, today: dt.date
) -> tuple[str | None, dt.date | None]:
    """(why the batch cannot run today, the first day it could) — (None, None) when it can."""
    if batch.status == "running":
        return None, None  # a started batch resumes: its checks were passed when it started
    if batch.status != "approved":
        return f"batch {batch.id} is {batch.status}; only an approved batch runs", None
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
) -> DispositionBatch:
    batch = _get_batch(session, batch_id)
    if batch.status != "proposed":
        raise Conflict(f"batch {batch_id} is {batch.status}; only a proposed batch is approved")
    needs = whs_series(session, batch_id)
    if needs and whs_notice_on is None:
        raise Invalid(
            f"series {', '.join(needs)} need notice to the Wisconsin Historical Society: give "
            "whs_notice_on, the day the notice letter went out (Wis. Stat. 19.21(4)(a))"
        )
    if whs_notice_on is not None and whs_notice_on > local_today(timezone):
        raise Invalid("whs_notice_on is in the future: record the notice once it is sent")
    batch.status = "approved"
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
            "whs_series": needs,
            "post_ids": [i.post_id for i in batch_items(session, batch_id)],
        },
    )
    return batch


def attach_whs_reply(
    session: Session, *, batch_id: int, officer: User, reference: str
) -> DispositionBatch:
    batch = _get_batch(session, batch_id)
    if batch.status not in ("proposed", "approved"):
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
    batch = _get_batch(session, batch_id)
    if batch.status not in ("proposed", "approved"):
        raise Conflict(f"batch {batch_id} is {batch.status}; it can no longer be cancelled")
    batch.status = "cancelled"
    for item in batch_items(session, batch_id):
        if item.status == "pending":
            item.status = "skipped"
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
    session: Session, *, status: str | None = None, limit: int = 50, offset: int = 0
) -> tuple[list[DispositionBatch], int]:
    query = select(DispositionBatch)
    if status:
        query = query.where(DispositionBatch.status == status)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(DispositionBatch.id.desc()).limit(limit).offset(offset))
    return list(rows), total


def get_batch(session: Session, batch_id: int) -> DispositionBatch:
    return _get_batch(session, batch_id)


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
        select(RequestItem.redacted_sha256).where(RequestItem.redacted_sha256.in_(candidates)),
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
        "url": post.url,
        "platform": post.platform,
        "external_id": post.external_id,
        "account_id": post.account_id,
        "flagged_by_id": post.flagged_by_id,
        "flagged_at": _iso(post.flagged_at),
        "created_on": _iso(local_date(_utc(created_at) or created_at, timezone)),
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
    }


def _skip(item: DispositionItem, reason: str) -> None:
    item.status = "skipped"
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
    if item.status == "destroyed":
        return list((item.stub or {}).get("destroyed_objects", []))
    if item.status != "pending":
        return None
    batch = _get_batch(session, item.batch_id)
    _lock_posts(session, [item.post_id])
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
    elif assignment.disposition != "destroy":
        _skip(item, f"series disposition is now {assignment.disposition}")
    if item.status == "skipped":
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
    for version in post.versions:
        version.source_json = None
        version.normalized = None
        version.text = None
        version.diff_from_previous = None
        forget_version(session, version_id=version.id)  # its cross-post fingerprints
    # Search rows go in the same transaction as the copies they were made from.
    remove_post_from_index(session, post.id)
    for obj in session.scalars(select(StoredObject).where(StoredObject.sha256.in_(destroyed))):
        if obj.destroyed_at is None:
            obj.destroyed_at = now
    post.status = PostStatus.disposed
    post.disposed_at = now
    post.next_poll_at = None
    post.lease_owner = None
    post.lease_expires_at = None
    item.status = "destroyed"
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
            "version_hashes": [v.content_hash for v in post.versions],
        },
    )
    return destroyed


@dataclass
class RunResult:
    batch_id: int
    status: str
    destroyed: list[int] = field(default_factory=list)
    skipped: dict[int, str] = field(default_factory=dict)
    certificate_sha256: str | None = None


StepHook = Callable[[str], None]


def _noop(_step: str) -> None:
    return None


def _result(session: Session, batch: DispositionBatch) -> RunResult:
    items = batch_items(session, batch.id)
    return RunResult(
        batch_id=batch.id,
        status=batch.status,
        destroyed=[i.post_id for i in items if i.status == "destroyed"],
        skipped={i.post_id: i.skip_reason or "" for i in items if i.status == "skipped"},
        certificate_sha256=batch.certificate_sha256,
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
        batch = _get_batch(session, batch_id)
        if batch.status == "completed":
            return _result(session, batch)
        blocker, _ = run_blocker(session, batch, today=today)
        if blocker:
            raise Conflict(blocker)
        if batch.status == "approved":
            batch.status = "running"
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
        pending = [i.id for i in batch_items(session, batch_id) if i.status == "pending"]
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

    with database.session() as session:
        destroyed_items = [i for i in batch_items(session, batch_id) if i.status == "destroyed"]
        keys_by_post = {
            i.post_id: list((i.stub or {}).get("destroyed_objects", [])) for i in destroyed_items
        }
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
    step("swept hooks")

    with database.session() as session:
        batch = _get_batch(session, batch_id)
        if batch.certificate_sha256 is None:
            pdf = render_certificate(_certificate_data(session, batch, timezone))
            obj = put_object(session, store, pdf, mime_type="application/pdf", kind="certificate")
            step("certificate stored")
            batch.certificate_sha256 = obj.sha256
            batch.status = "completed"
            batch.completed_at = utcnow()
            record(
                session,
                actor=actor,
                action="disposition.completed",
                object_type="disposition_batch",
                object_id=batch.id,
                details={
                    "destroyed_post_ids": sorted(keys_by_post),
                    "certificate_sha256": obj.sha256,
                },
            )
        result = _result(session, batch)
    step("completed")
    return result


def _certificate_data(session: Session, batch: DispositionBatch, timezone: str) -> CertificateData:
    items = batch_items(session, batch.id)
    destroyed = [i for i in items if i.status == "destroyed"]
    approver = session.get(User, batch.approved_by_id) if batch.approved_by_id else None
    last = max((i.destroyed_at for i in destroyed if i.destroyed_at), default=None)
    return CertificateData(
        batch_id=batch.id,
        proposed_at=batch.proposed_at,
        approved_at=batch.approved_at,
        approver=f"{approver.name} <{approver.email}>" if approver else "unknown",
        authority=batch.authority or "",
        whs_notice_on=batch.whs_notice_on,
        whs_reply_ref=batch.whs_reply_ref,
        destroyed_on=local_date(last, timezone) if last else None,
        skipped_count=sum(1 for i in items if i.status == "skipped"),
        stubs=[dict(i.stub or {}) for i in destroyed],
    )


def runnable_batch_ids(session: Session, *, today: dt.date) -> list[int]:
    """Approved batches whose checks pass today, and batches that stopped part-way."""
    ids: list[int] = []
    for batch in session.scalars(
        select(DispositionBatch)
        .where(DispositionBatch.status.in_(("approved", "running")))
        .order_by(DispositionBatch.id)
    ):
        if run_blocker(session, batch, today=today)[0] is None:
            ids.append(batch.id)
    return ids


# --- Report -----------------------------------------------------------------------------------


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
                DispositionItem.status == "pending",
            )
        )
    }
    rows = session.execute(
        select(RetentionAssignment, FlaggedPost.url)
        .join(FlaggedPost, FlaggedPost.id == RetentionAssignment.post_id)
        .where(RetentionAssignment.is_current.is_(True), FlaggedPost.status != PostStatus.disposed)
        .order_by(RetentionAssignment.due_on.is_(None), RetentionAssignment.due_on, FlaggedPost.id)
    ).all()
    held = _held_ids(session, [a.post_id for a, _ in rows])
    lines: list[ReportLine] = []
    for assignment, url in rows:
        due = assignment.due_on
        if due is None:
            state = f"never due yet: {assignment.due_reason}"
        elif assignment.disposition != "destroy":
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
            and assignment.disposition == "destroy"
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


def held_any(session: Session, post_ids: Sequence[int]) -> set[int]:
    """Which of these posts some active hold covers."""
    return _held_ids(session, post_ids)


# --- Views ------------------------------------------------------------------------------------


def hold_out(session: Session, hold: Hold) -> HoldOut:
    out = HoldOut.model_validate(hold)
    out.post_ids = held_post_ids(session, hold.id)
    return out


def batch_out(session: Session, batch: DispositionBatch, *, today: dt.date) -> BatchDetail:
    detail = BatchDetail.model_validate(batch)
    items = batch_items(session, batch.id)
    detail.items = [ItemOut.model_validate(i) for i in items]
    detail.item_count = len(items)
    detail.whs_series = whs_series(session, batch.id)
    blocker, first = run_blocker(session, batch, today=today)
    detail.blocked_because = blocker
    detail.runnable_on = first if blocker else (today if batch.status != "completed" else None)
    if batch.status in ("proposed", "cancelled", "completed"):
        detail.runnable_on = None
    return detail


def certificate_bytes(session: Session, *, batch_id: int, store: ArchiveStore) -> bytes:
    batch = _get_batch(session, batch_id)
    if batch.certificate_sha256 is None:
        raise NotFound(f"batch {batch_id} has no certificate: it has not completed")
    return store.get(batch.certificate_sha256)
