"""Page dependencies: the signed-in user, their role, and the CSRF check on every form."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request

from app.auth.models import Role, User
from app.db import SessionDep
from app.errors import Forbidden
from app.web.security import CSRF_FIELD, WebSession

CSRF_FAILED = (
    "This form was not sent from a PostVault page you opened, or the page is too old. "
    "Go back, reload the page and send the form again."
)


class SignInRequired(Exception):
    """The page needs a signed-in user; answered with a redirect to the sign-in page."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


def web_session(request: Request) -> WebSession:
    session = getattr(request.state, "web_session", None)
    if not isinstance(session, WebSession):
        raise Forbidden(CSRF_FAILED)
    return session


async def check_csrf(request: Request) -> None:
    """Every non-GET request to a page must carry the session's CSRF token in its form."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    session = web_session(request)
    content_type = request.headers.get("content-type", "")
    sent: object = None
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        sent = form.get(CSRF_FIELD)
    if not session.csrf_matches(sent):
        raise Forbidden(CSRF_FAILED)


def safe_next(target: str | None) -> str:
    """A local path to go to after sign-in; anything else (another site, //host) goes home."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return "/"


def page_user(request: Request, session: SessionDep) -> User:
    web = web_session(request)
    user = session.get(User, web.user_id) if web.user_id is not None else None
    if user is None or not user.is_active:
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInRequired(path)
    return user


PageUser = Annotated[User, Depends(page_user)]


def officer_page_user(user: PageUser) -> User:
    if not user.is_officer:
        raise Forbidden("This page is for records officers.")
    return user


OfficerPageUser = Annotated[User, Depends(officer_page_user)]


def admin_page_user(user: PageUser) -> User:
    if user.role != Role.admin:
        raise Forbidden("This page is for administrators.")
    return user


AdminPageUser = Annotated[User, Depends(admin_page_user)]


def login_url(next_path: str) -> str:
    return "/login" if next_path in ("", "/") else f"/login?next={quote(next_path, safe='')}"
