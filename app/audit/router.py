from __future__ import annotations

from fastapi import APIRouter, Query

from app.audit import service
from app.audit.schemas import AuditEventOut, AuditPage
from app.auth.deps import OfficerUser
from app.bounds import DB_INT_MAX, DbId
from app.db import SessionDep

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])


@router.get("", response_model=AuditPage)
def list_events(
    _officer: OfficerUser,
    session: SessionDep,
    action: str | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    actor_id: DbId | None = None,
    limit: int = Query(default=100, ge=1, le=1000),
    offset: int = Query(default=0, ge=0, le=DB_INT_MAX),
) -> AuditPage:
    events, total = service.list_events(
        session,
        action=action,
        object_type=object_type,
        object_id=object_id,
        actor_id=actor_id,
        limit=limit,
        offset=offset,
    )
    return AuditPage(
        items=[AuditEventOut.model_validate(e) for e in events],
        total=total,
        limit=limit,
        offset=offset,
    )
