"""`GET /api/v1/audit/verify`: the hash chain walked and checked against its anchors outside
the database. (It lives here, not in app/audit, because the anchors use the archive store and
the timestamps, which themselves write audit events.)"""

from __future__ import annotations

from fastapi import APIRouter, Request

from app.anchors.service import verify_anchored
from app.audit.schemas import ChainReportOut
from app.auth.deps import OfficerUser
from app.config import Settings
from app.db import SessionDep
from app.storage.deps import StoreDep

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])


@router.get("/verify", response_model=ChainReportOut)
def verify_chain(
    _officer: OfficerUser, session: SessionDep, store: StoreDep, request: Request
) -> ChainReportOut:
    """Walk the chain, then check it against every anchor; name the first problem."""
    settings: Settings = request.app.state.settings
    report = verify_anchored(session, store=store, settings=settings)
    return ChainReportOut(
        ok=report.ok,
        events_checked=report.chain.events_checked,
        first_broken_event_id=report.first_broken_event_id,
        problem=report.problem,
        anchors_checked=report.anchors_checked,
        anchor_id=report.anchor_id,
    )
