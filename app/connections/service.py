"""The connect flow (OAuth 2.0 authorization code with `state` and PKCE, by authlib), the
stored grant, the choice of Pages, "reconnect needed" and disconnecting.

Where each step goes: the employee is sent to POSTVAULT_META_OAUTH_URL; the code is exchanged
at POSTVAULT_META_TOKEN_URL (default POSTVAULT_META_GRAPH_URL/oauth/access_token); the short
token is exchanged for a long-lived one at the Graph API's oauth/access_token
(`fb_exchange_token`); the Pages come from GET /me/accounts. Tokens are stored encrypted
(EncryptedString), never logged, never in an audit event or an API answer.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from authlib.common.security import generate_token
from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.accounts.models import SocialAccount
from app.audit.service import Actor, record
from app.auth.models import User
from app.config import Settings
from app.connections.models import ConnectAttempt, ConnectionStatus, PlatformConnection
from app.db import utcnow
from app.errors import Invalid, NotFound
from app.platforms.common import Abort
from app.platforms.facebook import PLATFORM as FACEBOOK
from app.platforms.facebook.graph import Graph, graph_error
from app.platforms.fetcher import Fetcher
from app.platforms.http import FetchRefused, ResponseTooLarge
from app.platforms.instagram import PLATFORM as INSTAGRAM
from app.platforms.ratelimit import HostPaused, RequestStats, TransientHTTPError
from app.platforms.registry import registry
from app.platforms.threads import PLATFORM as THREADS
from app.posts.models import FlaggedPost, PostStatus

ATTEMPT_TTL = dt.timedelta(minutes=15)
# What PostVault asks Meta for (docs/platforms.md explains each one and its review).
SCOPES = (
    "pages_show_list",
    "pages_read_engagement",
    "pages_read_user_content",
    "instagram_basic",
    "instagram_manage_comments",
    "business_management",
)
THREADS_SCOPES = ("threads_basic", "threads_read_replies")
CALLBACK_PATH = "/connections/callback"
# Posts past capturing keep their status when a grant lapses.
_SETTLED = (PostStatus.removed, PostStatus.disposed)


@contextmanager
def _meta_answers(what: str) -> Iterator[None]:
    """Meta refusing, throttling or not answering is a sentence for the employee, never a
    500: the collectors' outcomes (Abort, a paused host) become Invalid here."""
    try:
        yield
    except Abort as exc:
        result = exc.result
        reason = getattr(result, "reason", None) or getattr(result, "error", None) or result.kind
        raise Invalid(f"{what}: {reason}") from None
    except (HostPaused, TransientHTTPError) as exc:
        raise Invalid(f"{what}: Meta is not answering now ({exc}); try again later") from None
    except (httpx.HTTPError, FetchRefused, ResponseTooLarge, ValueError) as exc:
        raise Invalid(f"{what}: {type(exc).__name__}") from None


def _hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def _secret(settings: Settings) -> str:
    if not settings.meta_app_id or not settings.meta_app_secret:
        raise Invalid(
            "PostVault has no Meta app configured: an administrator sets POSTVAULT_META_APP_ID "
            "and POSTVAULT_META_APP_SECRET (docs/platforms.md)"
        )
    return settings.meta_app_secret.get_secret_value()


def redirect_uri(settings: Settings) -> str:
    if settings.meta_redirect_uri:
        return settings.meta_redirect_uri
    if settings.public_url:
        return settings.public_url.rstrip("/") + CALLBACK_PATH
    raise Invalid("set POSTVAULT_META_REDIRECT_URI (or POSTVAULT_PUBLIC_URL) to connect accounts")


