"""The request workspace for records officers: the list of requests, opening one, and the
request page (status, assignment, notes, search, the responsive set with redaction, the
response package). Thin like the other pages: read the form, call the open-records services,
show a domain error as a sentence next to the field it is about."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from app.audit.service import Actor
from app.auth.models import User
from app.bounds import DbId
from app.db import SessionDep
from app.errors import Conflict, DomainError, Invalid
from app.open_records import package as package_service
from app.open_records import redaction as redaction_service
from app.open_records import requests as requests_service
from app.open_records.models import RequestStatus
from app.open_records.schemas import TEXT_MAX
from app.platforms.registry import registry
from app.retention.calendar import local_today
from app.storage.deps import StoreDep
from app.web import workspace
from app.web.deps import OfficerPageUser, check_csrf
from app.web.forms import refusal_of
from app.web.rendering import render, see_other
from app.web.router import sentence

router = APIRouter(dependencies=[Depends(check_csrf)], include_in_schema=False)

PAGE_SIZE = 50
LIST_FILTERS = ["open", "all", *(s.value for s in RequestStatus)]

DONE = {
    "opened": "The request is logged. Posts matching its saved search are held. Its "
    "acknowledgment letter is made: download it under Letters.",
    "status": "The request's status is changed.",
    "assigned": "The assignment is changed.",
    "noted": "The note is added.",
    "added": "The posts are in the responsive set, and held for this request.",
    "redacted": "The redaction is made, and the redacted copy checked: the text is gone.",
    "withheld": "The file is withheld from the released copy.",
    "blacked_out": "The region is blacked out in the released copy (its pixels replaced).",
    "removed": "The item is taken out of the set (the reason is kept).",
    "packaging": "The package is being made. Reload this page to follow it.",
}


def _today(request: Request) -> dt.date:
    return local_today(request.app.state.settings.retention_timezone)


def request_panels(request: Request) -> list[Callable[[Session, int, Request], Any]]:
    return list(getattr(request.app.state, "request_panels", []))


def _redirect(request_id: int, done: str, anchor: str) -> Response:
    return see_other(f"/officer/requests/{request_id}?done={done}#{anchor}")


# --- the list and opening a request ---------------------------------------------------------


@router.get("/officer/requests")
def requests_page(
    request: Request,
    user: OfficerPageUser,
    session: SessionDep,
    status: str = "open",
    page: int = Query(1, ge=1, le=100_000),
) -> Response:
    chosen = status if status in LIST_FILTERS else "open"
    rows, total = workspace.request_rows(
        session,
        settings=request.app.state.settings,
        today=_today(request),
        status=chosen,
        limit=PAGE_SIZE,
        offset=(page - 1) * PAGE_SIZE,
    )
    return render(
        request,
        "requests.html",
        user=user,
        rows=rows,
        total=total,
        page=page,
        pages=max(1, -(-total // PAGE_SIZE)),
        status=chosen,
        filters=LIST_FILTERS,
        names=workspace.REQUEST_STATUS_NAMES,
    )


def _new_page(
    request: Request,
    session: Session,
    user: User,
    *,
    form: dict[str, str],
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "request_new.html",
        user=user,
        status_code=status_code,
        form=form,
        errors=errors or {},
        today=_today(request),
        officers=workspace.officers(session),
        employees=workspace.employees_with_accounts(session),
        platforms=registry.ids(),
    )


@router.get("/officer/requests/new")
def new_request_page(request: Request, user: OfficerPageUser, session: SessionDep) -> Response:
    form = {"received_on": _today(request).isoformat(), "assigned_to": str(user.id)}
    return _new_page(request, session, user, form=form)


@router.post("/officer/requests")
def open_request(
    request: Request,
    user: OfficerPageUser,
    session: SessionDep,
    store: StoreDep,
    requester_name: str = Form(""),
    requester_contact: str = Form(""),
    requester_committed: str = Form(""),
    received_on: str = Form(""),
    received_time: str = Form(""),
    description: str = Form(""),
    search_text: str = Form(""),
    search_employee: str = Form(""),
    search_platform: str = Form(""),
    assigned_to: str = Form(""),
    confirm_nothing_held: str = Form(""),
) -> Response:
    form = {
        "requester_name": requester_name,
        "requester_contact": requester_contact,
        "requester_committed": requester_committed,
        "received_on": received_on,
        "received_time": received_time,
        "description": description,
        "search_text": search_text,
        "search_employee": search_employee,
        "search_platform": search_platform,
        "assigned_to": assigned_to,
        "confirm_nothing_held": confirm_nothing_held,
    }
    new, errors = workspace.read_new_request(
        form, today=_today(request), timezone=request.app.state.settings.retention_timezone
    )
    if new is None:
        return _new_page(request, session, user, form=form, errors=errors, status_code=422)
    with refusal_of(session) as refused:
        created = requests_service.create_request(
            session,
            officer=user,
            received_at=new.received_at,
            description=new.description,
            requester_name=new.requester_name,
            requester_contact=new.requester_contact,
            requester_committed=new.requester_committed,
            saved_searches=new.saved_searches,
            confirm_nothing_held=new.confirm_nothing_held,
            assigned_to_id=new.assigned_to_id,
            store=store,
        )
    if (exc := refused.error) is not None:
        field = "assigned_to" if "officer" in exc.message else "search_text"
        return _new_page(
            request,
            session,
            user,
            form=form,
            errors={field: sentence(exc.message)},
            status_code=exc.status_code,
        )
    return _redirect(created.id, "opened", "main")


# --- the request page -------------------------------------------------------------------------


def _workspace(
    request: Request,
    session: Session,
    user: User,
    request_id: DbId,
    *,
    status_code: int = 200,
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    done: str | None = None,
    search_form: dict[str, str] | None = None,
    withhold_error: tuple[int, str, str] | None = None,
) -> HTMLResponse:
    """The request page; with `search_form` holding a query, the search is run too and its
    error (a query it cannot read) shown next to the search box."""
    errors = dict(errors or {})
    search_form = search_form or {"q": "", "platform": "", "employee": ""}
    results = None
    if search_form["q"]:
        try:
            results = workspace.search_archive(
                session,
                viewer=user,
                request_id=request_id,
                q=search_form["q"],
                platform=search_form["platform"],
                employee=search_form["employee"],
            )
        except DomainError as exc:
            errors.setdefault("search", sentence(exc.message))
            if status_code == 200:
                status_code = exc.status_code
    view = workspace.request_page(
        session,
        settings=request.app.state.settings,
        request_id=request_id,
        today=_today(request),
        viewer=user,
    )
    # Panels other domains add to the page (the public portal's: app/public).
    panels = [panel(session, request_id, request) for panel in request_panels(request)]
    return render(
        request,
        "request.html",
        user=user,
        status_code=status_code,
        view=view,
        errors=errors,
        form=form or {},
        done=DONE.get(done or ""),
        search=results,
        search_form=search_form,
        withhold_error=withhold_error,
        names=workspace.REQUEST_STATUS_NAMES,
        package_names=workspace.PACKAGE_STATUS_NAMES,
        denials=workspace.DENIALS,
        platforms=registry.ids(),
        panels=panels,
        shown_at=time.time_ns() // 1_000_000,
    )


@router.get("/officer/requests/{request_id}")
def request_page(
    request: Request,
    request_id: DbId,
    user: OfficerPageUser,
    session: SessionDep,
    done: str | None = None,
    q: str = "",
    platform: str = "",
    employee: str = "",
) -> Response:
    search_form = {"q": q, "platform": platform, "employee": employee}
    if "q" in request.query_params and not q.strip():
        # An empty search sent from the box: say so next to it rather than ignore it.
        return _workspace(
            request,
            session,
            user,
            request_id,
            status_code=422,
            errors={"search": "Type a word or two to search for."},
            search_form=search_form,
        )
    return _workspace(request, session, user, request_id, done=done, search_form=search_form)


@router.post("/officer/requests/{request_id}/status")
def change_status(
    request: Request,
    request_id: DbId,
    user: OfficerPageUser,
    session: SessionDep,
    status: str = Form(""),
    reason: str = Form(""),
    *,
    store: StoreDep,
) -> Response:
    form = {"status": status, "reason": reason}
    with refusal_of(session, not_found_raises=True) as refused:
        if status not in {s.value for s in RequestStatus}:
            raise Invalid("choose the next step from the list")
        current = requests_service.get_request(session, request_id).status
        allowed = requests_service.TRANSITIONS[RequestStatus(current)]
        if RequestStatus(status) not in allowed:
            # A page opened before someone else moved the request on.
            names = workspace.REQUEST_STATUS_NAMES
            steps = " or ".join(names[s.value] for s in sorted(allowed, key=list(names).index))
            raise Conflict(
                f"the request is {names[current].lower()} now: it can move to "
                f"{steps.lower() or 'nothing, as it is closed'}"
            )
        if len(reason) > TEXT_MAX:
            raise Invalid(f"the reasons have at most {TEXT_MAX} characters")
        requests_service.transition(
            session,
            officer=user,
            request_id=request_id,
            status=RequestStatus(status),
            reason=reason or None,
            store=store,
        )
    if (exc := refused.error) is not None:
        field = "reason" if "reason" in exc.message else "status"
        return _workspace(
            request,
            session,
            user,
            request_id,
            status_code=exc.status_code,
            errors={field: sentence(exc.message)},
            form=form,
        )
    return _redirect(request_id, "status", "status")


@router.post("/officer/requests/{request_id}/assign")
def assign(
    request: Request,
    request_id: DbId,
    user: OfficerPageUser,
    session: SessionDep,
    assigned_to: str = Form(""),
) -> Response:
    with refusal_of(session, not_found_raises=True) as refused:
        if assigned_to and not assigned_to.isdigit():
            raise Invalid("choose a records officer from the list")
        requests_service.assign(
            session,
            officer=user,
            request_id=request_id,
            assigned_to_id=int(assigned_to) if assigned_to else None,
        )
    if (exc := refused.error) is not None:
        return _workspace(
            request,
            session,
            user,
            request_id,
            status_code=exc.status_code,
            errors={"assigned_to": sentence(exc.message)},
        )
    return _redirect(request_id, "assigned", "status")


@router.post("/officer/requests/{request_id}/notes")
def add_note(
    request: Request,
    request_id: DbId,
    user: OfficerPageUser,
    session: SessionDep,
    body: str = Form(""),
) -> Response:
    with refusal_of(session, not_found_raises=True) as refused:
        if not body.strip():
            raise Invalid("write the note before adding it")
        if len(body) > TEXT_MAX:
            raise Invalid(f"a note has at most {TEXT_MAX} characters")
        requests_service.add_note(session, officer=user, request_id=request_id, body=body.strip())
    if (exc := refused.error) is not None:
        return _workspace(
            request,
            session,
            user,
            request_id,
            status_code=exc.status_code,
            errors={"note": sentence(exc.message)},
            form={"note": body},
        )
    return _redirect(request_id, "noted", "notes")


@router.post("/officer/requests/{request_id}/items")
def add_items(
    request: Request,
    request_id: DbId,
    user: OfficerPageUser,
    session: SessionDep,
    post_id: list[str] = Form([]),
    latest_only: str = Form(""),
    q: str = Form(""),
    platform: str = Form(""),
    employee: str = Form(""),
) -> Response:
    search_form = {"q": q, "platform": platform, "employee": employee}
    with refusal_of(session, not_found_raises=True) as refused:
        requests_service.add_items(
            session,
            officer=user,
            request_id=request_id,
            post_ids=workspace.read_post_ids(post_id),
            latest_only=latest_only == "yes",
        )
    if (exc := refused.error) is not None:
        return _workspace(
            request,
            session,
            user,
            request_id,
            status_code=exc.status_code,
            errors={"add": sentence(exc.message)},
            search_form=search_form,
        )
    return _redirect(request_id, "added", "set")


@router.post("/officer/requests/{request_id}/items/{item_id}/redact")
def redact(
    request: Request,
    request_id: DbId,
    item_id: DbId,
    user: OfficerPageUser,
    session: SessionDep,
    store: StoreDep,
    phrase: str = Form(""),
    exemption: str = Form(""),
    every: str = Form(""),
) -> Response:
    with refusal_of(session, not_found_raises=True) as refused:
        workspace.redact_phrase(
            session,
            store=store,
            officer=user,
            request_id=request_id,
            item_id=item_id,
            phrase=phrase,
            exemption=exemption,
            every=every == "yes",
        )
    if (exc := refused.error) is not None:
        field = exc.field if isinstance(exc, workspace.FieldInvalid) else "phrase"
        return _workspace(
            request,
            session,
            user,
            request_id,
            status_code=exc.status_code,
            errors={f"{field}-{item_id}": sentence(exc.message)},
            form={f"phrase-{item_id}": phrase, f"exemption-{item_id}": exemption},
        )
    return _redirect(request_id, "redacted", f"item-{item_id}")


@router.post("/officer/requests/{request_id}/items/{item_id}/withhold")
def withhold(
    request: Request,
    request_id: DbId,
    item_id: DbId,
    user: OfficerPageUser,
    session: SessionDep,
    store: StoreDep,
    media_sha256: str = Form(""),
    exemption: str = Form(""),
    x: str = Form(""),
    y: str = Form(""),
    width: str = Form(""),
    height: str = Form(""),
) -> Response:
    with refusal_of(session, not_found_raises=True) as refused:
        workspace.withhold_media(
            session,
            store=store,
            officer=user,
            request_id=request_id,
            item_id=item_id,
            media_sha256=media_sha256,
            exemption=exemption,
            box=workspace.read_box(x, y, width, height),
        )
    if (exc := refused.error) is not None:
        # Shown next to the file's reason field, or under the item's files when the form
        # named a file the item does not have.
        return _workspace(
            request,
            session,
            user,
            request_id,
            status_code=exc.status_code,
            withhold_error=(item_id, media_sha256, sentence(exc.message)),
            form={f"withhold-{item_id}-{media_sha256}": exemption},
        )
    done = "blacked_out" if any(v.strip() for v in (x, y, width, height)) else "withheld"
    return _redirect(request_id, done, f"item-{item_id}")


@router.post("/officer/requests/{request_id}/items/{item_id}/remove")
def remove_item(
    request: Request,
    request_id: DbId,
    item_id: DbId,
    user: OfficerPageUser,
    session: SessionDep,
    reason: str = Form(""),
) -> Response:
    with refusal_of(session, not_found_raises=True) as refused:
        if not reason.strip():
            raise Invalid("say why the item leaves the set; the reason is kept with it")
        if len(reason) > TEXT_MAX:
            raise Invalid(f"a reason has at most {TEXT_MAX} characters")
        requests_service.remove_item(
            session, officer=user, request_id=request_id, item_id=item_id, reason=reason.strip()
        )
    if (exc := refused.error) is not None:
        return _workspace(
            request,
            session,
            user,
            request_id,
            status_code=exc.status_code,
            errors={f"remove-{item_id}": sentence(exc.message)},
            form={f"remove-{item_id}": reason},
        )
    return _redirect(request_id, "removed", "set")


@router.get("/officer/requests/{request_id}/items/{item_id}/redacted.pdf")
def redacted_pdf(
    request_id: DbId,
    item_id: DbId,
    user: OfficerPageUser,
    session: SessionDep,
    store: StoreDep,
) -> Response:
    item = requests_service.get_item(session, request_id=request_id, item_id=item_id)
    data = redaction_service.read_released_copy(session, store=store, item=item, officer=user)
    return Response(
        data,
        media_type="application/pdf",
        headers={
            "X-Content-SHA256": item.redacted_sha256 or "",
            "Content-Disposition": f'inline; filename="request-{request_id}-item-{item_id}'
            '-redacted.pdf"',
        },
    )


@router.post("/officer/requests/{request_id}/package")
def make_package(
    request: Request, request_id: DbId, user: OfficerPageUser, session: SessionDep, store: StoreDep
) -> Response:
    with refusal_of(session, not_found_raises=True) as refused:
        package = package_service.start_package(
            session,
            officer=user,
            request_id=request_id,
            lease_seconds=request.app.state.settings.job_lease_seconds,
        )
    if (exc := refused.error) is not None:
        return _workspace(
            request,
            session,
            user,
            request_id,
            status_code=exc.status_code,
            errors={"package": sentence(exc.message)},
        )
    # The job reads the package row in its own session: it must be committed first.
    session.commit()
    request.app.state.run_in_background(
        package_service.run_package,
        request.app.state.db,
        store,
        package_id=package.id,
        actor=Actor.of(user),
        lease_seconds=request.app.state.settings.job_lease_seconds,
        stop=request.app.state.stopping,
    )
    return _redirect(request_id, "packaging", "package")


@router.get("/officer/requests/{request_id}/packages/{package_id}/download")
def download_package(
    request_id: DbId,
    package_id: DbId,
    user: OfficerPageUser,
    session: SessionDep,
    store: StoreDep,
) -> Response:
    package, data = package_service.download(
        session, store=store, officer=user, request_id=request_id, package_id=package_id
    )
    number = requests_service.get_request(session, request_id).number
    return Response(
        data,
        media_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="request-{number}.zip"',
            "X-Content-SHA256": package.sha256 or "",
        },
    )
