"""Transfer to the archives and the review list: records officers only (approving and
recording receipts: the records_officer role only)."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request, Response, status

from app.audit.service import Actor, record
from app.auth.deps import OfficerUser
from app.bounds import DbId
from app.db import Database, SessionDep
from app.retention import disposition, review, transfer
from app.retention.models import ReviewOutcome
from app.retention.router import NothingDue, _settings, _today, run_now
from app.retention.schemas import (
    BatchDetail,
    ReviewDecide,
    ReviewDecisionOut,
    ReviewLineOut,
    RunOut,
    TransferReceipt,
)
from app.storage.deps import StoreDep

router = APIRouter(prefix="/api/v1", tags=["retention"])


@router.post(
    "/disposition/transfers", response_model=BatchDetail, status_code=status.HTTP_201_CREATED
)
def propose_transfer(officer: OfficerUser, session: SessionDep, request: Request) -> BatchDetail:
    """Propose a transfer batch of the posts whose series ends in `transfer_to_archives` and
    that are due, with no holds. Approve and run it like a destruction batch: the run builds
    the BagIt package for the archives and the batch then awaits their receipt."""
    batch = transfer.propose_transfer_batch(session, actor=Actor.of(officer), today=_today(request))
    if batch is None:
        raise NothingDue("nothing is due for transfer: no batch proposed")
    return disposition.batch_out(session, batch, today=_today(request))


@router.get("/disposition/batches/{batch_id}/package")
def get_package(
    batch_id: DbId, officer: OfficerUser, session: SessionDep, store: StoreDep
) -> Response:
    """The transfer package (a ZIP holding one BagIt bag), to send to the archives."""
    data = transfer.package_bytes(session, batch_id=batch_id, store=store)
    record(
        session,
        actor=Actor.of(officer),
        action="transfer.package_downloaded",
        object_type="disposition_batch",
        object_id=batch_id,
        details={"size": len(data)},
    )
    return Response(
        content=data,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="transfer-batch-{batch_id}.zip"'},
    )


@router.post("/disposition/batches/{batch_id}/receipt", response_model=RunOut)
def record_receipt(
    batch_id: DbId, body: TransferReceipt, officer: OfficerUser, request: Request, store: StoreDep
) -> RunOut:
    """Record the archives' receipt of a transfer package (the SHA-256 they received must be
    the package's), then dispose of the local copies as the run does: destroyed through the
    same path as destruction, with a certificate naming the transfer and the receipt."""
    database: Database = request.app.state.db
    with database.session() as session:
        transfer.record_receipt(
            session,
            batch_id=batch_id,
            officer=officer,
            reference=body.reference,
            received_on=body.received_on,
            received_by=body.received_by,
            package_sha256=body.package_sha256,
            notes=body.notes,
            timezone=_settings(request).retention_timezone,
        )
    return run_now(batch_id, officer, request, store)


@router.get("/disposition/review", response_model=list[ReviewLineOut])
def review_list(
    _officer: OfficerUser,
    session: SessionDep,
    request: Request,
    include_decided: bool = Query(
        default=False, description="Also list posts retained longer or approved for destruction."
    ),
) -> list[ReviewLineOut]:
    """Posts of a `review` series that are due: each waits for a records officer's decision
    (never a destruction by itself)."""
    return [
        ReviewLineOut.model_validate(line)
        for line in review.review_list(
            session, today=_today(request), include_decided=include_decided
        )
    ]


@router.post(
    "/disposition/review/{post_id}",
    response_model=ReviewDecisionOut,
    status_code=status.HTTP_201_CREATED,
)
def decide_review(
    post_id: DbId, body: ReviewDecide, officer: OfficerUser, session: SessionDep, request: Request
) -> ReviewDecisionOut:
    """Decide a review: `retain` (with retain_until and a reason) keeps the post until then;
    `destroy` lets the next destruction batch propose it (two-step approval as usual)."""
    decision = review.decide(
        session,
        post_id=post_id,
        officer=officer,
        outcome=ReviewOutcome(body.outcome),
        reason=body.reason,
        retain_until=body.retain_until,
        today=_today(request),
    )
    return ReviewDecisionOut.model_validate(decision)
