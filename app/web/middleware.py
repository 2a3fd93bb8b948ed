"""The web session middleware: who is signed in, and the cookie that says so.

Pages get `request.state.web_session` (always; an anonymous one with a fresh CSRF token when
the visitor has none) and `request.state.web_user_id` when signed in. On `/api/...` only GET
and HEAD requests learn `web_user_id` from the cookie, so a page can link to an API download
(a PDF snapshot) while every state-changing API call still needs a bearer token: a cookie
riding along on a cross-site POST can change nothing.
"""

from __future__ import annotations

import dataclasses

import anyio.to_thread
from starlette.datastructures import MutableHeaders
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.auth.service import session_user_id
from app.db import Database
from app.web.security import COOKIE_NAME, SessionCodec, WebSession

NOT_PAGES = ("/api/", "/static/", "/healthz", "/metrics", "/docs", "/redoc", "/openapi.json")
_SAFE_METHODS = ("GET", "HEAD")

# Pages hold CSRF tokens and personal data: never cached, never framed, no inline script.
PAGE_HEADERS = {
    "cache-control": "no-store",
    "content-security-policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
}


def is_page_path(path: str) -> bool:
    return not path.startswith(NOT_PAGES)


class WebSessionMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        codec: SessionCodec,
        database: Database,
        secure_cookies: bool = False,
    ) -> None:
        self.app = app
        self.codec = codec
        self.database = database
        # Behind a TLS-terminating proxy the ASGI scheme is http: the public URL decides.
        self.secure_cookies = secure_cookies

    def _user_of(self, key: str) -> int | None:
        """The active user of a live session row (ended, expired or unknown: None)."""
        with self.database.session() as db:
            return session_user_id(db, key)

    def _cookie(self, scope: Scope) -> WebSession | None:
        for name, value in scope.get("headers", ()):
            if name == b"cookie":
                raw = cookie_parser(value.decode("latin-1")).get(COOKIE_NAME)
                return self.codec.loads(raw) if raw else None
        return None

    def set_cookie_header(self, session: WebSession, *, secure: bool) -> str:
        parts = [
            f"{COOKIE_NAME}={self.codec.dumps(session)}",
            "Path=/",
            f"Max-Age={self.codec.max_age_seconds}",
            "HttpOnly",
            "SameSite=Lax",
        ]
        if secure:
            parts.append("Secure")
        return "; ".join(parts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        page = is_page_path(path)
        api_read = path.startswith("/api/") and scope["method"] in _SAFE_METHODS
        if not page and not api_read:
            await self.app(scope, receive, send)
            return

        session = self._cookie(scope)
        if session is not None and session.key is not None:
            user_id = await anyio.to_thread.run_sync(self._user_of, session.key)
            # An ended session's cookie is replaced by an anonymous one.
            session = None if user_id is None else dataclasses.replace(session, user_id=user_id)
        state = scope.setdefault("state", {})
        if session is not None and session.user_id is not None:
            state["web_user_id"] = session.user_id
        if not page:
            await self.app(scope, receive, send)
            return

        sent_session = session
        state["web_session"] = session or WebSession.anonymous()
        secure = self.secure_cookies or scope.get("scheme") == "https"

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                current = state.get("web_session")
                # Written only when new or changed (a first visit, sign-in, sign-out), so
                # ordinary pages carry no Set-Cookie.
                if isinstance(current, WebSession) and current != sent_session:
                    headers.append("set-cookie", self.set_cookie_header(current, secure=secure))
                for name, value in PAGE_HEADERS.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_cookie)
