from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, status

from app.auth.deps import OfficerUser
from app.bounds import DB_INT_MAX, DbId
from app.classification import review, service
from app.classification.schemas import OverrideCreate, OverrideOut, ReviewPage
from app.db import SessionDep
from app.posts.schemas import ClassificationOut

router = APIRouter(tags=["classification"])


def _label_hooks(request: Request) -> list[service.LabelChangedHook]:
    hooks: list[service.LabelChangedHook] = request.app.state.on_label_changed
    return hooks


LabelHooks = Annotated[list[service.LabelChangedHook], Depends(_label_hooks)]


@router.post(
    "/api/v1/posts/{post_id}/classification",
    response_model=OverrideOut,
    status_code=status.HTTP_201_CREATED,
)
def override_classification(
    post_id: DbId,
    body: OverrideCreate,
    officer: OfficerUser,
    session: SessionDep,
    hooks: LabelHooks,
) -> OverrideOut:
    """Set a post's label by hand (records officers); it stays through re-classification."""
    created = service.override(
        session,
        post_id=post_id,
        label=body.label.value,
        reason=body.reason,
        officer=officer,
        on_label_changed=hooks,
    )
    return OverrideOut.model_validate(created)


@router.delete("/api/v1/posts/{post_id}/classification", response_model=OverrideOut)
def revoke_override(
    post_id: DbId,
    officer: OfficerUser,
    session: SessionDep,
    hooks: LabelHooks,
    reason: str = Query(min_length=1, max_length=4000, description="Why the override ends."),
) -> OverrideOut:
    """End the active override: the rules' decision applies again."""
    revoked = service.revoke_override(
        session, post_id=post_id, reason=reason, officer=officer, on_label_changed=hooks
    )
    return OverrideOut.model_validate(revoked)


@router.get(
    "/api/v1/posts/{post_id}/classification/history", response_model=list[ClassificationOut]
)
def classification_history(
    post_id: DbId, _officer: OfficerUser, session: SessionDep
) -> list[ClassificationOut]:
    """Every decision stored for the post's versions, oldest first."""
    out = []
    for row, number in review.classification_history(session, post_id=post_id):
        item = ClassificationOut.model_validate(row)
        item.version_number = number
        out.append(item)
    return out


@router.get("/api/v1/classification/review", response_model=ReviewPage)
def review_queue(
    _officer: OfficerUser,
    session: SessionDep,
    limit: int = Query(default=50, ge=1, le=500),
    offset: int = Query(default=0, ge=0, le=DB_INT_MAX),
) -> ReviewPage:
    """Near-duplicate proposals and low-confidence decisions waiting for an officer."""
    items, total = review.review_queue(session, limit=limit, offset=offset)
    return ReviewPage(items=items, total=total, limit=limit, offset=offset)
