"""The "My notices" page: at once or a daily digest, and the notices sent lately."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from app.audit.service import Actor
from app.db import SessionDep
from app.errors import DomainError
from app.notices import service
from app.notices.models import Delivery
from app.web.deps import PageUser, check_csrf
from app.web.rendering import render, see_other

router = APIRouter(dependencies=[Depends(check_csrf)], include_in_schema=False)


@router.get("/notices")
def notices_page(
    request: Request, user: PageUser, session: SessionDep, done: str | None = None
) -> Response:
    return render(
        request,
        "notices.html",
        user=user,
        delivery=service.preference(session, user=user).value,
        deliveries=[d.value for d in Delivery],
        notices=service.sent_to(session, user=user),
        mail_on=bool(request.app.state.settings.smtp_host),
        done="Your choice is saved." if done == "saved" else None,
    )


@router.post("/notices")
def save_delivery(
    request: Request, user: PageUser, session: SessionDep, delivery: str = Form("")
) -> Response:
    try:
        service.set_preference(session, user=user, delivery=delivery, actor=Actor.of(user))
    except DomainError as exc:
        session.rollback()
        return render(
            request,
            "notices.html",
            user=user,
            status_code=exc.status_code,
            delivery=service.preference(session, user=user).value,
            deliveries=[d.value for d in Delivery],
            notices=service.sent_to(session, user=user),
            mail_on=bool(request.app.state.settings.smtp_host),
            error=exc.message[:1].upper() + exc.message[1:] + ".",
        )
    return see_other("/notices?done=saved")
