from __future__ import annotations

from fastapi import APIRouter, Query, Response

from app.auth.deps import CurrentUser, OfficerUser
from app.bounds import DB_INT_MAX, DbId
from app.db import SessionDep
from app.snapshots import service
from app.storage import fixity as fixity_service
from app.storage.deps import StoreDep
from app.storage.schemas import FixityOverview

router = APIRouter(prefix="/api/v1", tags=["snapshots"])


@router.get(
    "/posts/{post_id}/versions/{number}/snapshot.pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}},
)
def snapshot_pdf(
    post_id: DbId,
    number: DbId,
    user: CurrentUser,
    session: SessionDep,
    store: StoreDep,
    download: bool = Query(default=False, description="Ask the browser to save the file."),
) -> Response:
    """The PDF/A-3b snapshot of a version, checked against its SHA-256 before it is sent."""
    snapshot, data = service.read_snapshot(
        session, store=store, viewer=user, post_id=post_id, number=number, download=download
    )
    disposition = "attachment" if download else "inline"
    return Response(
        content=data,
        media_type="application/pdf",
        headers={
            "X-Content-SHA256": snapshot.sha256,
            "ETag": f'"{snapshot.sha256}"',
            "Content-Disposition": f'{disposition}; filename="post-{post_id}-v{number}.pdf"',
            "Cache-Control": "private, no-transform",
        },
    )


@router.get(
    "/posts/{post_id}/versions/{number}/snapshot.tsr",
    response_class=Response,
    responses={200: {"content": {"application/timestamp-reply": {}}}},
)
def snapshot_timestamp(
    post_id: int, number: int, user: CurrentUser, session: SessionDep, store: StoreDep
) -> Response:
    """The RFC 3161 TimeStampResp a time-stamping authority gave for the SHA-256 of exactly
    the bytes `snapshot.pdf` serves (check it with `openssl ts -verify -data snapshot.pdf
    -in snapshot.tsr -CAfile <the TSA's chain>`)."""
    snapshot, token, data = service.read_snapshot_timestamp(
        session, store=store, viewer=user, post_id=post_id, number=number
    )
    return Response(
        content=data,
        media_type="application/timestamp-reply",
        headers={
            "X-Content-SHA256": token.token_sha256 or "",
            "X-Timestamped-SHA256": snapshot.sha256,
            "Content-Disposition": f'attachment; filename="post-{post_id}-v{number}.pdf.tsr"',
            "Cache-Control": "private, no-transform",
        },
    )


@router.get("/fixity", response_model=FixityOverview)
def fixity(
    _officer: OfficerUser,
    session: SessionDep,
    limit: int = Query(default=100, ge=1, le=1000),
    offset: int = Query(default=0, ge=0, le=DB_INT_MAX),
) -> FixityOverview:
    """The latest fixity check of each stored object, failures first, with a summary."""
    return fixity_service.fixity_overview(session, limit=limit, offset=offset)
