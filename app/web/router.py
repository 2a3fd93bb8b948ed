"""The web pages. Thin like the API routes: read the form, call one service function, and
show a domain error as a sentence next to the field it is about."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlalchemy.orm import Session

from app.accounts import service as accounts_service
from app.audit.service import Actor
from app.auth import service as auth_service
from app.auth.models import Role, User
from app.bounds import DbId
from app.collectors import service as capture_service
from app.connections import service as connections_service
from app.db import SessionDep
from app.errors import DomainError, Forbidden, Invalid, NotFound
from app.platforms.fetcher import Fetcher
from app.platforms.registry import registry
from app.posts import service as posts_service
from app.posts.models import PostStatus
from app.posts.schemas import NOTE_MAX_LENGTH
from app.web import service
from app.web.deps import AdminPageUser, OfficerPageUser, PageUser, check_csrf, safe_next
from app.web.forms import refusal_of
from app.web.rendering import render, see_other
from app.web.security import WebSession

router = APIRouter(dependencies=[Depends(check_csrf)], include_in_schema=False)

PAGE_SIZE = 50
STATUSES = [s.value for s in PostStatus]

DONE = {
    "registered": "The account is registered. You can now flag its posts.",
    "connected": "The account is connected. You can now flag its posts.",
    "disconnected": "Disconnected: the token is deleted; what was archived stays.",
    "already-registered": "That account was already registered to you.",
    "removed": "The account is removed.",
    "flagged": "The post is flagged. PostVault will capture it in a moment.",
    "already-flagged": "That post was already flagged; here it is.",
    "user-created": "The user is created.",
    "password-set": "The password is set.",
    "deactivated": "The user is deactivated: their sign-ins and API tokens no longer work.",
    "role-set": "The role is changed; the user signs in again to see it.",
    "token-revoked": "The API token is revoked; it no longer works.",
    "captured": "PostVault captured the post again and kept the new version.",
    "unchanged": "PostVault checked the post: nothing changed since the last capture.",
    "gone": "The post is gone from the platform; what was captured is kept.",
    "later": "The platform asked PostVault to wait; it tries again later by itself.",
}
# What a "Capture now" found, as the notice shown on the post page afterwards.
CAPTURE_DONE = {
    "new_version": "captured",
    "unchanged": "unchanged",
    "removed": "gone",
    "rate_limited": "later",
    "skipped": "unchanged",
}


def sentence(message: str) -> str:
    """A service message as a sentence for people using pages, not the API."""
    message = message.replace("(POST /api/v1/accounts)", "on the My accounts page")
    message = message.replace("say which with account_id", "choose which under Account")
    message = message[:1].upper() + message[1:]
    return message if message.endswith((".", "!", "?")) else message + "."


def _done(done: str | None) -> str | None:
    return DONE.get(done or "")


@router.get("/")
def home(user: PageUser) -> Response:
    return see_other("/officer" if user.is_officer else "/flag")


# --- sign-in ----------------------------------------------------------------------------


@router.get("/login")
def login_page(request: Request, next_path: str | None = Query(None, alias="next")) -> Response:
    if getattr(request.state, "web_user_id", None) is not None:
        return see_other(safe_next(next_path))
    signed_out = request.query_params.get("signed_out") == "1"
    return render(
        request,
        "login.html",
        user=None,
        next_path=safe_next(next_path),
        email="",
        error=None,
        signed_out=signed_out,
    )


@router.post("/login")
def login(
    request: Request,
    session: SessionDep,
    email: str = Form(""),
    password: str = Form(""),
    next_path: str = Form("/", alias="next"),
) -> Response:
    settings = request.app.state.settings
    if not settings.local_login_enabled:
        return render(
            request,
            "login.html",
            user=None,
            status_code=403,
            next_path=safe_next(next_path),
            email=email,
            error=None,
            sso_error=f"Passwords are turned off here: sign in with {settings.oidc_provider_name}.",
            signed_out=False,
        )
    try:
        user = auth_service.sign_in(
            session,
            email=email,
            password=password,
            ip=request.client.host if request.client else "unknown",
            max_attempts=settings.login_max_attempts,
            email_max_attempts=settings.login_email_max_attempts,
        )
    except DomainError as exc:
        # No rollback: the failed attempt must be saved to count towards the limit.
        return render(
            request,
            "login.html",
            user=None,
            status_code=exc.status_code,
            next_path=safe_next(next_path),
            email=email,
            error=sentence(exc.message),
            signed_out=False,
        )
    request.state.web_session = _new_session(request, session, user)
    return see_other(safe_next(next_path))


def _new_session(request: Request, session: Session, user: User) -> WebSession:
    settings = request.app.state.settings
    key = auth_service.start_session(
        session,
        user=user,
        ip=request.client.host if request.client else "unknown",
        lifetime=dt.timedelta(hours=settings.session_max_age_hours),
    )
    return WebSession.signed_in(user.id, key)


@router.post("/logout")
def logout(request: Request, session: SessionDep) -> Response:
    current = getattr(request.state, "web_session", None)
    if isinstance(current, WebSession) and current.key and current.user_id is not None:
        user = session.get(User, current.user_id)
        if user is not None:
            auth_service.end_session(session, key=current.key, actor=Actor.of(user))
    request.state.web_session = WebSession.anonymous()
    from app.web.sso_pages import SSO_COOKIE, sign_out_redirect

    response = see_other(sign_out_redirect(request) or "/login?signed_out=1")
    response.delete_cookie(SSO_COOKIE, path="/")
    return response


# --- My accounts --------------------------------------------------------------------------


def _accounts_page(
    request: Request,
    session: Session,
    user: User,
    *,
    status_code: int = 200,
    done: str | None = None,
    form: dict[str, str] | None = None,
    error: str | None = None,
    remove_error: tuple[int, str] | None = None,
) -> HTMLResponse:
    return render(
        request,
        "accounts.html",
        user=user,
        status_code=status_code,
        accounts=service.my_accounts(session, owner=user),
        connections=connections_service.my_connections(session, user),
        platforms=registry.ids(),
        done=_done(done),
        form=form or {"platform": "", "account": ""},
        error=error,
        remove_error=remove_error,
    )


@router.get("/accounts")
def accounts_page(
    request: Request, user: PageUser, session: SessionDep, done: str | None = None
) -> Response:
    return _accounts_page(request, session, user, done=done)


@router.post("/accounts")
def register_account(
    request: Request,
    user: PageUser,
    session: SessionDep,
    platform: str = Form(""),
    account: str = Form(""),
) -> Response:
    form = {"platform": platform, "account": account}
    try:
        if not account.strip():
            raise Invalid("type your handle, or paste the link to your profile")
        fetcher = Fetcher.from_settings(request.app.state.settings)
        if platform and "://" not in account:
            _row, created = accounts_service.register_account(
                session, owner=user, platform=platform, handle=account, fetcher=fetcher
            )
        else:  # a link: with a platform chosen when the link alone cannot tell
            _row, created = accounts_service.register_account(
                session,
                owner=user,
                platform=platform or None,
                profile_url=account.strip(),
                fetcher=fetcher,
            )
    except DomainError as exc:
        session.rollback()
        return _accounts_page(
            request,
            session,
            user,
            status_code=exc.status_code,
            form=form,
            error=sentence(exc.message),
        )
    return see_other(f"/accounts?done={'registered' if created else 'already-registered'}")


@router.post("/accounts/{account_id}/remove")
def remove_account(
    request: Request, account_id: DbId, user: PageUser, session: SessionDep
) -> Response:
    with refusal_of(session, not_found_raises=True) as refused:
        accounts_service.remove_account(session, viewer=user, account_id=account_id)
    if (exc := refused.error) is not None:
        return _accounts_page(
            request,
            session,
            user,
            status_code=exc.status_code,
            remove_error=(account_id, sentence(exc.message)),
        )
    return see_other("/accounts?done=removed")


# --- Flag a post --------------------------------------------------------------------------


def _flag_page(
    request: Request,
    session: Session,
    user: User,
    *,
    form: dict[str, str],
    status_code: int = 200,
    errors: dict[str, str] | None = None,
) -> HTMLResponse:
    base = str(request.base_url).rstrip("/")
    return render(
        request,
        "flag.html",
        user=user,
        status_code=status_code,
        form=form,
        errors=errors or {},
        accounts=service.my_accounts(session, owner=user),
        note_max=NOTE_MAX_LENGTH,
        bookmarklet=(
            "javascript:(function(){window.open('"
            + base
            + "/flag?url='+encodeURIComponent(location.href),'_blank','noopener');})();"
        ),
    )


@router.get("/flag")
def flag_page(
    request: Request,
    user: PageUser,
    session: SessionDep,
    url: str | None = None,
    text: str | None = None,
    title: str | None = None,
) -> Response:
    """The form, filled in from a bookmarklet (`url`) or a phone's share sheet (`url`,
    `text`, `title`: the link may be in any of them). Flagging itself is always a POST."""
    shared = service.first_url(url, text, title)
    return _flag_page(request, session, user, form={"url": shared, "note": "", "account_id": ""})


@router.post("/flag")
def flag_post(
    request: Request,
    user: PageUser,
    session: SessionDep,
    url: str = Form(""),
    note: str = Form(""),
    account_id: str = Form(""),
) -> Response:
    form = {"url": url, "note": note, "account_id": account_id}
    if len(note) > NOTE_MAX_LENGTH:
        return _flag_page(
            request,
            session,
            user,
            form=form,
            status_code=422,
            errors={"note": f"A note has at most {NOTE_MAX_LENGTH} characters."},
        )
    if account_id and not account_id.isdigit():
        return _flag_page(
            request,
            session,
            user,
            form=form,
            status_code=422,
            errors={"account_id": "Choose one of your accounts from the list."},
        )
    with refusal_of(session) as refused:
        post, created = posts_service.flag_post(
            session,
            user=user,
            url=url,
            note=note,
            account_id=int(account_id) if account_id else None,
            fetcher=Fetcher.from_settings(request.app.state.settings),
        )
    if (exc := refused.error) is not None:
        return _flag_page(
            request,
            session,
            user,
            form=form,
            status_code=exc.status_code,
            errors={"url": sentence(exc.message)},
        )
    return see_other(f"/posts/{post.id}?done={'flagged' if created else 'already-flagged'}")


@router.get("/manifest.webmanifest")
def manifest() -> Response:
    """Installed on a phone, PostVault appears in the share sheet; sharing a post opens
    /flag with the post's link filled in (the Web Share Target API)."""
    body: dict[str, Any] = {
        "name": "PostVault",
        "short_name": "PostVault",
        "description": "Flag your posts about city business so they are kept as public records.",
        "start_url": "/flag",
        "scope": "/",
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": "#1d3557",
        "icons": [
            {"src": "/static/icon-192.png", "sizes": "192x192", "type": "image/png"},
            {"src": "/static/icon-512.png", "sizes": "512x512", "type": "image/png"},
            {
                "src": "/static/icon-512.png",
                "sizes": "512x512",
                "type": "image/png",
                "purpose": "maskable",
            },
        ],
        "share_target": {
            "action": "/flag",
            "method": "GET",
            "params": {"title": "title", "text": "text", "url": "url"},
        },
    }
    return JSONResponse(body, media_type="application/manifest+json")


