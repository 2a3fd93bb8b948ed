"""The Fetcher every collector is handed: guard, limiter, caps and retries in one object;
media downloads are counted against the host's limiter too."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from app.config import Settings
from app.platforms.fetcher import Fetcher, UnguardedClient
from app.platforms.http import FetchPolicy, make_client
from app.platforms.ratelimit import HostLimiter, HostPaused, TransientHTTPError
from tests.loopback import Loopback, Reply, serve

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 32


def no_sleep(_seconds: float) -> None:
    """Backoff sleeps are skipped; the attempts are counted instead."""


@pytest.fixture
def media() -> Iterator[Loopback]:
    def handler(_method: str, path: str, _headers: dict[str, str], _body: bytes) -> Reply:
        if path == "/busy.png":
            return Reply(429, b"slow down", {"Retry-After": "120"})
        if path == "/flaky":
            return Reply(503, b"down")
        return Reply(200, PNG, {"Content-Type": "image/png"})

    with serve(handler) as server:
        yield server


@pytest.fixture
def client(media: Loopback) -> Iterator[httpx.Client]:
    with make_client(FetchPolicy(allow_hosts=frozenset({media.netloc}))) as guarded:
        yield guarded


def test_a_media_429_pauses_the_host_for_every_later_request(
    media: Loopback, client: httpx.Client
) -> None:
    fetcher = Fetcher(limiter=HostLimiter(), sleep=no_sleep)
    http = fetcher.session(client)
    assert http.download(f"{media.base_url}/a.png", allowed_types=["image/*"]).content == PNG
    with pytest.raises(HostPaused):
        http.download(f"{media.base_url}/busy.png", allowed_types=["image/*"])
    sent = len(media.requests)
    # The pause holds for media and API requests alike, and nothing more is sent.
    with pytest.raises(HostPaused):
        http.download(f"{media.base_url}/b.png", allowed_types=["image/*"])
    with pytest.raises(HostPaused):
        http.get(f"{media.base_url}/api")
    assert len(media.requests) == sent
    assert http.stats.requests == 2


def test_requests_retry_with_backoff_then_give_up(media: Loopback, client: httpx.Client) -> None:
    waits: list[float] = []
    fetcher = Fetcher(limiter=HostLimiter(), attempts=3, sleep=waits.append)
    http = fetcher.session(client)
    with pytest.raises(TransientHTTPError, match="failed after 3 attempts; last: HTTP 503"):
        http.get(f"{media.base_url}/flaky")
    assert waits == [0.5, 1.0]
    assert http.stats.requests == 3


def test_a_collector_may_not_fetch_around_the_guard() -> None:
    with httpx.Client() as plain, pytest.raises(UnguardedClient, match="SSRF guard"):
        Fetcher().session(plain)


def test_built_from_settings() -> None:
    limiter = HostLimiter()
    fetcher = Fetcher.from_settings(
        Settings(
            fetch_max_bytes=1000,
            media_max_bytes=5000,
            fetch_plain_http_hosts="Dev.Example:8080",
            mastodon_plain_http_instances="old.example",
            fetch_timeout_seconds=3,
        ),
        limiter=limiter,
    )
    assert fetcher.limiter is limiter
    assert (fetcher.max_bytes, fetcher.max_media_bytes) == (1000, 5000)
    assert fetcher.plain_http_hosts == frozenset({"dev.example:8080", "old.example"})
    assert fetcher.base_url("dev.example:8080") == "http://dev.example:8080"
    assert fetcher.base_url("old.example") == "http://old.example"
    assert fetcher.base_url("other.example") == "https://other.example"
    assert fetcher.policy.timeout == 3
