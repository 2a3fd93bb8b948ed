"""Holds, AV releases, schedules and disposition batches: records officers only."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Query, Request, Response, status

from app.audit.service import Actor
from app.auth.deps import OfficerUser
from app.bounds import DB_INT_MAX, DbId
from app.config import Settings
from app.db import Database, SessionDep
from app.errors import DomainError
from app.retention import assignment, disposition, disposition_run, holds
from app.retention.calendar import local_today
from app.retention.models import BatchKind, BatchStatus, HoldKind
from app.retention.request_files import RequestFilesPolicy, request_files_policy
from app.retention.run_lease import RunInterrupted, run_batch_leased
from app.retention.schedules import ScheduleError, ScheduleSet, current_schedules
from app.retention.schemas import (
    AssignmentOut,
    AvRelease,
    BatchApprove,
    BatchCancel,
    BatchDetail,
    BatchOut,
    BatchPage,
    HoldCreate,
    HoldOut,
    HoldPage,
    HoldRelease,
    MandamusNotice,
    RunOut,
    SeriesOut,
    WhsReply,
)
from app.storage.deps import StoreDep

router = APIRouter(prefix="/api/v1", tags=["retention"])


class NothingDue(DomainError):
    status_code = 409


class RunStopped(DomainError):
    status_code = 503


class SchedulesUnusable(DomainError):
    status_code = 503


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def request_files_policy_of(request: Request) -> RequestFilesPolicy | None:
    settings = _settings(request)
    policy, _ = request_files_policy(
        _schedules(request), settings.request_files_series, timezone=settings.retention_timezone
    )
    return policy


def _today(request: Request) -> dt.date:
    return local_today(_settings(request).retention_timezone)


def _schedules(request: Request) -> ScheduleSet:
    # As the folder holds them now: a changed file is read again (the last valid set is kept
    # when the change is invalid).
    try:
        return current_schedules(_settings(request).schedules_dir)
    except ScheduleError as exc:
        raise SchedulesUnusable(f"the retention schedules are invalid: {exc}") from None


@router.post("/holds", response_model=HoldOut, status_code=status.HTTP_201_CREATED)
def place_hold(body: HoldCreate, officer: OfficerUser, session: SessionDep) -> HoldOut:
    """Hold posts by id and/or by a saved search; held posts are never destroyed."""
    hold = holds.place_hold(
        session,
        officer=officer,
        kind=body.kind.value,
        reason=body.reason,
        authority=body.authority,
        post_ids=body.post_ids,
        scope=body.scope,
        request_id=body.request_id,
    )
    return holds.hold_out(session, hold)


@router.get("/holds", response_model=HoldPage)
def list_holds(
    _officer: OfficerUser,
    session: SessionDep,
    active: bool | None = None,
    kind: HoldKind | None = None,
    post_id: DbId | None = None,
    request_id: DbId | None = None,
    limit: int = Query(default=50, ge=1, le=500),
    offset: int = Query(default=0, ge=0, le=DB_INT_MAX),
) -> HoldPage:
    found, total = holds.list_holds(
        session,
        active=active,
        kind=kind.value if kind else None,
        post_id=post_id,
        request_id=request_id,
        limit=limit,
        offset=offset,
    )
    return HoldPage(
        items=[holds.hold_out(session, h) for h in found], total=total, limit=limit, offset=offset
    )


@router.get("/holds/{hold_id}", response_model=HoldOut)
def get_hold(hold_id: DbId, _officer: OfficerUser, session: SessionDep) -> HoldOut:
    return holds.hold_out(session, holds.get_hold(session, hold_id))


@router.post("/holds/{hold_id}/release", response_model=HoldOut)
def release_hold(
    hold_id: DbId, body: HoldRelease, officer: OfficerUser, session: SessionDep
) -> HoldOut:
    hold = holds.release_hold(
        session,
        hold_id=hold_id,
        officer=officer,
        reason=body.reason,
        authority=body.authority,
        court_order_ref=body.court_order_ref,
    )
    return holds.hold_out(session, hold)


@router.post("/holds/{hold_id}/mandamus", response_model=HoldOut)
def record_mandamus(
    hold_id: DbId, body: MandamusNotice, officer: OfficerUser, session: SessionDep
) -> HoldOut:
    """Record notice of a mandamus action: the 19.35(5) timer stops until an officer releases
    the hold citing the court order."""
    hold = holds.record_mandamus_notice(
        session,
        hold_id=hold_id,
        officer=officer,
        noticed_at=body.noticed_at,
        reference=body.reference,
    )
    return holds.hold_out(session, hold)


@router.get("/retention/schedules", response_model=list[SeriesOut])
def list_series(_officer: OfficerUser, request: Request) -> list[SeriesOut]:
    schedules = _schedules(request)
    chosen = {
        schedules.series_for_label(label)[1].code
        for label in ("record", "secondary_copy", "transitory")
    }
    return [
        SeriesOut(
            schedule_id=schedule.id,
            schedule_version=schedule.version,
            schedule_title=schedule.title,
            example=schedule.example,
            code=series.code,
            title=series.title,
            applies_to=series.applies_to,
            default=series.default,
            chosen_for_label=series.code in chosen,
            retention=series.retention,
            trigger_event=series.trigger_event,
            disposition=series.disposition,
            whs_notice=series.whs_notice,
            authority=list(series.authority),
        )
        for schedule, series in schedules.all_series
    ]


@router.post("/retention/posts/{post_id}/release", response_model=AssignmentOut)
def release_av(
    post_id: DbId, body: AvRelease, officer: OfficerUser, session: SessionDep, request: Request
) -> AssignmentOut:
    """An AV ("until no longer needed") post is no longer needed: it falls due today."""
    released = assignment.release_av(
        session,
        post_id=post_id,
        officer=officer,
        reason=body.reason,
        timezone=_settings(request).retention_timezone,
    )
    return AssignmentOut.model_validate(released)


@router.get("/disposition/batches", response_model=BatchPage)
def list_batches(
    _officer: OfficerUser,
    session: SessionDep,
    request: Request,
    status_: str | None = Query(
        default=None, alias="status", pattern=f"^({'|'.join(BatchStatus)})$"
    ),
    kind: BatchKind | None = None,
    limit: int = Query(default=50, ge=1, le=500),
    offset: int = Query(default=0, ge=0, le=DB_INT_MAX),
) -> BatchPage:
    batches, total = disposition.list_batches(
        session, status=status_, kind=kind.value if kind else None, limit=limit, offset=offset
    )
    today = _today(request)
    items = [
        BatchOut.model_validate(
            disposition.batch_out(session, b, today=today).model_dump(exclude={"items"})
        )
        for b in batches
    ]
    return BatchPage(items=items, total=total, limit=limit, offset=offset)


@router.post(
    "/disposition/batches", response_model=BatchDetail, status_code=status.HTTP_201_CREATED
)
def propose_batch(officer: OfficerUser, session: SessionDep, request: Request) -> BatchDetail:
    """Propose a batch of what is due now (the daily job does the same as the system): posts
    whose series ends in destruction (or whose review approved it) and the files of closed
    records requests whose series (POSTVAULT_REQUEST_FILES_SERIES) has run out."""
    batch = disposition.propose_batch(
        session,
        actor=Actor.of(officer),
        today=_today(request),
        request_files=request_files_policy_of(request),
    )
    if batch is None:
        raise NothingDue("nothing is due: no batch proposed")
    return disposition.batch_out(session, batch, today=_today(request))


@router.get("/disposition/batches/{batch_id}", response_model=BatchDetail)
def get_batch(
    batch_id: DbId, _officer: OfficerUser, session: SessionDep, request: Request
) -> BatchDetail:
    return disposition.batch_out(
        session, disposition.get_batch(session, batch_id), today=_today(request)
    )


@router.post("/disposition/batches/{batch_id}/approve", response_model=BatchDetail)
def approve_batch(
    batch_id: DbId, body: BatchApprove, officer: OfficerUser, session: SessionDep, request: Request
) -> BatchDetail:
    batch = disposition.approve_batch(
        session,
        batch_id=batch_id,
        officer=officer,
        authority=body.authority,
        whs_notice_on=body.whs_notice_on,
        timezone=_settings(request).retention_timezone,
        allow_self_approval=_settings(request).allow_self_approval,
    )
    return disposition.batch_out(session, batch, today=_today(request))


@router.post("/disposition/batches/{batch_id}/whs-reply", response_model=BatchDetail)
def attach_whs_reply(
    batch_id: DbId, body: WhsReply, officer: OfficerUser, session: SessionDep, request: Request
) -> BatchDetail:
    """Attach the Wisconsin Historical Society's reply or waiver reference."""
    batch = disposition.attach_whs_reply(
        session, batch_id=batch_id, officer=officer, reference=body.reference
    )
    return disposition.batch_out(session, batch, today=_today(request))