def start(session: Session, settings: Settings, user: User, platform: str | None = None) -> str:
    """The authorization URL to send the employee to; the attempt is remembered. One grant
    covers Facebook Pages and their Instagram accounts; Threads has its own."""
    platform = THREADS.id if platform == THREADS.id else FACEBOOK.id
    _secret(settings)  # refuse before the employee leaves when no app is configured
    state = generate_token(43)
    verifier = generate_token(64)
    threads = platform == THREADS.id
    url = add_params_to_uri(
        settings.threads_oauth_url if threads else settings.meta_oauth_url,
        [
            ("response_type", "code"),
            ("client_id", settings.meta_app_id or ""),
            ("redirect_uri", redirect_uri(settings)),
            ("scope", " ".join(THREADS_SCOPES if threads else SCOPES)),
            ("state", state),
            ("code_challenge", create_s256_code_challenge(verifier)),
            ("code_challenge_method", "S256"),
        ],
    )
    session.add(
        ConnectAttempt(
            owner_id=user.id, platform=platform, state_hash=_hash(state), code_verifier=verifier
        )
    )
    session.flush()
    return str(url)


def _exchange_code(
    settings: Settings,
    client: httpx.Client,
    code: str,
    verifier: str,
    secret: str,
    token_url: str | None = None,
) -> str:
    """The authorization code, with its PKCE verifier, for the short-lived user token (the
    client is the SSRF-guarded one)."""
    token_url = (
        token_url
        or settings.meta_token_url
        or (settings.meta_graph_url.rstrip("/") + "/oauth/access_token")
    )
    try:
        response = client.post(
            token_url,
            auth=(settings.meta_app_id or "", secret),
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri(settings),
                "code_verifier": verifier,
            },
            headers={"Accept": "application/json"},
        )
        body: Any = response.json() if response.content else {}
    except (httpx.HTTPError, ValueError) as exc:
        raise Invalid(
            f"the connection could not be finished ({type(exc).__name__}): nothing was stored"
        ) from None
    if response.status_code != 200 or not isinstance(body, dict) or "access_token" not in body:
        reason = body.get("error") if isinstance(body, dict) else None
        raise Invalid(
            "Meta refused the connection"
            + (f" ({reason})" if isinstance(reason, str) else f" (HTTP {response.status_code})")
            + ": nothing was stored; start again with Connect"
        )
    return str(body["access_token"])


@dataclass(frozen=True)
class PageChoice:
    page_id: str
    name: str
    username: str | None
    instagram_id: str | None
    instagram_username: str | None


def finish(
    session: Session,
    settings: Settings,
    fetcher: Fetcher,
    user: User,
    *,
    state: str,
    code: str,
) -> PlatformConnection:
    """The callback: the state must be one this employee started (else nothing is stored),
    the code is exchanged (with the PKCE verifier) and made long-lived."""
    now = utcnow()
    session.execute(delete(ConnectAttempt).where(ConnectAttempt.created_at < now - ATTEMPT_TTL))
    attempt = session.scalars(
        select(ConnectAttempt).where(
            ConnectAttempt.state_hash == _hash(state), ConnectAttempt.owner_id == user.id
        )
    ).first()
    if attempt is None:
        raise Invalid(
            "this connection answer does not match a connection you started (wrong or old "
            "state): nothing was stored; start again with Connect"
        )
    verifier = attempt.code_verifier
    session.delete(attempt)
    session.flush()
    secret = _secret(settings)
    if attempt.platform == THREADS.id:
        return _finish_threads(session, settings, fetcher, user, code, verifier, secret, now)
    with fetcher.open_client() as client, _meta_answers("Meta refused the connection"):
        short = _exchange_code(settings, client, code, verifier, secret)
        http = fetcher.session(client, RequestStats())
        body = _post_form(
            client,
            settings.meta_graph_url.rstrip("/") + "/oauth/access_token",
            {
                "grant_type": "fb_exchange_token",
                "client_id": settings.meta_app_id or "",
                "client_secret": secret,
                "fb_exchange_token": short,
            },
            "Meta refused the long-lived token",
        )
        token = str(body["access_token"])
        me = Graph(http, settings.meta_graph_url, token, secret).get("me", {"fields": "id,name"})
    expires_in = body.get("expires_in")
    connection = PlatformConnection(
        owner_id=user.id,
        platform=attempt.platform,
        status=ConnectionStatus.active,
        external_user_id=str(me.get("id") or ""),
        display_name=me.get("name"),
        access_token=token,
        expires_at=now + dt.timedelta(seconds=int(expires_in)) if expires_in else None,
        refreshed_at=now,
    )
    session.add(connection)
    session.flush()
    record(
        session,
        actor=Actor.of(user),
        action="connection.connected",
        object_type="connection",
        object_id=connection.id,
        details={"platform": connection.platform, "expires_at": connection.expires_at},
    )
    return connection


