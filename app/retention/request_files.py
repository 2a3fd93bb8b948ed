"""Request files have a retention too: a records request's response packages and the redacted
copies made for it are records of the request, in their own series
(POSTVAULT_REQUEST_FILES_SERIES), counted from the day the request was closed. Once due and
free of holds they go into a normal destruction batch beside the posts (two-step approval,
Historical Society notice where the series needs it) and the run destroys their files, keeping
a stub (request number, series, dates, hashes) for the certificate.

A response package already released holds copies of posts; when one of those posts is
destroyed, the package is flagged on the disposition report (its copy lives until the
request's own series ends).

Session-first: services flush, the caller commits.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.service import Actor, record
from app.db import utcnow
from app.errors import NotFound
from app.open_records.models import (
    PackageStatus,
    RecordsRequest,
    RequestItem,
    RequestLetter,
    RequestStatus,
    ResponsePackage,
)
from app.posts.models import CapturedVersion, FlaggedPost, PostStatus, VersionMedia
from app.retention.calendar import local_date
from app.retention.expressions import Expression, compute_due
from app.retention.holds import held_any
from app.retention.models import (
    DispositionBatch,
    DispositionRequestItem,
    Hold,
    ItemStatus,
)
from app.retention.schedules import ScheduleSet
from app.snapshots.models import Snapshot
from app.storage.models import StoredObject

OPEN_STATUSES = ("proposed", "approved", "running", "failed", "awaiting_receipt")


@dataclass(frozen=True)
class RequestFilesPolicy:
    """The series request files belong to, as the schedules define it."""

    series_code: str
    schedule_id: str
    schedule_version: str
    retention: str
    expression: Expression
    disposition: str
    whs_notice: str
    fiscal_year_end: tuple[int, int]
    timezone: str


def request_files_policy(
    schedules: ScheduleSet, code: str | None, *, timezone: str
) -> tuple[RequestFilesPolicy | None, str | None]:
    """(the policy, None), or (None, why request files are kept)."""
    if not code:
        return None, (
            "request files (response packages, redacted copies) have no series: set "
            "POSTVAULT_REQUEST_FILES_SERIES to the public records requests series; until then "
            "they are kept"
        )
    try:
        schedule, series = schedules.series(code)
    except KeyError:
        return None, (
            f"POSTVAULT_REQUEST_FILES_SERIES names series {code}, which no schedule in "
            f"{schedules.folder} has: request files are kept"
        )
    if series.disposition != "destroy":
        return None, (
            f"series {code} ends in {series.disposition}; request files are destroyed at the "
            "end of their series, so they are kept until it ends in destroy"
        )
    return (
        RequestFilesPolicy(
            series_code=series.code,
            schedule_id=schedule.id,
            schedule_version=schedule.version,
            retention=series.retention,
            expression=series.expression,
            disposition=series.disposition,
            whs_notice=series.whs_notice,
            fiscal_year_end=schedule.fiscal_year_end,
            timezone=timezone,
        ),
        None,
    )


def due_of(policy: RequestFilesPolicy, request: RecordsRequest) -> tuple[dt.date | None, str]:
    """When a request's files fall due: counted from its closing; never while it is open."""
    if request.status != RequestStatus.closed or request.closed_at is None:
        return None, f"request {request.number} is {request.status}: due only once closed"
    closed = local_date(request.closed_at, policy.timezone)
    due = compute_due(
        policy.expression,
        created=closed,
        event=closed,
        event_name="request closed",
        fiscal_year_end_month=policy.fiscal_year_end[0],
        fiscal_year_end_day=policy.fiscal_year_end[1],
    )
    return due.due_on, due.reason


def live_files(session: Session, request_id: int) -> dict[str, str]:
    """{store key: what it is} of a request's files not yet destroyed."""
    files: dict[str, str] = {}
    for package_id, sha in session.execute(
        select(ResponsePackage.id, ResponsePackage.sha256).where(
            ResponsePackage.request_id == request_id,
            ResponsePackage.status == PackageStatus.done,
            ResponsePackage.sha256.is_not(None),
        )
    ):
        if sha:
            files[sha] = f"response package {package_id}"
    for item_id, sha in session.execute(
        select(RequestItem.id, RequestItem.redacted_sha256).where(
            RequestItem.request_id == request_id, RequestItem.redacted_sha256.is_not(None)
        )
    ):
        if sha:
            files.setdefault(sha, f"redacted copy of request item {item_id}")
    for letter_id, kind, sha in session.execute(
        select(RequestLetter.id, RequestLetter.kind, RequestLetter.sha256).where(
            RequestLetter.request_id == request_id
        )
    ):
        files.setdefault(sha, f"{kind} letter {letter_id}")
    if not files:
        return {}
    destroyed = set(
        session.scalars(
            select(StoredObject.sha256).where(
                StoredObject.sha256.in_(list(files)), StoredObject.destroyed_at.is_not(None)
            )
        )
    )
    return {k: v for k, v in files.items() if k not in destroyed}


