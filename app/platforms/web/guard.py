"""The SSRF guard for the browser: every request a captured page makes is fetched by
PostVault's own guarded client, never by chromium.

Chromium is launched with a proxy that refuses every connection (a reserved loopback port
nobody listens on, loopback included in the proxied hosts), so anything the browser tries on
its own (a preconnect, a request Playwright's routing does not see) reaches nothing. Every
request Playwright routes is re-issued by `app.platforms.http`'s guarded transport, which
applies the fetcher's scheme rule, allow-list and address checks, and the answer is handed
back to the page. Redirects are not followed by the client: the 3xx goes back to the page and
the next hop arrives here as a new request, checked again. WebSockets are checked the same
way and never connected (a capture keeps what the page loaded, not a live channel); service
workers are blocked in every capture context.

Each exchange is recorded (request and raw response) for the WARC.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import threading
import zlib
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import httpx

from app.platforms.http import (
    FetchPolicy,
    FetchRefused,
    ResponseTooLarge,
    describe_url,
    make_client,
    refusal_reason,
    resolve_public,
)

# Headers the browser sends that describe its own connection, not the request.
_REQUEST_DROP = {"host", "connection", "content-length", "accept-encoding", "keep-alive", "te"}
# Headers that no longer describe the (decoded, complete) body handed back to the page.
_RESPONSE_DROP = {"content-encoding", "content-length", "transfer-encoding", "connection"}
# Encodings httpx decodes without optional libraries.
ACCEPT_ENCODING = "gzip, deflate"
MAX_REDIRECTS = 10


class DeadProxy:
    """A loopback port held bound and never listening: a connection to it is refused at once,
    and no other process can take the port while PostVault holds it."""

    def __init__(self) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind(("127.0.0.1", 0))
        self.port: int = self._socket.getsockname()[1]

    @property
    def chromium_args(self) -> list[str]:
        # "<-loopback>" removes chromium's built-in bypass, so loopback goes to the proxy too.
        return [f"--proxy-server=http://127.0.0.1:{self.port}", "--proxy-bypass-list=<-loopback>"]

    def close(self) -> None:
        self._socket.close()


@dataclass
class Exchange:
    """One request the page made and the answer PostVault fetched for it."""

    method: str
    url: str
    request_headers: list[tuple[str, str]]
    request_body: bytes | None
    status: int
    reason: str
    response_headers: list[tuple[str, str]]
    raw_body: bytes  # as sent on the wire (still content-encoded): what the WARC keeps
    http_version: str
    started_at: dt.datetime


@dataclass
class Refusal:
    url: str
    reason: str
    kind: str = "request"  # request | websocket | limit


@dataclass
class GuardLog:
    exchanges: list[Exchange] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    bytes_fetched: int = 0


def check_address(url: str, policy: FetchPolicy) -> str | None:
    """Why the guard refuses `url` (scheme, plain HTTP, or the address its host resolves to),
    or None when it may be fetched. The same rules as the fetcher's transport; used where no
    HTTP request follows (WebSockets), since the transport checks HTTP at connection time."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    secure = {"ws": "http", "wss": "https"}.get(scheme, scheme)
    if secure not in ("http", "https"):
        return f"the scheme '{scheme}' is not fetched"
    host = (parts.hostname or "").lower()
    try:
        port = parts.port or (443 if secure == "https" else 80)
    except ValueError:
        return "the URL has an invalid port"
    if not host:
        return "the URL has no host"
    if policy.allows(host, port):
        return None
    if secure == "http":
        return "plain HTTP is allowed only for hosts in POSTVAULT_FETCH_ALLOW_HOSTS"
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        reason = refusal_reason(literal)
        return reason and f"{host} is {reason}"
    try:
        resolve_public(host, port)
    except FetchRefused as exc:
        return exc.reason
    except Exception as exc:  # cannot resolve: nothing to reach either
        return f"cannot resolve {host}: {exc}"
    return None