def _post_form(client: httpx.Client, url: str, form: dict[str, str], what: str) -> dict[str, Any]:
    """A token exchange sent as a form body: secrets and tokens never in a URL, so never in
    a request log line."""
    response = client.post(url, data=form, headers={"Accept": "application/json"})
    body: Any = response.json() if response.content else {}
    if response.status_code != 200 or not isinstance(body, dict) or "access_token" not in body:
        raise Invalid(f"{what}: {graph_error(response.status_code, body).message}")
    return body


def _finish_threads(
    session: Session,
    settings: Settings,
    fetcher: Fetcher,
    user: User,
    code: str,
    verifier: str,
    secret: str,
    now: dt.datetime,
) -> PlatformConnection:
    """Threads: the code for a short token at THREADS_GRAPH_URL/oauth/access_token (or the
    token URL setting), a long-lived one (`th_exchange_token`, 60 days, refreshed by the job),
    and the Threads account registered at once (a grant covers one Threads profile)."""
    graph_url = settings.threads_graph_url.rstrip("/")
    with fetcher.open_client() as client, _meta_answers("Threads refused the connection"):
        short = _exchange_code(
            settings,
            client,
            code,
            verifier,
            secret,
            token_url=settings.meta_token_url or f"{graph_url}/oauth/access_token",
        )
        http = fetcher.session(client, RequestStats())
        body = _post_form(
            client,
            f"{graph_url}/access_token",
            {"grant_type": "th_exchange_token", "client_secret": secret, "access_token": short},
            "Threads refused the long-lived token",
        )
        token = str(body["access_token"])
        me = Graph(http, graph_url, token, secret).get("me", {"fields": "id,username"})
    expires_in = body.get("expires_in")
    connection = PlatformConnection(
        owner_id=user.id,
        platform=THREADS.id,
        status=ConnectionStatus.active,
        external_user_id=str(me.get("id") or ""),
        display_name=me.get("username"),
        access_token=token,
        expires_at=now + dt.timedelta(seconds=int(expires_in)) if expires_in else None,
        refreshed_at=now,
    )
    session.add(connection)
    session.flush()
    ref = THREADS.account_from_handle(str(me.get("username") or me.get("id")))
    account = session.scalars(
        select(SocialAccount).where(
            SocialAccount.platform == THREADS.id, SocialAccount.handle == ref.handle
        )
    ).first()
    if account is not None and account.owner_id != user.id:
        raise Invalid(f"the Threads account {ref.handle} is registered by someone else")
    if account is None:
        account = SocialAccount(
            owner_id=user.id, platform=THREADS.id, handle=ref.handle, profile_url=ref.profile_url
        )
        session.add(account)
    account.platform_account_id = str(me.get("id") or "") or None
    account.access_token = token
    account.connection_id = connection.id
    session.flush()
    record(
        session,
        actor=Actor.of(user),
        action="connection.connected",
        object_type="connection",
        object_id=connection.id,
        details={
            "platform": THREADS.id,
            "account": account.id,
            "expires_at": connection.expires_at,
        },
    )
    return connection


