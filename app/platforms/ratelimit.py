"""One per-host rate limiter for the three header styles platforms use.

- `X-RateLimit-Limit/Remaining/Reset`, reset an ISO-8601 time (Mastodon), and X's
  `x-rate-limit-limit/remaining/reset`, reset in epoch seconds;
- `RateLimit-Limit/Remaining/Reset`, reset in epoch seconds (Bluesky PDS) or, in the IETF
  draft, in seconds from now;
- `Retry-After`, seconds or an HTTP-date (RFC 9110);
- Tumblr's per-window `X-Ratelimit-Perhour-*` / `X-Ratelimit-Perday-*`, reset in seconds
  from now: the window used up (remaining 0) says when to come back.

A numeric reset of 10^9 or more is read as epoch seconds, a smaller one as seconds from now:
no real delay is 31 years long, and no real epoch time is before 2001. A pause never ends
before `now` and never lasts more than MAX_PAUSE, so a junk or hostile header cannot park a
host for years.

A 429 pauses only the host that sent it. `request_with_retries` retries 5xx answers and
network errors with a short exponential backoff and then gives up with TransientHTTPError;
the capture pipeline turns that into a failing post that is retried on a later poll.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

import httpx

from app.platforms.http import describe_url, read_capped

MAX_PAUSE = dt.timedelta(days=1)
DEFAULT_429_PAUSE = dt.timedelta(seconds=60)
_EPOCH_THRESHOLD = 1_000_000_000
_NUMBER = re.compile(r"^\s*\d{1,15}(\.\d{1,9})?\s*$")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class HostPaused(Exception):
    """The host is paused (a 429, or its quota is used up) until `retry_at`."""

    def __init__(self, host: str, retry_at: dt.datetime) -> None:
        super().__init__(f"{host} is rate limited until {retry_at.isoformat()}")
        self.host = host
        self.retry_at = retry_at


class TransientHTTPError(Exception):
    """Server errors or network failures outlasted the retries."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _header(headers: Mapping[str, str], name: str) -> str | None:
    if isinstance(headers, httpx.Headers):
        value = headers.get(name)
        return None if value is None else str(value)
    for key, value in headers.items():
        if key.lower() == name:
            return str(value)
    return None


def _clamp(moment: dt.datetime, now: dt.datetime) -> dt.datetime:
    return max(now, min(moment, now + MAX_PAUSE))


def _seconds_from_now(value: float, now: dt.datetime) -> dt.datetime:
    return now + dt.timedelta(seconds=min(value, MAX_PAUSE.total_seconds()))


def _parse_datetime(value: str) -> dt.datetime | None:
    text = value.strip()
    parsed: dt.datetime | None
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        try:
            parsed = parsedate_to_datetime(text)
        except (ValueError, TypeError, IndexError, OverflowError):
            return None
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)  # HTTP-dates are GMT; Mastodon writes Z
    return parsed


def parse_reset(value: str, now: dt.datetime) -> dt.datetime | None:
    """A `*RateLimit-Reset` value: epoch seconds, seconds from now, ISO-8601 or HTTP-date."""
    if _NUMBER.match(value):
        number = float(value)
        if number >= _EPOCH_THRESHOLD:
            try:
                epoch = dt.datetime.fromtimestamp(number, dt.UTC)
            except (OverflowError, OSError, ValueError):
                return now + MAX_PAUSE
            return _clamp(epoch, now)
        return _seconds_from_now(number, now)
    moment = _parse_datetime(value)
    return None if moment is None else _clamp(moment, now)


def parse_retry_after(value: str, now: dt.datetime) -> dt.datetime | None:
    """A `Retry-After` value: delay-seconds or an HTTP-date."""
    if _NUMBER.match(value):
        return _seconds_from_now(float(value), now)
    moment = _parse_datetime(value)
    return None if moment is None else _clamp(moment, now)


def _count(value: str | None) -> int | None:
    if value is not None and value.strip().isascii() and value.strip().isdigit():
        return int(value.strip())
    return None


_WINDOWS = ("perminute", "perhour", "perday")


def _windows(headers: Mapping[str, str]) -> list[tuple[int | None, str]]:
    """(remaining, reset) of each `X-Ratelimit-Per<window>-*` pair the answer carries."""
    found = []
    for window in _WINDOWS:
        reset = _header(headers, f"x-ratelimit-{window}-reset")
        if reset is not None:
            found.append((_count(_header(headers, f"x-ratelimit-{window}-remaining")), reset))
    return found


def remaining_from_headers(headers: Mapping[str, str]) -> int | None:
    for name in ("ratelimit-remaining", "x-ratelimit-remaining", "x-rate-limit-remaining"):
        count = _count(_header(headers, name))
        if count is not None:
            return count
    counts = [remaining for remaining, _reset in _windows(headers) if remaining is not None]
    return min(counts) if counts else None


def reset_from_headers(headers: Mapping[str, str], now: dt.datetime) -> dt.datetime | None:
    for name in ("ratelimit-reset", "x-ratelimit-reset", "x-rate-limit-reset"):
        value = _header(headers, name)
        if value is not None:
            moment = parse_reset(value, now)
            if moment is not None:
                return moment
    windows = _windows(headers)
    # Per-window headers: the latest reset of the windows used up, else the soonest one.
    exhausted = [reset for remaining, reset in windows if remaining == 0]
    moments = [m for m in (parse_reset(r, now) for r in exhausted or [r for _, r in windows]) if m]
    if not moments:
        return None
    return max(moments) if exhausted else min(moments)


