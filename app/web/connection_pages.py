"""The connect flow's pages: Connect (POST, sends the employee to Meta), the callback, the
choice of Pages, disconnecting. Thin: each calls one service function."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from app.bounds import DbId
from app.connections import service
from app.db import SessionDep
from app.errors import DomainError
from app.platforms.facebook import PLATFORM as FACEBOOK
from app.platforms.fetcher import Fetcher
from app.web.deps import PageUser, check_csrf
from app.web.rendering import error_page, render, see_other

router = APIRouter(dependencies=[Depends(check_csrf)], include_in_schema=False)


def _fetcher(request: Request) -> Fetcher:
    return Fetcher.from_settings(request.app.state.settings)


# A link, not a form: the page's CSP (form-action 'self') stops a form's redirect to Meta. It
# only remembers a new attempt and sends the employee to Meta; the state ties the answer to
# them, so a forged link gains nobody anything.
@router.get("/connections/start")
def connect(
    request: Request,
    user: PageUser,
    session: SessionDep,
    platform: str | None = Query(None, max_length=16),
) -> Response:
    try:
        url = service.start(session, request.app.state.settings, user, platform)
    except DomainError as exc:
        session.rollback()
        return error_page(request, exc.status_code, exc.message)
    return RedirectResponse(url, status_code=303)


@router.get("/connections/callback")
def callback(
    request: Request,
    user: PageUser,
    session: SessionDep,
    state: str = Query("", max_length=512),
    code: str = Query("", max_length=4096),
    error: str | None = Query(None, max_length=256),
) -> Response:
    if error:
        return error_page(request, 422, f"The connection was not made: Meta answered “{error}”.")
    try:
        connection = service.finish(
            session, request.app.state.settings, _fetcher(request), user, state=state, code=code
        )
    except DomainError as exc:
        session.rollback()
        return error_page(request, exc.status_code, exc.message)
    if connection.platform != FACEBOOK.id:  # a Threads grant names its one profile
        return see_other("/accounts?done=connected")
    return see_other(f"/connections/{connection.id}")


@router.get("/connections/{connection_id}")
def choose_page(
    request: Request, connection_id: DbId, user: PageUser, session: SessionDep
) -> Response:
    try:
        connection = service.own_connection(session, user, connection_id)
        pages = service.list_pages(request.app.state.settings, _fetcher(request), connection)
    except DomainError as exc:
        return error_page(request, exc.status_code, exc.message)
    return render(request, "connection.html", user=user, connection=connection, pages=pages)


@router.post("/connections/{connection_id}/pages")
def register_page(
    request: Request,
    connection_id: DbId,
    user: PageUser,
    session: SessionDep,
    page_id: str = Form("", max_length=64),
) -> Response:
    try:
        connection = service.own_connection(session, user, connection_id)
        service.choose_page(
            session, request.app.state.settings, _fetcher(request), user, connection, page_id
        )
    except DomainError as exc:
        session.rollback()
        return error_page(request, exc.status_code, exc.message)
    return see_other("/accounts?done=connected")


@router.post("/connections/{connection_id}/disconnect")
def disconnect(
    request: Request, connection_id: DbId, user: PageUser, session: SessionDep
) -> Response:
    try:
        connection = service.own_connection(session, user, connection_id)
        service.disconnect(session, user, connection)
    except DomainError as exc:
        session.rollback()
        return error_page(request, exc.status_code, exc.message)
    return see_other("/accounts?done=disconnected")