def my_connections(session: Session, user: User) -> list[PlatformConnection]:
    return list(
        session.scalars(
            select(PlatformConnection)
            .where(
                PlatformConnection.owner_id == user.id,
                PlatformConnection.status != ConnectionStatus.disconnected,
            )
            .order_by(PlatformConnection.id)
        )
    )


def own_connection(session: Session, user: User, connection_id: int) -> PlatformConnection:
    connection = session.get(PlatformConnection, connection_id)
    if connection is None or connection.owner_id != user.id:
        raise NotFound(f"you have no connection {connection_id}")
    return connection


def _pages(
    settings: Settings, fetcher: Fetcher, connection: PlatformConnection
) -> list[dict[str, Any]]:
    if not connection.access_token:
        raise Invalid("this connection was disconnected: connect again")
    with fetcher.open_client() as client, _meta_answers("Meta did not list the Pages"):
        graph = Graph(
            fetcher.session(client, RequestStats()),
            settings.meta_graph_url,
            connection.access_token,
            _secret(settings),
        )
        items = graph.pages(
            "me/accounts",
            {"fields": "id,name,username,access_token,instagram_business_account{id,username}"},
        )
    return [p for p in items if isinstance(p, dict) and p.get("id")]


def list_pages(
    settings: Settings, fetcher: Fetcher, connection: PlatformConnection
) -> list[PageChoice]:
    """The Pages the grant manages (and each one's Instagram professional account)."""
    choices = []
    for page in _pages(settings, fetcher, connection):
        ig = page.get("instagram_business_account") or {}
        choices.append(
            PageChoice(
                page_id=str(page["id"]),
                name=str(page.get("name") or page["id"]),
                username=page.get("username"),
                instagram_id=ig.get("id"),
                instagram_username=ig.get("username"),
            )
        )
    return choices


def choose_page(
    session: Session,
    settings: Settings,
    fetcher: Fetcher,
    user: User,
    connection: PlatformConnection,
    page_id: str,
) -> list[SocialAccount]:
    """Register the chosen Page (and its Instagram account) as the employee's, captured
    with the Page token."""
    page = next((p for p in _pages(settings, fetcher, connection) if str(p["id"]) == page_id), None)
    if page is None:
        raise Invalid(f"the Page {page_id} is not one this connection manages")
    registered: list[SocialAccount] = []
    wanted = [(FACEBOOK.id, str(page.get("username") or page["id"]).lower(), str(page["id"]))]
    ig = page.get("instagram_business_account") or {}
    if ig.get("id"):
        wanted.append((INSTAGRAM.id, str(ig.get("username") or ig["id"]).lower(), str(ig["id"])))
    for platform_id, handle, external in wanted:
        platform = registry.get(platform_id)
        ref = platform.account_from_handle(handle)
        account = session.scalars(
            select(SocialAccount).where(
                SocialAccount.platform == platform.id, SocialAccount.handle == ref.handle
            )
        ).first()
        if account is not None and account.owner_id != user.id:
            raise Invalid(f"the {platform.name} account {ref.handle} is registered by someone else")
        if account is None:
            account = SocialAccount(
                owner_id=user.id,
                platform=platform.id,
                handle=ref.handle,
                profile_url=ref.profile_url,
            )
            session.add(account)
        account.platform_account_id = external
        account.access_token = str(page.get("access_token") or connection.access_token)
        account.connection_id = connection.id
        registered.append(account)
    session.flush()
    for account in registered:
        record(
            session,
            actor=Actor.of(user),
            action="connection.account_registered",
            object_type="account",
            object_id=account.id,
            details={
                "platform": account.platform,
                "handle": account.handle,
                "connection": connection.id,
            },
        )
    return registered


def grant_lapsed(session: Session, account: SocialAccount, reason: str, *, actor: Actor) -> None:
    """A capture found the grant expired or revoked: the connection and every live post of
    its accounts show "reconnect needed" (the employee's pages and the notices read it)."""
    if account.connection_id is None:
        return
    connection = session.get(PlatformConnection, account.connection_id)
    if connection is None or connection.status != ConnectionStatus.active:
        return
    _mark_lapsed(session, connection, reason, actor=actor)