def request_holds(session: Session, request: RecordsRequest) -> list[str]:
    """Holds that stop the request's files going: an active hold placed for the request, or a
    hold on any post whose copy the request holds."""
    named = [
        f"hold {h.id} ({h.kind}: {h.authority})"
        for h in session.scalars(
            select(Hold)
            .where(Hold.request_id == request.id, Hold.released_at.is_(None))
            .order_by(Hold.id)
        )
    ]
    post_ids = list(
        session.scalars(
            select(CapturedVersion.post_id)
            .join(RequestItem, RequestItem.version_id == CapturedVersion.id)
            .where(RequestItem.request_id == request.id)
            .distinct()
        )
    )
    held = sorted(held_any(session, post_ids))
    if held:
        named.append(f"holds on post(s) {', '.join(map(str, held))} it holds copies of")
    return named


def in_open_batch(session: Session) -> dict[int, int]:
    """{request id: open batch id} for request files already proposed."""
    return dict(
        session.execute(
            select(DispositionRequestItem.request_id, DispositionBatch.id)
            .join(DispositionBatch, DispositionBatch.id == DispositionRequestItem.batch_id)
            .where(
                DispositionBatch.status.in_(OPEN_STATUSES),
                DispositionRequestItem.status == ItemStatus.pending,
            )
        ).all()
    )


def due_requests(
    session: Session, policy: RequestFilesPolicy, *, today: dt.date
) -> list[tuple[RecordsRequest, dt.date]]:
    """Closed requests whose files are due by `today`, unheld, with files left, not proposed."""
    proposed = in_open_batch(session)
    found: list[tuple[RecordsRequest, dt.date]] = []
    for request in session.scalars(
        select(RecordsRequest)
        .where(RecordsRequest.status == RequestStatus.closed)
        .order_by(RecordsRequest.id)
    ):
        if request.id in proposed:
            continue
        due, _ = due_of(policy, request)
        if due is None or due > today:
            continue
        if not live_files(session, request.id) or request_holds(session, request):
            continue
        found.append((request, due))
    return found


def _shared_elsewhere(session: Session, request_id: int, keys: list[str]) -> set[str]:
    """Keys another record still uses: another request's files, a kept post's snapshot or
    media, a certificate or transfer package."""
    kept_versions = (
        select(CapturedVersion.id)
        .join(FlaggedPost, FlaggedPost.id == CapturedVersion.post_id)
        .where(FlaggedPost.status != PostStatus.disposed)
    )
    kept: set[str] = set()
    for query in (
        select(RequestItem.redacted_sha256).where(
            RequestItem.redacted_sha256.in_(keys), RequestItem.request_id != request_id
        ),
        select(ResponsePackage.sha256).where(
            ResponsePackage.sha256.in_(keys), ResponsePackage.request_id != request_id
        ),
        select(Snapshot.sha256).where(
            Snapshot.sha256.in_(keys), Snapshot.version_id.in_(kept_versions)
        ),
        select(VersionMedia.sha256).where(
            VersionMedia.sha256.in_(keys), VersionMedia.version_id.in_(kept_versions)
        ),
        select(DispositionBatch.certificate_sha256).where(
            DispositionBatch.certificate_sha256.in_(keys)
        ),
    ):
        kept |= {k for k in session.scalars(query) if k}
    return kept


def _skip(session: Session, item: DispositionRequestItem, reason: str, actor: Actor) -> None:
    item.status = ItemStatus.skipped
    item.skip_reason = reason
    session.flush()
    record(
        session,
        actor=actor,
        action="disposition.skipped",
        object_type="records_request",
        object_id=item.request_id,
        details={"batch_id": item.batch_id, "reason": reason},
    )


