"""The public pages under /public/ (no account, no JavaScript, phone width first): make a
request, track it with its link, and the reading room. Every form carries the session's CSRF
token and counts against the visitor's address; the routes stay thin."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from dataclasses import dataclass

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from app.config import Settings
from app.db import SessionDep, utcnow
from app.errors import NotFound
from app.notices.mail import Mail, SmtpConfig, send_mails
from app.open_records import requests as requests_service
from app.open_records.letters import REVIEW_RIGHTS
from app.open_records.models import RecordsRequest, ResponsePackage
from app.platforms.registry import registry
from app.public import reading_room, service
from app.public.fees import NO_REDACTION_FEE, PREPAYMENT_RULE, dollars, estimate_of
from app.public.models import AttemptKind, FeeEstimate, PortalMessage
from app.retention.calendar import local_today
from app.storage.deps import StoreDep
from app.storage.models import StoredObject
from app.web.deps import check_csrf
from app.web.rendering import error_page, render, see_other
from app.web.workspace import REQUEST_STATUS_NAMES

router = APIRouter(prefix="/public", dependencies=[Depends(check_csrf)], include_in_schema=False)

ANONYMITY = (
    "You do not have to give your name, a way to reach you, or a reason: Wisconsin law lets "
    "anyone request records and stay anonymous. Without contact details, the tracking link "
    "shown after you send the request is the only way to follow it, so keep it."
)


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _key(request: Request) -> str:
    address = request.client.host if request.client else "unknown"
    return service.address_key(request.app.state.portal_secret, address)


def _today(request: Request) -> dt.date:
    return local_today(_settings(request).retention_timezone)


def _base_url(request: Request) -> str:
    return (_settings(request).public_url or str(request.base_url)).rstrip("/")


@router.get("/")
def home(request: Request) -> Response:
    return render(request, "public_home.html", user=None, active="home")


# --- make a request -------------------------------------------------------------------------


def _form_page(
    request: Request, *, form: dict[str, str], errors: dict[str, str], status_code: int = 200
) -> HTMLResponse:
    return render(
        request,
        "public_request.html",
        user=None,
        active="request",
        form=form,
        errors=errors,
        status_code=status_code,
        platforms=registry.ids(),
        anonymity=ANONYMITY,
        honeypot=service.HONEYPOT_FIELD,
        caps={
            "description": service.DESCRIPTION_MAX,
            "name": service.NAME_MAX,
            "contact": service.CONTACT_MAX,
            "account": service.ACCOUNT_MAX,
        },
    )


@router.get("/request")
def request_form(request: Request) -> Response:
    return _form_page(request, form={}, errors={})


def _email_link(settings: Settings, to: str, number: str, link: str) -> str | None:
    """Mail the tracking link; None when sent, else the sentence to show."""
    config = SmtpConfig.from_settings(settings)
    if config is None:
        return None
    body = (
        f"Your open-records request {number} is received.\n\n"
        f"Follow it here (keep this link private; anyone with it can see the request):\n"
        f"{link}\n"
    )
    (error,) = send_mails(config, [Mail(to=to, subject=f"Records request {number}", body=body)])
    return None if error is None else "The link could not be emailed; copy it from this page."


@router.post("/request")
def file_request(
    request: Request,
    session: SessionDep,
    store: StoreDep,
    description: str = Form(""),
    name: str = Form(""),
    contact: str = Form(""),
    date_from: str = Form(""),
    date_to: str = Form(""),
    platform: str = Form(""),
    account: str = Form(""),
    website: str = Form(""),
) -> Response:
    settings = _settings(request)
    key = _key(request)
    form = {
        "description": description,
        "name": name,
        "contact": contact,
        "date_from": date_from,
        "date_to": date_to,
        "platform": platform,
        "account": account,
    }
    if website:
        # The hidden field: people never see it, form-filling robots fill it in.
        service.record_honeypot(session, settings=settings, key=key)
        return error_page(request, 422, "This form was not sent as the page shows it.")
    wanted, errors = service.read_form(form, today=_today(request))
    if wanted is None:
        return _form_page(request, form=form, errors=errors, status_code=422)
    created, token = service.file_request(
        session, settings=settings, wanted=wanted, key=key, store=store
    )
    number = created.number
    # Saved before anything is mailed: the link mailed is for a request that exists.
    session.commit()
    link = f"{_base_url(request)}/public/track/{token}"
    emailed, mail_error = False, None
    if service.is_email(wanted.contact) and SmtpConfig.from_settings(settings) is not None:
        mail_error = _email_link(settings, wanted.contact or "", number, link)
        emailed = mail_error is None
    return render(
        request,
        "public_filed.html",
        user=None,
        active="request",
        number=number,
        link=link,
        emailed=emailed,
        mail_error=mail_error,
        status_code=201,
    )


# --- tracking -------------------------------------------------------------------------------


@router.get("/track")
def track_form(request: Request) -> Response:
    return render(request, "public_track_form.html", user=None, active="track", errors={})


@router.post("/track")
def track_lookup(request: Request, session: SessionDep, link: str = Form("")) -> Response:
    service.count_attempt(
        session, settings=_settings(request), kind=AttemptKind.track, key=_key(request)
    )
    token = link.strip().rstrip("/").rpartition("/")[2][: service.TOKEN_MAX]
    if not token:
        return render(
            request,
            "public_track_form.html",
            user=None,
            active="track",
            errors={"link": "Paste the tracking link you were given."},
            status_code=422,
        )
    return see_other(f"/public/track/{token}")


@dataclass(frozen=True)
class Tracking:
    request: RecordsRequest
    token: str
    status_name: str
    age_business_days: int
    messages: list[PortalMessage]
    estimate: FeeEstimate | None
    held_for_fee: bool
    package: ResponsePackage | None
    granted: bool
    denied: bool


def _tracked(request: Request, session: Session, token: str) -> RecordsRequest | Response:
    found = service.find_by_token(
        session, settings=_settings(request), token=token[: service.TOKEN_MAX], key=_key(request)
    )
    if found is None:
        # The miss is counted (committed with this answer), and looks like any other 404.
        return error_page(
            request, 404, service.NO_SUCH_LINK[:1].upper() + service.NO_SUCH_LINK[1:] + "."
        )
    return found


def _tracking(request: Request, session: Session, found: RecordsRequest, token: str) -> Tracking:
    settings = _settings(request)
    age = requests_service.deadline(
        found,
        today=_today(request),
        calendar=requests_service.business_calendar(),
        settings=settings,
    ).age_business_days
    estimate = estimate_of(session, found.id)
    return Tracking(
        request=found,
        token=token,
        status_name=REQUEST_STATUS_NAMES.get(found.status, found.status),
        age_business_days=age,
        messages=service.messages(session, found.id),
        estimate=estimate,
        held_for_fee=estimate is not None and estimate.status == "awaiting_payment",
        package=service.released_package(session, found),
        granted=service.was_granted(session, found),
        denied=service.was_denied(session, found),
    )


@router.get("/track/{token}")
def track(request: Request, token: str, session: SessionDep) -> Response:
    found = _tracked(request, session, token)
    if isinstance(found, Response):
        return found
    service.record_view(session, found, "viewed")
    settings = _settings(request)
    return render(
        request,
        "public_track.html",
        user=None,
        active="track",
        t=_tracking(request, session, found, token),
        review_rights=REVIEW_RIGHTS,
        no_redaction_fee=NO_REDACTION_FEE,
        prepayment_rule=f"{PREPAYMENT_RULE} {dollars(settings.fee_prepayment_over_cents)}.",
        dollars=dollars,
    )


def _package_bytes(
    request: Request, session: Session, store: StoreDep, token: str, what: str
) -> tuple[RecordsRequest, bytes] | Response:
    found = _tracked(request, session, token)
    if isinstance(found, Response):
        return found
    package = service.released_package(session, found)
    if package is None or package.sha256 is None:
        raise NotFound("nothing is released for this request yet")
    stored = session.get(StoredObject, package.sha256)
    if stored is not None and stored.destroyed_at is not None:
        # Request files have a retention too (POSTVAULT_REQUEST_FILES_SERIES).
        raise NotFound(
            "the released package was destroyed at the end of its retention period, "
            f"on {stored.destroyed_at:%Y-%m-%d}"
        )
    data = store.get(package.sha256)  # verified against its hash on read
    service.record_view(session, found, what)
    return found, data


@router.get("/track/{token}/package.zip")
def package_zip(request: Request, token: str, session: SessionDep, store: StoreDep) -> Response:
    got = _package_bytes(request, session, store, token, "package_downloaded")
    if isinstance(got, Response):
        return got
    found, data = got
    if not service.was_granted(session, found):
        raise NotFound("nothing was released for this request; its letter gives the reasons")
    return Response(
        data,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="request-{found.number}.zip"'},
    )


@router.get("/track/{token}/letter.pdf")
def letter_pdf(request: Request, token: str, session: SessionDep, store: StoreDep) -> Response:
    got = _package_bytes(request, session, store, token, "letter_downloaded")
    if isinstance(got, Response):
        return got
    found, data = got
    with zipfile.ZipFile(io.BytesIO(data)) as bag:
        name = next((n for n in bag.namelist() if n.endswith("/data/letter.pdf")), None)
        if name is None:
            raise NotFound("the package has no letter")
        letter = bag.read(name)
    return Response(
        letter,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="request-{found.number}-letter.pdf"'},
    )


# --- the reading room -------------------------------------------------------------------------


@router.get("/reading-room")
def reading_room_page(
    request: Request,
    session: SessionDep,
    q: str = Query("", max_length=1000),
    platform: str = Query("", max_length=100),
    date_from: str = Query("", max_length=40),
    date_to: str = Query("", max_length=40),
    page: int = Query(1, ge=1, le=10_000),
) -> Response:
    query, errors = reading_room.read_query(q, platform, date_from, date_to)
    if not query.is_empty or errors:
        service.count_attempt(
            session, settings=_settings(request), kind=AttemptKind.search, key=_key(request)
        )
    entries, total = ([], 0) if errors else reading_room.search(session, query, page=page)
    return render(
        request,
        "public_reading_room.html",
        user=None,
        active="room",
        entries=entries,
        total=total,
        page=page,
        pages=max(1, -(-total // reading_room.PAGE_SIZE)),
        form={"q": q, "platform": platform, "date_from": date_from, "date_to": date_to},
        errors=errors,
        searched=not query.is_empty,
        platforms=registry.ids(),
        status_code=422 if errors else 200,
        now=utcnow(),
    )


@router.get("/reading-room/{item_id}.pdf")
def reading_room_pdf(item_id: int, session: SessionDep, store: StoreDep) -> Response:
    if not 0 < item_id < 2**31:
        raise NotFound(f"there is no released item {item_id} in the reading room")
    found, data = reading_room.read_pdf(session, store=store, item_id=item_id)
    return Response(
        data,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'inline; filename="request-{found.request_number}'
            f'-item-{found.item_id}.pdf"',
            "X-Content-SHA256": found.sha256,
        },
    )