class BrowserFetcher:
    """Fetches what the page asks for, through the guarded client, within a capture's budget."""

    def __init__(
        self,
        policy: FetchPolicy,
        *,
        max_requests: int,
        max_bytes: int,
        max_resource_bytes: int,
    ) -> None:
        self.policy = policy
        self.max_requests = max_requests
        self.max_bytes = max_bytes
        self.max_resource_bytes = max_resource_bytes
        self._client = make_client(policy)
        self._lock = threading.Lock()

    def close(self) -> None:
        self._client.close()

    def fetch(
        self,
        log: GuardLog,
        method: str,
        url: str,
        headers: dict[str, str],
        body: bytes | None,
        *,
        follow_redirects: bool,
        seconds_left: float,
    ) -> tuple[Exchange, bytes] | None:
        """Fetch one request (and, when `follow_redirects`, each redirect hop as a request of
        its own, every hop checked); the last exchange and its decoded body for the page, or
        None when it was refused or failed (the reason is in `log`).

        Chromium does not route the follow-up of a redirect handed to it, so redirects are
        followed here, except for the main frame's navigation, which the capture re-issues
        itself so the page's address is right."""
        got = self._fetch_one(log, method, url, headers, body, seconds_left)
        hops = 0
        while follow_redirects and got is not None and hops < MAX_REDIRECTS:
            location = redirect_target(got[0])
            if location is None:
                break
            hops += 1
            if got[0].status in (301, 302, 303) and method != "HEAD":
                method, body = "GET", None
            got = self._fetch_one(log, method, location, headers, body, seconds_left)
        return got

    def _fetch_one(
        self,
        log: GuardLog,
        method: str,
        url: str,
        headers: dict[str, str],
        body: bytes | None,
        seconds_left: float,
    ) -> tuple[Exchange, bytes] | None:
        shown = describe_url(url)
        if seconds_left <= 0:
            log.refusals.append(Refusal(shown, "the capture's time limit was reached", "limit"))
            return None
        if len(log.exchanges) + len(log.refusals) >= self.max_requests:
            log.refusals.append(Refusal(shown, "the capture's request limit was reached", "limit"))
            return None
        if log.bytes_fetched >= self.max_bytes:
            log.refusals.append(Refusal(shown, "the capture's download limit was reached", "limit"))
            return None
        sent = {k: v for k, v in headers.items() if k.lower() not in _REQUEST_DROP}
        sent["accept-encoding"] = ACCEPT_ENCODING
        started = dt.datetime.now(dt.UTC)
        cap = min(self.max_resource_bytes, self.max_bytes - log.bytes_fetched)
        try:
            # A route handler blocks the page's event loop: no request may outlast the capture.
            timeout = httpx.Timeout(min(self.policy.timeout, max(seconds_left, 0.1)))
            request = self._client.build_request(
                method, url, headers=sent, content=body, timeout=timeout
            )
            with self._lock:
                response = self._client.send(request, stream=True, follow_redirects=False)
                try:
                    raw = _read_raw(response, cap, shown)
                finally:
                    response.close()
        except FetchRefused as exc:
            log.refusals.append(Refusal(shown, exc.reason))
            return None
        except ResponseTooLarge:
            log.refusals.append(Refusal(shown, f"larger than {cap} bytes", "limit"))
            return None
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            log.failures.append(f"{shown}: {type(exc).__name__}: {exc}")
            return None
        log.bytes_fetched += len(raw)
        exchange = Exchange(
            method=method,
            url=url,
            request_headers=[
                (k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw
            ],
            request_body=body,
            status=response.status_code,
            reason=response.reason_phrase or "",
            response_headers=[
                (k.decode("latin-1"), v.decode("latin-1")) for k, v in response.headers.raw
            ],
            raw_body=raw,
            http_version=response.http_version or "HTTP/1.1",
            started_at=started,
        )
        log.exchanges.append(exchange)
        try:
            decoded = decoded_body(exchange, cap)
        except ResponseTooLarge:
            log.refusals.append(Refusal(shown, f"decodes to more than {cap} bytes", "limit"))
            return None
        except httpx.DecodingError as exc:
            log.failures.append(f"{shown}: cannot decode the body: {exc}")
            decoded = b""
        return exchange, decoded


def redirect_target(exchange: Exchange) -> str | None:
    """The absolute URL a 3xx answer sends the browser to, or None."""
    if exchange.status not in (301, 302, 303, 307, 308):
        return None
    for key, value in exchange.response_headers:
        if key.lower() == "location" and value.strip():
            return urljoin(exchange.url, value.strip())
    return None


def page_headers(exchange: Exchange) -> dict[str, str]:
    """The response headers handed to the page (repeated headers joined, as a dict must)."""
    out: dict[str, str] = {}
    for key, value in exchange.response_headers:
        lower = key.lower()
        if lower in _RESPONSE_DROP:
            continue
        if lower in out:
            out[lower] = out[lower] + ("\n" if lower == "set-cookie" else ", ") + value
        else:
            out[lower] = value
    return out


def _read_raw(response: httpx.Response, cap: int, shown: str) -> bytes:
    chunks: list[bytes] = []
    seen = 0
    for chunk in response.iter_raw():
        seen += len(chunk)
        if seen > cap:
            raise ResponseTooLarge(shown, cap)
        chunks.append(chunk)
    return b"".join(chunks)


def decoded_body(exchange: Exchange, cap: int) -> bytes:
    """The body without its content encoding, capped (a small gzip body must not inflate
    past the limit). Only the encodings PostVault asked for are decoded."""
    encodings = [
        part.strip().lower()
        for key, value in exchange.response_headers
        if key.lower() == "content-encoding"
        for part in value.split(",")
        if part.strip() and part.strip().lower() != "identity"
    ]
    data = exchange.raw_body
    for encoding in reversed(encodings):
        if encoding in ("gzip", "x-gzip"):
            wbits = 16 + zlib.MAX_WBITS
        elif encoding == "deflate":
            # Servers send zlib-wrapped or raw deflate under this name; zlib tells them apart.
            wbits = zlib.MAX_WBITS if data[:1] == b"\x78" else -zlib.MAX_WBITS
        else:
            raise httpx.DecodingError(f"the content encoding '{encoding}' was not asked for")
        inflater = zlib.decompressobj(wbits)
        try:
            data = inflater.decompress(data, cap + 1)
        except zlib.error as exc:
            raise httpx.DecodingError(str(exc)) from exc
        if len(data) > cap or inflater.unconsumed_tail:
            raise ResponseTooLarge(describe_url(exchange.url), cap)
    return data