def destroy_request_item(
    session: Session, *, item_id: int, actor: Actor, today: dt.date
) -> list[str] | None:
    """Decide one request's files at run time and, if still closed, due and unheld, mark them
    destroyed and keep the stub. Returns the store keys to delete, or None when skipped.
    Idempotent: an item already decided returns what it decided."""
    item = session.get(DispositionRequestItem, item_id)
    if item is None:
        raise NotFound(f"no disposition request item {item_id}")
    if item.status == ItemStatus.destroyed:
        return list((item.stub or {}).get("destroyed_objects", []))
    if item.status != ItemStatus.pending:
        return None
    batch = session.get(DispositionBatch, item.batch_id)
    request = session.get(RecordsRequest, item.request_id)
    assert batch is not None
    assert request is not None
    holds = request_holds(session, request)
    if request.status != RequestStatus.closed or request.closed_at is None:
        _skip(session, item, f"request {request.number} is {request.status} again", actor)
        return None
    if request.closed_at > batch.proposed_at:
        _skip(session, item, "the request was closed again after the batch was proposed", actor)
        return None
    if holds:
        _skip(session, item, "held by " + ", ".join(holds), actor)
        return None
    if item.due_on is None or item.due_on > today:
        _skip(session, item, f"not due until {item.due_on}", actor)
        return None
    files = live_files(session, request.id)
    kept = _shared_elsewhere(session, request.id, list(files))
    destroyed = sorted(set(files) - kept)
    now = utcnow()
    for obj in session.scalars(select(StoredObject).where(StoredObject.sha256.in_(destroyed))):
        obj.destroyed_at = now
    item.stub = _stub(request, item, batch, files=files, destroyed=destroyed, kept=kept, now=now)
    item.status = ItemStatus.destroyed
    item.destroyed_at = now
    session.flush()
    record(
        session,
        actor=actor,
        action="disposition.request_files_destroyed",
        object_type="records_request",
        object_id=request.id,
        details={
            "batch_id": batch.id,
            "series_code": item.series_code,
            "due_on": item.due_on,
            "authority": batch.authority,
            "approved_by_id": batch.approved_by_id,
            "destroyed_objects": destroyed,
            "kept_shared_objects": sorted(kept),
        },
    )
    return destroyed


def _stub(
    request: RecordsRequest,
    item: DispositionRequestItem,
    batch: DispositionBatch,
    *,
    files: dict[str, str],
    destroyed: list[str],
    kept: set[str],
    now: dt.datetime,
) -> dict[str, Any]:
    return {
        "request_id": request.id,
        "request_number": request.number,
        "received_on": request.received_on.isoformat(),
        "closed_at": request.closed_at.isoformat() if request.closed_at else None,
        "series_code": item.series_code,
        "due_on": item.due_on.isoformat() if item.due_on else None,
        "files": {k: files[k] for k in sorted(files)},
        "destroyed_objects": destroyed,
        "kept_shared_objects": sorted(kept),
        "batch_id": batch.id,
        "approved_by_id": batch.approved_by_id,
        "authority": batch.authority,
        "destroyed_at": now.isoformat(),
    }


@dataclass(frozen=True)
class RequestFileLine:
    request_id: int
    number: str
    series_code: str | None
    due_on: dt.date | None
    state: str
    would_destroy: bool
    # Response packages still kept that hold copies of posts destroyed since.
    flagged: list[str]


def packages_with_destroyed_posts(session: Session, request_id: int) -> list[str]:
    """Kept response packages of the request holding a copy of a post since destroyed."""
    disposed = list(
        session.scalars(
            select(CapturedVersion.post_id)
            .join(RequestItem, RequestItem.version_id == CapturedVersion.id)
            .join(FlaggedPost, FlaggedPost.id == CapturedVersion.post_id)
            .where(
                RequestItem.request_id == request_id,
                RequestItem.removed_at.is_(None),
                FlaggedPost.status == PostStatus.disposed,
            )
            .distinct()
            .order_by(CapturedVersion.post_id)
        )
    )
    if not disposed:
        return []
    live = live_files(session, request_id)
    return [
        f"{what} holds a copy of destroyed post(s) {', '.join(map(str, disposed))}"
        for key, what in sorted(live.items(), key=lambda kv: kv[1])
        if what.startswith("response package")
    ]


def request_file_report(
    session: Session,
    policy: RequestFilesPolicy | None,
    *,
    today: dt.date,
    horizon: dt.date,
) -> list[RequestFileLine]:
    """Every request with files still kept: its series, due date, state, and flags."""
    proposed = in_open_batch(session)
    lines: list[RequestFileLine] = []
    for request in session.scalars(select(RecordsRequest).order_by(RecordsRequest.id)):
        if not live_files(session, request.id):
            continue
        flagged = packages_with_destroyed_posts(session, request.id)
        if policy is None:
            lines.append(
                RequestFileLine(
                    request.id, request.number, None, None, "kept: no series", False, flagged
                )
            )
            continue
        due, reason = due_of(policy, request)
        holds = request_holds(session, request) if due is not None else []
        if due is None:
            state = f"never due yet: {reason}"
        elif holds:
            state = f"due {due} but held by " + ", ".join(holds)
        elif request.id in proposed:
            state = f"due {due}; in disposition batch {proposed[request.id]}"
        elif due <= today:
            state = f"due {due}; will be proposed for destruction"
        else:
            state = f"due {due}"
        lines.append(
            RequestFileLine(
                request_id=request.id,
                number=request.number,
                series_code=policy.series_code,
                due_on=due,
                state=state,
                would_destroy=due is not None and due <= horizon and not holds,
                flagged=flagged,
            )
        )
    return lines
