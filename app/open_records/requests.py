"""Open-records requests (Wis. Stat. 19.31–19.39): intake with holds, lifecycle, notes,
deadlines in business days, and the responsive set of archived versions."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.audit.service import Actor, record
from app.auth.models import User
from app.config import Settings
from app.db import utcnow
from app.errors import Conflict, Invalid, NotFound
from app.open_records.letters import make_letter
from app.open_records.models import (
    LetterKind,
    RecordsRequest,
    Redaction,
    RequestItem,
    RequestNote,
    RequestStatus,
    received_day,
    start_of_day,
)
from app.open_records.schemas import NOTHING_HELD_SENTENCE
from app.posts.models import CapturedVersion, FlaggedPost, PostStatus, VersionKind
from app.retention.calendar import (
    HolidayCalendar,
    business_days_between,
    load_calendar,
    local_date,
    local_today,
)
from app.retention.holds import place_hold
from app.retention.models import HeldPost, Hold, HoldKind
from app.retention.schemas import SearchCriteria
from app.retention.search_scope import posts_matching
from app.storage.base import ArchiveStore

OPEN_RECORDS_AUTHORITY = (
    "Wis. Stat. 19.35(5): no responsive record is destroyed while the request is open"
)

# Which state may follow which (received → acknowledged → in progress → decided → closed).
TRANSITIONS: dict[RequestStatus, set[RequestStatus]] = {
    RequestStatus.received: {RequestStatus.acknowledged, RequestStatus.in_progress},
    RequestStatus.acknowledged: {RequestStatus.in_progress},
    RequestStatus.in_progress: {
        RequestStatus.granted,
        RequestStatus.partly_denied,
        RequestStatus.denied,
    },
    RequestStatus.granted: {RequestStatus.closed},
    RequestStatus.partly_denied: {RequestStatus.closed},
    RequestStatus.denied: {RequestStatus.closed},
    RequestStatus.closed: set(),
}
DECIDED = {RequestStatus.granted, RequestStatus.partly_denied, RequestStatus.denied}

# A request logged a little ahead of the server's clock (a clock off by minutes) is not refused.
FUTURE_SLACK = dt.timedelta(minutes=10)


def get_request(session: Session, request_id: int) -> RecordsRequest:
    request = session.get(RecordsRequest, request_id)
    if request is None:
        raise NotFound(f"no request {request_id}")
    return request


def _next_number(session: Session, received_day: dt.date) -> str:
    prefix = f"{received_day.year}-"
    count = (
        session.scalar(
            select(func.count())
            .select_from(RecordsRequest)
            .where(RecordsRequest.number.like(f"{prefix}%"))
        )
        or 0
    )
    return f"{prefix}{count + 1:04d}"


def _check_officer_id(session: Session, user_id: int | None) -> None:
    if user_id is None:
        return
    user = session.get(User, user_id)
    if user is None or not user.is_officer:
        raise Invalid(f"user {user_id} is not a records officer")


def received_moment(received_at: dt.datetime | dt.date) -> tuple[dt.datetime, bool]:
    """(when, whether the time is known) of a request's arrival given as a time or a day: a
    day alone is the start of that day in the city's time zone. Refuses a time without its UTC
    offset and a time in the future."""
    if isinstance(received_at, dt.datetime):
        if received_at.tzinfo is None or received_at.utcoffset() is None:
            raise Invalid(
                "received_at needs its UTC offset (e.g. 2026-11-20T14:05:00-06:00), "
                "or give the day alone (2026-11-20)"
            )
        moment, known = received_at.astimezone(dt.UTC), True
    else:
        moment, known = start_of_day(received_at), False
    if moment > utcnow() + FUTURE_SLACK:
        raise Invalid("a request cannot be received in the future")
    return moment, known


def create_request(
    session: Session,
    *,
    officer: User,
    received_at: dt.datetime | dt.date,
    description: str,
    requester_name: str | None = None,
    requester_contact: str | None = None,
    requester_committed: bool = False,
    saved_searches: Sequence[SearchCriteria] = (),
    confirm_nothing_held: bool = False,
    assigned_to_id: int | None = None,
    store: ArchiveStore | None = None,
) -> RecordsRequest:
    """Log a request and, before anyone reviews it, hold every post its saved searches match.

    Without a saved search the officer must confirm that nothing is held yet
    (`confirm_nothing_held`). With a `store`, the acknowledgment letter is made at once."""
    _check_officer_id(session, assigned_to_id)
    if not saved_searches and not confirm_nothing_held:
        raise Invalid(NOTHING_HELD_SENTENCE)
    moment, time_known = received_moment(received_at)
    for criteria in saved_searches:
        if criteria.is_empty:
            raise Invalid(
                "a saved search needs at least one criterion; an empty one would hold every post"
            )
    request = RecordsRequest(
        number=_next_number(session, received_day(moment)),
        requester_name=(requester_name or "").strip() or None,
        requester_contact=(requester_contact or "").strip() or None,
        requester_committed=requester_committed,
        received_at=moment,
        received_time_known=time_known,
        description=description,
        saved_searches=[c.saved() for c in saved_searches],
        status=RequestStatus.received,
        assigned_to_id=assigned_to_id,
        created_by_id=officer.id,
    )
    session.add(request)
    session.flush()
    record(
        session,
        actor=Actor.of(officer),
        action="request.received",
        object_type="records_request",
        object_id=request.id,
        details={
            "number": request.number,
            "anonymous": request.requester_name is None,
            "received_at": moment.isoformat(),
            "received_time_known": time_known,
            "saved_searches": request.saved_searches,
            "nothing_held_confirmed": not saved_searches,
        },
    )
    for criteria in saved_searches:
        place_hold(
            session,
            officer=officer,
            kind=HoldKind.open_records.value,
            reason=f"open-records request {request.number}: posts matching its saved search",
            authority=OPEN_RECORDS_AUTHORITY,
            scope=criteria,
            request_id=request.id,
        )
    if store is not None:
        make_letter(
            session,
            store=store,
            request=request,
            kind=LetterKind.acknowledgment,
            officer=officer,
            actor=Actor.of(officer),
        )
    return request


def transition(
    session: Session,
    *,
    officer: User,
    request_id: int,
    status: RequestStatus,
    reason: str | None,
    store: ArchiveStore | None = None,
) -> RecordsRequest:
    """Move the request on. A denial, whole or in part, needs its reasons; with a `store` its
    letter (19.35(4)(b) review rights) is made at once, whether or not a package follows."""
    request = get_request(session, request_id)
    current = RequestStatus(request.status)
    if status not in TRANSITIONS[current]:
        allowed = (
            ", ".join(sorted(s.value for s in TRANSITIONS[current])) or "nothing (it is closed)"
        )
        raise Conflict(f"request {request.number} is {current.value}: it can move to {allowed}")
    if status in (RequestStatus.denied, RequestStatus.partly_denied) and not (reason or "").strip():
        raise Invalid("a denial must give its reasons in writing (Wis. Stat. 19.35(4)(b))")
    now = utcnow()
    request.status = status
    if status == RequestStatus.acknowledged:
        request.acknowledged_at = now
    if status in DECIDED:
        request.decided_at = now
        request.decision_reason = (reason or "").strip() or None
    if status == RequestStatus.closed:
        request.closed_at = now
    record(
        session,
        actor=Actor.of(officer),
        action=f"request.{status.value}",
        object_type="records_request",
        object_id=request.id,
        details={"from": current.value, "to": status.value, "reason": reason},
    )
    if store is not None and status in (RequestStatus.denied, RequestStatus.partly_denied):
        session.flush()
        make_letter(
            session,
            store=store,
            request=request,
            kind=LetterKind.denial,
            officer=officer,
            actor=Actor.of(officer),
        )
    return request


def assign(
    session: Session, *, officer: User, request_id: int, assigned_to_id: int | None
) -> RecordsRequest:
    request = get_request(session, request_id)
    _check_officer_id(session, assigned_to_id)
    before = request.assigned_to_id
    request.assigned_to_id = assigned_to_id
    record(
        session,
        actor=Actor.of(officer),
        action="request.assigned",
        object_type="records_request",
        object_id=request.id,
        details={"from": before, "to": assigned_to_id},
    )
    return request


def add_note(session: Session, *, officer: User, request_id: int, body: str) -> RequestNote:
    request = get_request(session, request_id)
    note = RequestNote(request_id=request.id, author_id=officer.id, body=body)
    session.add(note)
    session.flush()
    record(
        session,
        actor=Actor.of(officer),
        action="request.note_added",
        object_type="records_request",
        object_id=request.id,
        details={"note_id": note.id},
    )
    return note


def notes(session: Session, *, request_id: int) -> list[RequestNote]:
    get_request(session, request_id)
    return list(
        session.scalars(
            select(RequestNote).where(RequestNote.request_id == request_id).order_by(RequestNote.id)
        )
    )


@dataclass(frozen=True)
class Deadline:
    age_business_days: int
    due_soon: bool
    overdue: bool


def deadline(
    request: RecordsRequest, *, today: dt.date, calendar: HolidayCalendar, settings: Settings
) -> Deadline:
    """Age in business days (19.345: weekends and legal holidays do not count), with the
    due-soon and overdue marks while the request is undecided."""
    zone = settings.retention_timezone
    end = local_date(request.decided_at, zone) if request.decided_at else today
    age = business_days_between(received_day(request.received_at, zone), end, calendar)
    open_ = request.status not in {s.value for s in DECIDED} | {RequestStatus.closed.value}
    overdue = open_ and age > settings.request_overdue_business_days
    due_soon = open_ and not overdue and age >= settings.request_due_soon_business_days
    return Deadline(age, due_soon, overdue)


def list_requests(
    session: Session, *, status: str | None = None, limit: int = 50, offset: int = 0
) -> tuple[list[RecordsRequest], int]:
    query = select(RecordsRequest)
    if status:
        query = query.where(RecordsRequest.status == status)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(RecordsRequest.id.desc()).limit(limit).offset(offset))
    return list(rows), total


def held_post_count(session: Session, request_id: int) -> int:
    return (
        session.scalar(
            select(func.count(func.distinct(HeldPost.post_id)))
            .join(Hold, Hold.id == HeldPost.hold_id)
            .where(Hold.request_id == request_id, Hold.released_at.is_(None))
        )
        or 0
    )


def business_calendar() -> HolidayCalendar:
    return load_calendar()


def today() -> dt.date:
    return local_today()


# --- The responsive set ---------------------------------------------------------------------


def add_items(
    session: Session,
    *,
    officer: User,
    request_id: int,
    post_ids: Sequence[int] = (),
    search: SearchCriteria | None = None,
    latest_only: bool = False,
) -> list[RequestItem]:
    """Add archived versions to the set (every version of an edited post unless latest_only)
    and hold their posts for the request."""
    request = get_request(session, request_id)
    if request.status == RequestStatus.closed:
        raise Conflict(f"request {request.number} is closed")
    wanted = list(dict.fromkeys(post_ids))
    if search is not None:
        if search.is_empty:
            raise Invalid("the search has no criteria")
        wanted += [p for p in posts_matching(session, search) if p not in wanted]
    if not wanted:
        raise Invalid("nothing matched: no posts to add")
    posts = {
        p.id: p for p in session.scalars(select(FlaggedPost).where(FlaggedPost.id.in_(wanted)))
    }
    missing = [p for p in wanted if p not in posts]
    if missing:
        raise Invalid(f"no posts {', '.join(map(str, missing[:20]))}")
    disposed = [p for p in wanted if posts[p].status == PostStatus.disposed]
    if disposed:
        raise Invalid(
            f"posts {', '.join(map(str, disposed[:20]))} were destroyed by disposition; only stubs remain"
        )
    existing = {
        item.version_id: item
        for item in session.scalars(select(RequestItem).where(RequestItem.request_id == request.id))
    }
    added: list[RequestItem] = []
    for post_id in wanted:
        versions = list(
            session.scalars(
                select(CapturedVersion)
                .where(
                    CapturedVersion.post_id == post_id, CapturedVersion.kind != VersionKind.removal
                )
                .order_by(CapturedVersion.number)
            )
        )
        if latest_only:
            versions = versions[-1:]
        for version in versions:
            item = existing.get(version.id)
            if item is not None:
                if item.removed_at is not None:  # added back after a removal
                    item.removed_at = None
                    item.removed_by_id = None
                    item.removed_reason = None
                    added.append(item)
                continue
            item = RequestItem(request_id=request.id, version_id=version.id, added_by_id=officer.id)
            session.add(item)
            added.append(item)
    session.flush()
    unheld = [p for p in wanted if not _held_for(session, request.id, p)]
    if unheld:
        place_hold(
            session,
            officer=officer,
            kind=HoldKind.open_records.value,
            reason=f"open-records request {request.number}: responsive set",
            authority=OPEN_RECORDS_AUTHORITY,
            post_ids=unheld,
            request_id=request.id,
        )
    if request.status in (RequestStatus.received, RequestStatus.acknowledged):
        request.status = RequestStatus.in_progress
    record(
        session,
        actor=Actor.of(officer),
        action="request.items_added",
        object_type="records_request",
        object_id=request.id,
        details={
            "versions": [i.version_id for i in added],
            "posts": wanted,
            "search": search.saved() if search else None,
        },
    )
    return added


def _held_for(session: Session, request_id: int, post_id: int) -> bool:
    return (
        session.scalar(
            select(func.count())
            .select_from(HeldPost)
            .join(Hold, Hold.id == HeldPost.hold_id)
            .where(
                HeldPost.post_id == post_id,
                Hold.request_id == request_id,
                Hold.released_at.is_(None),
            )
        )
        != 0
    )


def get_item(session: Session, *, request_id: int, item_id: int) -> RequestItem:
    item = session.get(RequestItem, item_id)
    if item is None or item.request_id != request_id:
        raise NotFound(f"no item {item_id} in request {request_id}")
    return item


def remove_item(
    session: Session, *, officer: User, request_id: int, item_id: int, reason: str
) -> RequestItem:
    item = get_item(session, request_id=request_id, item_id=item_id)
    if item.removed_at is not None:
        raise Conflict(f"item {item_id} was already removed")
    item.removed_at = utcnow()
    item.removed_by_id = officer.id
    item.removed_reason = reason
    record(
        session,
        actor=Actor.of(officer),
        action="request.item_removed",
        object_type="records_request",
        object_id=request_id,
        details={"item_id": item.id, "version_id": item.version_id, "reason": reason},
    )
    return item


def list_items(
    session: Session, *, request_id: int, include_removed: bool = True
) -> list[RequestItem]:
    get_request(session, request_id)
    query = select(RequestItem).where(RequestItem.request_id == request_id)
    if not include_removed:
        query = query.where(RequestItem.removed_at.is_(None))
    return list(session.scalars(query.order_by(RequestItem.id)))


def redactions_of(session: Session, item_id: int) -> list[Redaction]:
    return list(
        session.scalars(
            select(Redaction).where(Redaction.item_id == item_id).order_by(Redaction.id)
        )
    )