# --- My posts -----------------------------------------------------------------------------


def _status_filter(status: str | None) -> str | None:
    return status if status in STATUSES else None


def _posts_list_page(
    request: Request,
    session: Session,
    user: User,
    *,
    everyone: bool,
    status: str | None,
    page: int,
) -> Response:
    """The list of flagged posts: an employee's own ("My posts") or, for records officers,
    every employee's ("All flagged posts"); one page, one template."""
    chosen = _status_filter(status)
    offset = (page - 1) * PAGE_SIZE
    if everyone:
        posts, total = service.all_posts(
            session, viewer=user, status=chosen, limit=PAGE_SIZE, offset=offset
        )
    else:
        posts, total = service.my_posts(
            session, owner=user, status=chosen, limit=PAGE_SIZE, offset=offset
        )
    return render(
        request,
        "posts.html",
        user=user,
        posts=posts,
        total=total,
        page=page,
        pages=max(1, -(-total // PAGE_SIZE)),
        status=chosen,
        statuses=STATUSES,
        heading="All flagged posts" if everyone else "My posts",
        base_path="/officer/posts" if everyone else "/posts",
    )


@router.get("/posts")
def posts_page(
    request: Request,
    user: PageUser,
    session: SessionDep,
    status: str | None = None,
    page: int = Query(1, ge=1, le=100_000),
) -> Response:
    return _posts_list_page(request, session, user, everyone=False, status=status, page=page)


def _post_page(
    request: Request,
    session: Session,
    user: User,
    post_id: DbId,
    *,
    done: str | None = None,
    capture_error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    view = service.post_page(session, viewer=user, post_id=post_id)
    return render(
        request,
        "post.html",
        user=user,
        status_code=status_code,
        view=view,
        grant=connections_service.grant_of(session, view.account),
        done=_done(done),
        capture_error=capture_error,
    )


@router.get("/posts/{post_id}")
def post_page(
    request: Request, post_id: DbId, user: PageUser, session: SessionDep, done: str | None = None
) -> Response:
    return _post_page(request, session, user, post_id, done=done)


@router.post("/posts/{post_id}/capture")
def capture_now(request: Request, post_id: DbId, user: PageUser, session: SessionDep) -> Response:
    """Capture the post at once, outside its schedule (the owner or an officer)."""
    posts_service.get_post(session, viewer=user, post_id=post_id)  # 404 for anyone else
    # The capture writes in its own transactions; this one must not hold the post meanwhile.
    session.commit()
    try:
        report = capture_service.capture_now(request.app.state.capture_context(), post_id)
    except DomainError as exc:
        return _post_page(
            request,
            session,
            user,
            post_id,
            capture_error=sentence(exc.message),
            status_code=exc.status_code,
        )
    if report.outcome in CAPTURE_DONE:
        return see_other(f"/posts/{post_id}?done={CAPTURE_DONE[report.outcome]}")
    why = report.detail or report.outcome.replace("_", " ")
    session.expire_all()  # the capture changed the post in another session
    return _post_page(
        request,
        session,
        user,
        post_id,
        capture_error=sentence(f"the capture did not succeed: {why}. PostVault tries again later"),
    )


# --- Records officers ---------------------------------------------------------------------


@router.get("/officer")
def dashboard_page(request: Request, user: OfficerPageUser, session: SessionDep) -> Response:
    board = service.dashboard(session, settings=request.app.state.settings)
    return render(request, "dashboard.html", user=user, board=board)


@router.get("/officer/posts")
def officer_posts_page(
    request: Request,
    user: OfficerPageUser,
    session: SessionDep,
    status: str | None = None,
    page: int = Query(1, ge=1, le=100_000),
) -> Response:
    return _posts_list_page(request, session, user, everyone=True, status=status, page=page)


# --- Admin: users -------------------------------------------------------------------------


def _users_page(
    request: Request,
    session: Session,
    user: User,
    *,
    status_code: int = 200,
    done: str | None = None,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    password_error: tuple[int, str] | None = None,
) -> HTMLResponse:
    return render(
        request,
        "users.html",
        user=user,
        status_code=status_code,
        users=auth_service.list_users(session),
        tokens={
            person.id: auth_service.list_tokens(session, user=person)
            for person in auth_service.list_users(session)
        },
        roles=[r.value for r in Role],
        done=_done(done),
        form=form or {"email": "", "name": "", "role": Role.employee.value},
        errors=errors or {},
        password_error=password_error,
    )


@router.get("/admin/users")
def users_page(
    request: Request, user: AdminPageUser, session: SessionDep, done: str | None = None
) -> Response:
    return _users_page(request, session, user, done=done)


def _field_of(message: str) -> str:
    lowered = message.lower()
    for name in ("password", "email", "role", "name"):
        if name in lowered:
            return name
    return "email"


@router.post("/admin/users")
def create_user(
    request: Request,
    user: AdminPageUser,
    session: SessionDep,
    email: str = Form(""),
    name: str = Form(""),
    role: str = Form(Role.employee.value),
    password: str = Form(""),
) -> Response:
    form = {"email": email, "name": name, "role": role}
    with refusal_of(session) as refused:
        service.create_user_with_password(
            session, actor=Actor.of(user), email=email, name=name, role=role, password=password
        )
    if (exc := refused.error) is not None:
        return _users_page(
            request,
            session,
            user,
            status_code=exc.status_code,
            form=form,
            errors={_field_of(exc.message): sentence(exc.message)},
        )
    return see_other("/admin/users?done=user-created")


@router.post("/admin/users/{user_id}/password")
def reset_password(
    request: Request,
    user_id: DbId,
    user: AdminPageUser,
    session: SessionDep,
    password: str = Form(""),
) -> Response:
    target = session.get(User, user_id)
    if target is None:
        raise NotFound(f"no user {user_id}")
    with refusal_of(session) as refused:
        auth_service.set_password(session, user=target, password=password, actor=Actor.of(user))
    if (exc := refused.error) is not None:
        return _users_page(
            request,
            session,
            user,
            status_code=exc.status_code,
            password_error=(user_id, sentence(exc.message)),
        )
    if target.id == user.id:
        # A new password ends the old sessions, this one included: start a fresh one.
        request.state.web_session = _new_session(request, session, user)
    return see_other("/admin/users?done=password-set")


def _target_user(session: Session, user_id: DbId) -> User:
    target = session.get(User, user_id) if 1 <= user_id <= 2**31 - 1 else None
    if target is None:
        raise NotFound(f"no user {user_id}")
    return target


@router.post("/admin/users/{user_id}/deactivate")
def deactivate_user(user_id: DbId, user: AdminPageUser, session: SessionDep) -> Response:
    target = _target_user(session, user_id)
    if target.id == user.id:
        raise Forbidden("You cannot deactivate yourself; ask another administrator.")
    auth_service.deactivate_user(session, user=target, actor=Actor.of(user))
    return see_other("/admin/users?done=deactivated")


@router.post("/admin/users/{user_id}/role")
def set_role(
    user_id: DbId, user: AdminPageUser, session: SessionDep, role: str = Form("")
) -> Response:
    target = _target_user(session, user_id)
    auth_service.set_role(session, user=target, role=role, actor=Actor.of(user))
    return see_other("/admin/users?done=role-set")


@router.post("/admin/tokens/{token_id}/revoke")
def revoke_token(token_id: DbId, user: AdminPageUser, session: SessionDep) -> Response:
    if not 1 <= token_id <= 2**31 - 1:
        raise NotFound(f"no API token {token_id}")
    token = auth_service.get_token(session, token_id)
    auth_service.revoke_token(session, token=token, actor=Actor.of(user))
    return see_other("/admin/users?done=token-revoked")
