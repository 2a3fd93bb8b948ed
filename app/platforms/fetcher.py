"""One fetcher for every collector: limiter, caps, timeouts, retries and the SSRF guard.

Why here (app/platforms/fetcher.py) and not app/fetch/: the Fetcher is the part of the
platform contract a collector is handed; the guard (app/platforms/http.py) and the limiter
(app/platforms/ratelimit.py) it wraps are shared with the media pipeline,
the classification link checker and the snapshots, so those modules keep one home.

A `Fetcher` is configuration (built once per process from Settings, shared by collectors);
a `FetchSession` is one capture's use of it: the guarded client plus the request counter.

    class MyCollector:
        def __init__(self, fetcher: Fetcher) -> None:
            self.fetcher = fetcher

        def collect(self, target: CaptureTarget, client: httpx.Client) -> CollectResult:
            return self.fetcher.run(client, lambda http: self._collect(target, http))

        def _collect(self, target: CaptureTarget, http: FetchSession) -> CollectResult:
            response = http.get(f"{self.fetcher.base_url(host)}/api/thing")
            ...
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, BinaryIO

import httpx

from app.config import Settings
from app.platforms.collected import CollectResult
from app.platforms.http import (
    FetchedBody,
    FetchPolicy,
    GuardedTransport,
    StreamedBody,
    get_limited,
    make_client,
    policy_from_settings,
    stream_limited,
)
from app.platforms.ratelimit import (
    DEFAULT_429_PAUSE,
    HostLimiter,
    HostPaused,
    RequestStats,
    default_backoff,
    host_key,
    request_with_retries,
    retry_at_from_headers,
    shared_limiter,
    utcnow,
)

DEFAULT_MAX_BYTES = 50 * 1024 * 1024
PLAIN_HTTP_SETTING = "POSTVAULT_FETCH_PLAIN_HTTP_HOSTS"


class UnguardedClient(TypeError):
    """A collector was handed an httpx client that does not go through the SSRF guard."""


def parse_host_list(value: str) -> frozenset[str]:
    """A comma-separated host[:port] list, lower-cased, blanks dropped."""
    return frozenset(h.strip().lower() for h in value.split(",") if h.strip())


@dataclass(frozen=True)
class Fetcher:
    """What every collector fetches with. Immutable: `with_(...)` gives a changed copy."""

    limiter: HostLimiter = shared_limiter
    max_bytes: int = DEFAULT_MAX_BYTES  # decoded size of one API answer
    max_media_bytes: int = DEFAULT_MAX_BYTES  # decoded size of one media file
    attempts: int = 3
    backoff: Callable[[int], float] = default_backoff
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], dt.datetime] = utcnow
    # Hosts collectors address over plain HTTP (test and development servers). The guard
    # still refuses plain HTTP to a host that is not also in POSTVAULT_FETCH_ALLOW_HOSTS.
    plain_http_hosts: frozenset[str] = frozenset()
    policy: FetchPolicy = field(default_factory=FetchPolicy)  # timeouts, guard allow-list

    @classmethod
    def from_settings(cls, settings: Settings, *, limiter: HostLimiter | None = None) -> Fetcher:
        return cls(
            limiter=limiter or shared_limiter,
            max_bytes=settings.fetch_max_bytes,
            max_media_bytes=settings.media_cap,
            plain_http_hosts=settings.plain_http_hosts,
            policy=policy_from_settings(settings),
        )

    def with_(self, **changes: Any) -> Fetcher:
        return replace(self, **changes)

    def open_client(self) -> httpx.Client:
        """A new guarded client with this fetcher's timeouts and allow-list (caller closes)."""
        return make_client(self.policy)

    # --- plain HTTP -------------------------------------------------------------------------

    def allows_plain_http(self, netloc: str) -> bool:
        netloc = netloc.lower()
        return netloc in self.plain_http_hosts or netloc.split(":")[0] in self.plain_http_hosts

    def scheme_for(self, netloc: str) -> str:
        return "http" if self.allows_plain_http(netloc) else "https"

    def base_url(self, netloc: str) -> str:
        """`https://host[:port]`, or `http://` for a host named in the plain-HTTP setting."""
        return f"{self.scheme_for(netloc)}://{netloc}"

    # --- use --------------------------------------------------------------------------------

    def session(self, client: httpx.Client, stats: RequestStats | None = None) -> FetchSession:
        return FetchSession(self, client, stats or RequestStats())

    def run(
        self, client: httpx.Client, body: Callable[[FetchSession], CollectResult]
    ) -> CollectResult:
        """Run a collector's body with a fresh session: exceptions become typed outcomes and
        the outcome carries the number of requests sent (see app/platforms/common.py)."""
        from app.platforms.common import run_collect

        return run_collect(lambda stats: body(self.session(client, stats)))


