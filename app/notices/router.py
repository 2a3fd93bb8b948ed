"""Each person's notices: how they want them (at once or a daily digest) and what was sent."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from app.audit.service import Actor
from app.auth.deps import CurrentUser
from app.db import SessionDep
from app.notices import service
from app.notices.models import Delivery

router = APIRouter(prefix="/api/v1/me/notices", tags=["notices"])


class NoticeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    subject: str
    status: str
    created_at: dt.datetime
    sent_at: dt.datetime | None


class NoticesOut(BaseModel):
    delivery: Delivery
    recent: list[NoticeOut]


class DeliveryIn(BaseModel):
    delivery: Delivery


@router.get("", response_model=NoticesOut)
def my_notices(user: CurrentUser, session: SessionDep) -> NoticesOut:
    return NoticesOut(
        delivery=service.preference(session, user=user),
        recent=[NoticeOut.model_validate(n) for n in service.sent_to(session, user=user)],
    )


@router.put("", response_model=NoticesOut)
def set_delivery(body: DeliveryIn, user: CurrentUser, session: SessionDep) -> NoticesOut:
    service.set_preference(session, user=user, delivery=body.delivery, actor=Actor.of(user))
    return my_notices(user, session)