@router.post("/disposition/batches/{batch_id}/cancel", response_model=BatchDetail)
def cancel_batch(
    batch_id: DbId, body: BatchCancel, officer: OfficerUser, session: SessionDep, request: Request
) -> BatchDetail:
    batch = disposition.cancel_batch(
        session, batch_id=batch_id, officer=officer, reason=body.reason
    )
    return disposition.batch_out(session, batch, today=_today(request))


@router.post("/disposition/batches/{batch_id}/run", response_model=RunOut)
def run_batch(batch_id: DbId, officer: OfficerUser, request: Request, store: StoreDep) -> RunOut:
    """Run an approved batch now (the daily job also runs it). Each post is committed as it
    is destroyed, so this uses its own transactions rather than the request's. A run that
    fails answers with status `failed` and its error; the batch waits for a retry."""
    return _run(batch_id, officer, request, store)


@router.post("/disposition/batches/{batch_id}/retry", response_model=RunOut)
def retry_batch(batch_id: int, officer: OfficerUser, request: Request, store: StoreDep) -> RunOut:
    """Retry a failed batch: it resumes where the failed try stopped."""
    database: Database = request.app.state.db
    with database.session() as session:
        disposition_run.retry_batch(session, batch_id=batch_id, officer=officer)
    return _run(batch_id, officer, request, store)


