from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from app.audit.service import record_view
from app.auth.deps import CurrentUser
from app.bounds import DbId
from app.collectors import service
from app.collectors.schemas import CaptureOut, VersionOut
from app.db import SessionDep
from app.posts.service import get_post

router = APIRouter(prefix="/api/v1/posts", tags=["captures"])


@router.post("/{post_id}/capture", response_model=CaptureOut)
async def capture_now(
    post_id: DbId, user: CurrentUser, session: SessionDep, request: Request
) -> CaptureOut:
    """Capture the post now, outside its schedule; answers with what the capture found."""
    get_post(session, viewer=user, post_id=post_id)
    session.commit()
    context = request.app.state.capture_context()
    report = await run_in_threadpool(service.capture_now, context, post_id)
    return CaptureOut(
        post_id=report.post_id,
        outcome=report.outcome,
        versions_added=report.versions_added,
        detail=report.detail,
        http_requests=report.http_requests,
    )


@router.get("/{post_id}/versions", response_model=list[VersionOut])
def list_versions(post_id: DbId, user: CurrentUser, session: SessionDep) -> list[VersionOut]:
    """Every version with its hashes and what changed since the one before."""
    post = get_post(session, viewer=user, post_id=post_id)
    versions = [VersionOut.model_validate(v) for v in service.list_versions(session, post=post)]
    record_view(session, viewer=user, post_ids=[post.id], what="versions (API)")
    return versions
