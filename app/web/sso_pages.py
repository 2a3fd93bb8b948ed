"""Sign-in with the city's identity provider (OpenID Connect): the pages' side of
app/auth/oidc.py. Thin: start the flow, or finish it and open a PostVault session."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from app.auth import identities
from app.auth.oidc import PENDING_COOKIE, PENDING_MAX_AGE_SECONDS, OidcClient, is_configured
from app.db import SessionDep
from app.errors import DomainError, NotFound
from app.web.deps import safe_next
from app.web.rendering import render, see_other
from app.web.router import _new_session, sentence
from app.web.security import load_secret_key

router = APIRouter(include_in_schema=False)
CALLBACK_PATH = "/login/oidc/callback"
SSO_COOKIE = "pv_sso"  # the sign-in came through the provider: sign-out goes there too


def oidc_client(request: Request) -> OidcClient:
    settings = request.app.state.settings
    if not is_configured(settings):
        raise NotFound("single sign-on is not set up on this PostVault")
    client: OidcClient | None = getattr(request.app.state, "oidc_client", None)
    if client is None:
        client = OidcClient(settings, load_secret_key(settings))
        request.app.state.oidc_client = client
    return client


def base_url(request: Request) -> str:
    settings = request.app.state.settings
    return (settings.public_url or str(request.base_url)).rstrip("/")


def _secure(request: Request) -> bool:
    return base_url(request).startswith("https://")


def _login_error(request: Request, status_code: int, message: str) -> Response:
    response = render(
        request,
        "login.html",
        user=None,
        status_code=status_code,
        next_path="/",
        email="",
        error=None,
        sso_error=sentence(message),
        signed_out=False,
    )
    response.delete_cookie(PENDING_COOKIE, path="/login/oidc")
    return response


@router.get("/login/oidc")
def start_sign_in(request: Request, next_path: str | None = None) -> Response:
    client = oidc_client(request)
    try:
        url, cookie = client.begin(
            redirect_uri=base_url(request) + CALLBACK_PATH, next_path=safe_next(next_path)
        )
    except DomainError as exc:
        return _login_error(request, 503, exc.message)
    response = see_other(url)
    response.set_cookie(
        PENDING_COOKIE,
        cookie,
        max_age=PENDING_MAX_AGE_SECONDS,
        path="/login/oidc",
        httponly=True,
        samesite="lax",
        secure=_secure(request),
    )
    return response


def _finish(request: Request, session: Session, code: str, state: str) -> Response:
    client = oidc_client(request)
    pending = client.pending(request.cookies.get(PENDING_COOKIE))
    claims, _id_token = client.finish(
        pending=pending, state=state, code=code, redirect_uri=base_url(request) + CALLBACK_PATH
    )
    user = identities.user_for_sign_in(session, claims=claims, settings=request.app.state.settings)
    request.state.web_session = _new_session(request, session, user)
    response = see_other(safe_next(pending.next_path))
    response.delete_cookie(PENDING_COOKIE, path="/login/oidc")
    response.set_cookie(
        SSO_COOKIE, "1", path="/", httponly=True, samesite="lax", secure=_secure(request)
    )
    return response


@router.get(CALLBACK_PATH)
def finish_sign_in(
    request: Request,
    session: SessionDep,
    code: str = "",
    state: str = "",
    error: str = "",
    error_description: str = "",
) -> Response:
    if error:
        return _login_error(
            request, 400, f"the sign-in provider said: {error_description or error}"
        )
    try:
        return _finish(request, session, code, state)
    except DomainError as exc:
        session.rollback()
        return _login_error(request, exc.status_code, exc.message)


def sign_out_redirect(request: Request) -> str | None:
    """Where sign-out continues: the provider's end-session page when the person signed in
    through it (and it has one), so the provider's session ends too."""
    if request.cookies.get(SSO_COOKIE) != "1" or not is_configured(request.app.state.settings):
        return None
    try:
        return oidc_client(request).end_session_url(
            id_token=None, post_logout_redirect_uri=base_url(request) + "/login?signed_out=1"
        )
    except DomainError:
        return None
