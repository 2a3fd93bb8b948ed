"""ASGI middleware every response and request goes through.

`SecurityHeadersMiddleware`: `nosniff`, `X-Frame-Options: DENY` and `frame-ancestors 'none'`
on every response (API JSON, PDFs and ZIP downloads too), whatever route made it. One address
alone, `REPLAY_FRAME_PATH`, may be framed, and only by pages of PostVault's own origin.

`InputGuardMiddleware`: a NUL character in the path, the query or a JSON/form body is a 422
before any route runs. PostgreSQL cannot store NUL in text and SQLite's full-text search
treats it as the end of the query, so on either database it would be a server error.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl, unquote_to_bytes

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

FRAME_ANCESTORS = "frame-ancestors 'none'"
# The officer's replay page (app/web/evidence_pages.py) runs ReplayWeb.page, which opens its
# frame at this address (its `replayBase`) as soon as its service worker is registered. That
# first load usually comes from the server, before the worker controls the frame; the replay
# script then sees no worker in the frame and reloads it, and the worker answers from then on.
# Refused as a frame (DENY), the first load becomes a cross-origin error page the script can
# neither inspect nor reload, and the replay never starts. So this exact path, and nothing else
# (not the scripts beside it, not the replay page itself), may be framed by the same origin.
REPLAY_FRAME_PATH = "/static/replay/"
SAME_ORIGIN_FRAMED_PATHS = frozenset({REPLAY_FRAME_PATH})
SAME_ORIGIN_FRAME_ANCESTORS = "frame-ancestors 'self'"
NUL_MESSAGE = "text in a request may not contain NUL characters (U+0000)"
# Bodies bigger than this are not inspected here (none of the API's JSON bodies comes near).
_MAX_INSPECTED = 4 * 1024 * 1024


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["x-content-type-options"] = "nosniff"
                if scope["path"] in SAME_ORIGIN_FRAMED_PATHS:
                    # Set here whatever the route said: this is the only loosening.
                    headers["x-frame-options"] = "SAMEORIGIN"
                    ancestors = SAME_ORIGIN_FRAME_ANCESTORS
                else:
                    ancestors = FRAME_ANCESTORS
                    if "x-frame-options" not in headers:
                        headers["x-frame-options"] = "DENY"
                policy = headers.get("content-security-policy")
                if policy is None:
                    headers["content-security-policy"] = ancestors
                elif "frame-ancestors" not in policy:
                    headers["content-security-policy"] = f"{policy}; {ancestors}"
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def _body_has_nul(content_type: str, body: bytes) -> bool:
    if content_type.startswith("application/json") or content_type.endswith("+json"):
        try:
            return _has_nul(json.loads(body))
        except (ValueError, RecursionError):
            return False  # not JSON: the route's validation says so
    if content_type.startswith("application/x-www-form-urlencoded"):
        text = body.decode("latin-1")
        return any("\x00" in k or "\x00" in v for k, v in parse_qsl(text, keep_blank_values=True))
    return False


class InputGuardMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def _refuse(self, send: Send) -> None:
        body = json.dumps(
            {
                "detail": NUL_MESSAGE,
                "errors": [{"loc": [], "msg": NUL_MESSAGE, "type": "nul_character"}],
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 422,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        query: bytes = scope.get("query_string", b"")
        if b"\x00" in unquote_to_bytes(query) or "\x00" in scope.get("path", ""):
            await self._refuse(send)
            return
        content_type = ""
        for name, value in scope.get("headers", ()):
            if name == b"content-type":
                content_type = value.decode("latin-1").lower()
        if scope.get("method") in ("GET", "HEAD", "OPTIONS", "DELETE") or not content_type:
            await self.app(scope, receive, send)
            return
        if not content_type.startswith(
            ("application/json", "application/x-www-form-urlencoded")
        ) and not content_type.endswith("+json"):
            await self.app(scope, receive, send)
            return

        # Read the body once, check it, then hand the same bytes to the app.
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay([], message), send)
                return
            chunk = message.get("body", b"")
            chunks.append(chunk)
            size += len(chunk)
            more = bool(message.get("more_body", False))
            if size > _MAX_INSPECTED:
                break
        body = b"".join(chunks)
        if not more and _body_has_nul(content_type, body):
            await self._refuse(send)
            return
        await self.app(scope, _replay_body(body, more, receive), send)


def _replay(_chunks: list[bytes], message: Message) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return message
        return {"type": "http.disconnect"}

    return receive


def _replay_body(body: bytes, more: bool, downstream: Receive) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": more}
        return await downstream()

    return receive