def retry_at_from_headers(headers: Mapping[str, str], now: dt.datetime) -> dt.datetime | None:
    """When a rate-limited (429) answer says to come back: Retry-After first, then the
    rate-limit window's reset. None when no header says anything readable."""
    retry_after = _header(headers, "retry-after")
    if retry_after is not None:
        moment = parse_retry_after(retry_after, now)
        if moment is not None:
            return moment
    return reset_from_headers(headers, now)


def host_key(url: str | httpx.URL) -> str:
    """The limiter's key: host, plus the port when the URL names one."""
    parsed = httpx.URL(url) if isinstance(url, str) else url
    host = parsed.host.lower()
    return f"{host}:{parsed.port}" if parsed.port else host


class HostLimiter:
    """Which hosts are paused and until when; safe to share between threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._until: dict[str, dt.datetime] = {}

    def paused_until(self, host: str, now: dt.datetime | None = None) -> dt.datetime | None:
        now = now or utcnow()
        with self._lock:
            until = self._until.get(host)
            if until is None:
                return None
            if until <= now:
                del self._until[host]
                return None
            return until

    def pause(self, host: str, until: dt.datetime) -> None:
        """Pause `host` until `until` (a later pause already in place wins)."""
        with self._lock:
            current = self._until.get(host)
            if current is None or until > current:
                self._until[host] = until

    def observe(
        self, host: str, headers: Mapping[str, str], now: dt.datetime
    ) -> dt.datetime | None:
        """Pause pre-emptively when an answer says the window is used up (Remaining: 0)."""
        if remaining_from_headers(headers) != 0:
            return None
        reset = reset_from_headers(headers, now)
        if reset is None or reset <= now:
            return None
        self.pause(host, reset)
        return reset


# One limiter per process: every collector shares it, so a pause outlives one capture.
shared_limiter = HostLimiter()


@dataclass
class RequestStats:
    """Counts the HTTP requests a capture sends (retries included)."""

    requests: int = 0


def default_backoff(attempt: int) -> float:
    """Seconds to wait after failed attempt number `attempt` (1-based): 0.5, 1, 2 ... 4."""
    return float(min(0.5 * 2 ** (attempt - 1), 4.0))


def _send(
    client: httpx.Client,
    method: str,
    url: str,
    headers: Mapping[str, str] | None,
    params: Mapping[str, str] | None,
    max_bytes: int | None,
) -> httpx.Response:
    request = client.build_request(method, url, headers=headers, params=params)
    response = client.send(request, stream=True)
    try:
        if max_bytes is None:
            response.read()
            return response
        content = read_capped(response, max_bytes)
    finally:
        response.close()
    # The body is decoded already, so the rebuilt response must not decode it again.
    kept = [
        (key, value)
        for key, value in response.headers.multi_items()
        if key.lower() not in ("content-encoding", "content-length", "transfer-encoding")
    ]
    rebuilt = httpx.Response(
        response.status_code, headers=kept, content=content, request=response.request
    )
    rebuilt.read()
    return rebuilt


def request_with_retries(
    client: httpx.Client,
    limiter: HostLimiter,
    method: str,
    url: str,
    *,
    attempts: int = 3,
    backoff: Callable[[int], float] = default_backoff,
    sleep: Callable[[float], None] = time.sleep,
    headers: Mapping[str, str] | None = None,
    params: Mapping[str, str] | None = None,
    max_bytes: int | None = None,
    stats: RequestStats | None = None,
    clock: Callable[[], dt.datetime] = utcnow,
) -> httpx.Response:
    """Send a request, honouring and updating the host's pause.

    Returns any answer below 500 other than 429 (the caller judges 404 and the like).
    Raises HostPaused (without sending, when the host is already paused; or after a 429),
    TransientHTTPError after `attempts` 5xx answers or network errors, and lets FetchRefused
    and ResponseTooLarge through untouched: retrying cannot change them.
    """
    host = host_key(url)
    shown = describe_url(url)
    last_problem = "no attempt made"
    for attempt in range(1, attempts + 1):
        paused = limiter.paused_until(host, clock())
        if paused is not None:
            raise HostPaused(host, paused)
        if stats is not None:
            stats.requests += 1
        try:
            response = _send(client, method, url, headers, params, max_bytes)
        except httpx.TimeoutException as exc:
            last_problem = f"timed out ({type(exc).__name__})"
        except httpx.TransportError as exc:
            last_problem = f"network error: {exc}"
        else:
            now = clock()
            limiter.observe(host, response.headers, now)
            if response.status_code == 429:
                retry_at = retry_at_from_headers(response.headers, now) or now + DEFAULT_429_PAUSE
                limiter.pause(host, retry_at)
                raise HostPaused(host, retry_at)
            if response.status_code < 500:
                return response
            last_problem = f"HTTP {response.status_code}"
        if attempt < attempts:
            sleep(backoff(attempt))
    raise TransientHTTPError(
        f"{method} {shown} failed after {attempts} attempts; last: {last_problem}"
    )