def _mark_lapsed(
    session: Session, connection: PlatformConnection, reason: str, *, actor: Actor
) -> None:
    connection.status = ConnectionStatus.reconnect_needed
    connection.last_error = reason[:1024]
    account_ids = select(SocialAccount.id).where(SocialAccount.connection_id == connection.id)
    for post in session.scalars(
        select(FlaggedPost).where(
            FlaggedPost.account_id.in_(account_ids),
            FlaggedPost.status.not_in(_SETTLED),
        )
    ):
        post.status = PostStatus.reconnect_needed
        post.last_error = reason[:1024]
    record(
        session,
        actor=actor,
        action="connection.reconnect_needed",
        object_type="connection",
        object_id=connection.id,
        details={"reason": reason},
    )


def refresh_threads_tokens(
    session: Session, settings: Settings, fetcher: Fetcher, *, now: dt.datetime | None = None
) -> int:
    """The job: Threads tokens (60 days, refreshable once a day old) are refreshed when they
    lapse within POSTVAULT_THREADS_REFRESH_DAYS_BEFORE days; one already lapsed, or refused,
    turns to "reconnect needed". Run twice, it refreshes nothing the second time. Returns the
    number refreshed."""
    now = now or utcnow()
    horizon = now + dt.timedelta(days=settings.threads_refresh_days_before)
    actor = Actor.system("threads-token-refresh")
    refreshed = 0
    due = session.scalars(
        select(PlatformConnection).where(
            PlatformConnection.platform == THREADS.id,
            PlatformConnection.status == ConnectionStatus.active,
            PlatformConnection.expires_at <= horizon,
        )
    ).all()
    if not due:
        return 0
    secret = _secret(settings)
    with fetcher.open_client() as client:
        http = fetcher.session(client, RequestStats())
        for connection in due:
            token = connection.access_token
            expires_at = connection.expires_at
            if not token or (expires_at is not None and expires_at <= now):
                _mark_lapsed(session, connection, "the Threads token lapsed", actor=actor)
                continue
            graph = Graph(http, settings.threads_graph_url, token, secret)
            status, body, _ = graph.call("refresh_access_token", {"grant_type": "th_refresh_token"})
            if status != 200 or not isinstance(body, dict) or "access_token" not in body:
                message = graph_error(status, body).message
                _mark_lapsed(
                    session, connection, f"Threads refused the refresh: {message}", actor=actor
                )
                continue
            connection.access_token = str(body["access_token"])
            connection.expires_at = now + dt.timedelta(seconds=int(body.get("expires_in") or 0))
            connection.refreshed_at = now
            for account in session.scalars(
                select(SocialAccount).where(SocialAccount.connection_id == connection.id)
            ):
                account.access_token = connection.access_token
            record(
                session,
                actor=actor,
                action="connection.refreshed",
                object_type="connection",
                object_id=connection.id,
                details={"expires_at": connection.expires_at},
            )
            refreshed += 1
    session.flush()
    return refreshed


def disconnect(session: Session, user: User, connection: PlatformConnection) -> None:
    """Delete the tokens; the accounts and every archived version stay."""
    connection.access_token = None
    connection.status = ConnectionStatus.disconnected
    for account in session.scalars(
        select(SocialAccount).where(SocialAccount.connection_id == connection.id)
    ):
        account.access_token = None
    record(
        session,
        actor=Actor.of(user),
        action="connection.disconnected",
        object_type="connection",
        object_id=connection.id,
        details={"platform": connection.platform},
    )
    session.flush()


def grant_of(session: Session, account: SocialAccount) -> PlatformConnection | None:
    """Whose grant captures this account and until when (the officer's post page)."""
    if account.connection_id is None:
        return None
    return session.get(PlatformConnection, account.connection_id)
