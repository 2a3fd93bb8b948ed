"""The officer's side of the portal, shown as a panel on the request page: how the request
came in, messages to the requester, the fee estimate, and which released items the reading
room shows. Thin: read the form, call the service, show a refusal next to its form."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from app.bounds import DbId
from app.config import Settings
from app.db import SessionDep, utcnow
from app.errors import Invalid
from app.notices.mail import Mail, SmtpConfig, send_mails
from app.open_records import requests as requests_service
from app.open_records.models import ResponsePackage
from app.public import fees, reading_room, service
from app.public.models import FeeEstimate, FeeStatus, PortalMessage, ReadingRoomWithholding
from app.web.deps import OfficerPageUser, check_csrf
from app.web.forms import refusal_of
from app.web.rendering import see_other
from app.web.request_pages import _workspace as request_workspace
from app.web.router import sentence

router = APIRouter(dependencies=[Depends(check_csrf)], include_in_schema=False)

DONE = {
    "portal-message": "The message is sent: the requester sees it on their tracking page.",
    "portal-message-mailed": "The message is sent and emailed to the requester.",
    "portal-message-unmailed": "The message is on the tracking page; it could not be emailed.",
    "portal-fee": "The fee estimate is saved; the requester sees it with the rule for each line.",
    "portal-fee-paid": "The fee is marked paid: the release is no longer held.",
    "portal-fee-waived": "The fee is waived: the release is no longer held.",
    "portal-room": "The reading room is changed for that item.",
}


@dataclass(frozen=True)
class PortalPanel:
    template: str
    through_portal: bool
    portal_on: bool
    contact_is_email: bool
    messages: list[PortalMessage]
    estimate: FeeEstimate | None
    rates: dict[str, str]
    prepayment_over: str
    withheld: set[int]
    released: ResponsePackage | None
    done: str | None


def panel(session: Session, request_id: int, request: Request) -> PortalPanel:
    settings: Settings = request.app.state.settings
    found = requests_service.get_request(session, request_id)
    items = requests_service.list_items(session, request_id=request_id, include_removed=False)
    withheld = {i.id for i in items if session.get(ReadingRoomWithholding, i.id) is not None}
    return PortalPanel(
        template="portal_panel.html",
        through_portal=service.came_in_through_portal(session, request_id),
        portal_on=settings.public_portal,
        contact_is_email=service.is_email(found.requester_contact),
        messages=service.messages(session, request_id),
        estimate=fees.estimate_of(session, request_id),
        rates={
            "page": fees.dollars(settings.fee_page_cents),
            "file": fees.dollars(settings.fee_file_cents),
            "location": fees.dollars(settings.fee_location_hour_cents),
            "mailing": fees.dollars(settings.fee_mailing_cents),
        },
        prepayment_over=fees.dollars(settings.fee_prepayment_over_cents),
        withheld=withheld,
        released=service.released_package(session, found),
        done=DONE.get(request.query_params.get("done", "")),
    )


def _again(
    request: Request,
    session: Session,
    user: OfficerPageUser,
    request_id: int,
    *,
    status_code: int,
    field: str,
    message: str,
    form: dict[str, str] | None = None,
) -> Response:
    return request_workspace(
        request,
        session,
        user,
        request_id,
        status_code=status_code,
        errors={field: sentence(message)},
        form=form,
    )


def _done(request_id: int, done: str) -> Response:
    return see_other(f"/officer/requests/{request_id}?done={done}#portal")


def _mail(settings: Settings, to: str, number: str, body: str) -> str | None:
    config = SmtpConfig.from_settings(settings)
    if config is None:
        return "no mail server is set"
    text = (
        f"A message about your open-records request {number}:\n\n{body}\n\n"
        "Open your tracking link to see the request.\n"
    )
    (error,) = send_mails(config, [Mail(to=to, subject=f"Records request {number}", body=text)])
    return None if error is None else str(error)


@router.post("/officer/requests/{request_id}/portal/message")
def send_message(
    request: Request,
    request_id: DbId,
    user: OfficerPageUser,
    session: SessionDep,
    body: str = Form(""),
) -> Response:
    with refusal_of(session, not_found_raises=True) as refused:
        message = service.send_message(session, officer=user, request_id=request_id, body=body)
    if (exc := refused.error) is not None:
        return _again(
            request,
            session,
            user,
            request_id,
            status_code=exc.status_code,
            field="portal-message",
            message=exc.message,
            form={"portal-message": body[: service.MESSAGE_MAX]},
        )
    found = requests_service.get_request(session, request_id)
    settings: Settings = request.app.state.settings
    if not (service.is_email(found.requester_contact) and SmtpConfig.from_settings(settings)):
        return _done(request_id, "portal-message")
    session.commit()  # kept whether or not the mail goes out
    error = _mail(settings, found.requester_contact or "", found.number, message.body)
    if error is None:
        message.emailed_at = utcnow()
    else:
        message.email_error = error
    return _done(
        request_id, "portal-message-mailed" if error is None else "portal-message-unmailed"
    )


def _count(raw: str, what: str) -> int:
    raw = raw.strip() or "0"
    if not raw.isdigit() or len(raw) > 9:
        raise Invalid(f"give the {what} as a whole number")
    return int(raw)


@router.post("/officer/requests/{request_id}/portal/fee")
def set_fee(
    request: Request,
    request_id: DbId,
    user: OfficerPageUser,
    session: SessionDep,
    pages: str = Form(""),
    files: str = Form(""),
    location_minutes: str = Form(""),
    mailed: str = Form(""),
) -> Response:
    form = {
        "fee-pages": pages,
        "fee-files": files,
        "fee-location": location_minutes,
        "fee-mailed": mailed,
    }
    with refusal_of(session, not_found_raises=True) as refused:
        fees.set_estimate(
            session,
            officer=user,
            settings=request.app.state.settings,
            request_id=request_id,
            pages=_count(pages, "number of pages"),
            files=_count(files, "number of files"),
            location_minutes=_count(location_minutes, "minutes spent locating"),
            mailed=mailed == "yes",
        )
    if (exc := refused.error) is not None:
        return _again(
            request,
            session,
            user,
            request_id,
            status_code=exc.status_code,
            field="portal-fee",
            message=exc.message,
            form=form,
        )
    return _done(request_id, "portal-fee")


@router.post("/officer/requests/{request_id}/portal/fee/settle")
def settle_fee(
    request: Request,
    request_id: DbId,
    user: OfficerPageUser,
    session: SessionDep,
    outcome: str = Form(""),
) -> Response:
    with refusal_of(session, not_found_raises=True) as refused:
        if outcome not in (FeeStatus.paid, FeeStatus.waived):
            raise Invalid("choose paid or waived")
        fees.settle(session, officer=user, request_id=request_id, outcome=FeeStatus(outcome))
    if (exc := refused.error) is not None:
        return _again(
            request,
            session,
            user,
            request_id,
            status_code=exc.status_code,
            field="portal-settle",
            message=exc.message,
        )
    return _done(request_id, f"portal-fee-{outcome}")


@router.post("/officer/requests/{request_id}/portal/items/{item_id}/room")
def reading_room_choice(
    request: Request,
    request_id: DbId,
    item_id: DbId,
    user: OfficerPageUser,
    session: SessionDep,
    publish: str = Form(""),
) -> Response:
    with refusal_of(session, not_found_raises=True) as refused:
        if publish not in ("yes", "no"):
            raise Invalid("choose to publish or withhold the item")
        reading_room.set_published(
            session,
            officer=user,
            request_id=request_id,
            item_id=item_id,
            published=publish == "yes",
        )
    if (exc := refused.error) is not None:
        return _again(
            request,
            session,
            user,
            request_id,
            status_code=exc.status_code,
            field=f"portal-room-{item_id}",
            message=exc.message,
        )
    return _done(request_id, "portal-room")