def _check_guarded(client: httpx.Client) -> None:
    # httpx keeps the transport private; a client without the guard must never fetch for a
    # collector, whatever built it.
    transport = getattr(client, "_transport", None)
    if not isinstance(transport, GuardedTransport):
        raise UnguardedClient(
            "collectors fetch only through the SSRF guard (app.platforms.http.make_client)"
        )


@dataclass
class FetchSession:
    """One capture's fetching: every request is counted, limited, capped and retried."""

    fetcher: Fetcher
    client: httpx.Client
    stats: RequestStats = field(default_factory=RequestStats)

    def __post_init__(self) -> None:
        _check_guarded(self.client)

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        max_bytes: int | None = None,
        attempts: int | None = None,
    ) -> httpx.Response:
        """Send with the host's pause honoured and updated, 5xx and network errors retried
        with backoff, the decoded body capped. Raises HostPaused, TransientHTTPError,
        FetchRefused, ResponseTooLarge (see app/platforms/ratelimit.py)."""
        f = self.fetcher
        return request_with_retries(
            self.client,
            f.limiter,
            method,
            url,
            attempts=attempts or f.attempts,
            backoff=f.backoff,
            sleep=f.sleep,
            headers=headers,
            params=params,
            max_bytes=max_bytes or f.max_bytes,
            stats=self.stats,
            clock=f.clock,
        )

    def get(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        max_bytes: int | None = None,
    ) -> httpx.Response:
        return self.request("GET", url, headers=headers, params=params, max_bytes=max_bytes)

    def download(
        self,
        url: str,
        *,
        allowed_types: Iterable[str] | None = None,
        max_bytes: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> FetchedBody:
        """GET a media file once (no retries: the next poll retries), capped at the media
        limit and type-checked, counted against its host's limiter like any request: a
        paused host raises HostPaused without sending, a 429 pauses the host."""
        self._before_download(url)
        fetched = get_limited(
            self.client,
            url,
            max_bytes=max_bytes or self.fetcher.max_media_bytes,
            headers=headers,
            allowed_types=allowed_types,
        )
        self._after_download(url, fetched.status, fetched.headers)
        return fetched

    def download_to(
        self,
        url: str,
        dest: BinaryIO,
        *,
        allowed_types: Iterable[str] | None = None,
        max_bytes: int | None = None,
    ) -> StreamedBody:
        """`download`, the body streamed into `dest` with its SHA-256 (large media)."""
        self._before_download(url)
        streamed = stream_limited(
            self.client,
            url,
            dest,
            max_bytes=max_bytes or self.fetcher.max_media_bytes,
            allowed_types=allowed_types,
        )
        self._after_download(url, streamed.status, streamed.headers)
        return streamed

    def _before_download(self, url: str) -> None:
        f = self.fetcher
        host = host_key(url)
        paused = f.limiter.paused_until(host, f.clock())
        if paused is not None:
            raise HostPaused(host, paused)
        self.stats.requests += 1

    def _after_download(self, url: str, status: int, headers: httpx.Headers) -> None:
        f = self.fetcher
        host = host_key(url)
        now = f.clock()
        f.limiter.observe(host, headers, now)
        if status == 429:
            retry_at = retry_at_from_headers(headers, now) or now + DEFAULT_429_PAUSE
            f.limiter.pause(host, retry_at)
            raise HostPaused(host, retry_at)


class FetchingCollector:
    """A collector's base: it holds its Fetcher. `limiter` and `max_bytes` read through to
    it (the registry's tests check collectors share the process limiter and the cap)."""

    def __init__(self, fetcher: Fetcher | None = None) -> None:
        self.fetcher = fetcher or Fetcher()

    @property
    def limiter(self) -> HostLimiter:
        return self.fetcher.limiter

    @property
    def max_bytes(self) -> int:
        return self.fetcher.max_bytes