def run_now(batch_id: int, officer: OfficerUser, request: Request, store: StoreDep) -> RunOut:
    """Run a batch under its lease now, for this request (also used by the transfer routes)."""
    return _run(batch_id, officer, request, store)


def _run(batch_id: int, officer: OfficerUser, request: Request, store: StoreDep) -> RunOut:
    settings = _settings(request)
    database: Database = request.app.state.db
    try:
        result = run_batch_leased(
            database,
            batch_id=batch_id,
            store=store,
            actor=Actor.of(officer),
            today=_today(request),
            timezone=settings.retention_timezone,
            lease_seconds=settings.job_lease_seconds,
            stop=request.app.state.stopping,
        )
    except RunInterrupted as exc:
        raise RunStopped(f"the run stopped: {exc}; run it again to resume") from None
    return RunOut(
        batch_id=result.batch_id,
        status=result.status,
        destroyed=result.destroyed,
        skipped=result.skipped,
        certificate_sha256=result.certificate_sha256,
        error=result.error,
        kind=result.kind,
        exported=result.exported,
        package_sha256=result.package_sha256,
        request_files_destroyed=result.request_files_destroyed,
    )


@router.get("/disposition/batches/{batch_id}/certificate")
def get_certificate(
    batch_id: DbId, _officer: OfficerUser, session: SessionDep, store: StoreDep
) -> Response:
    pdf = disposition.certificate_bytes(session, batch_id=batch_id, store=store)
    return Response(
        content=pdf,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="disposition-{batch_id}-certificate.pdf"'
        },
    )
