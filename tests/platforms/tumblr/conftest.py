"""The loopback Tumblr and the collector pointed at it, through the guarded client."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from app.platforms.fetcher import Fetcher
from app.platforms.http import FetchPolicy, make_client
from app.platforms.ratelimit import HostLimiter
from app.platforms.tumblr.collector import TumblrCollector
from tests.platforms.tumblr.server import KEY, TumblrApi

MakeCollector = Callable[..., TumblrCollector]


def no_sleep(_seconds: float) -> None:
    """Backoff sleeps are skipped in tests."""


@pytest.fixture
def api() -> Iterator[TumblrApi]:
    with TumblrApi() as server:
        server.load_all()
        yield server


@pytest.fixture
def tumblr_client(api: TumblrApi) -> Iterator[httpx.Client]:
    policy = FetchPolicy(allow_hosts=frozenset({api.host}), max_bytes=1024 * 1024, timeout=5.0)
    client = make_client(policy)
    yield client
    client.close()


def fetcher_for(api: TumblrApi, limiter: HostLimiter | None = None) -> Fetcher:
    return Fetcher(
        limiter=limiter or HostLimiter(),
        sleep=no_sleep,
        clock=api.clock,
        plain_http_hosts=frozenset({api.host}),
    )


@pytest.fixture
def make_collector(api: TumblrApi) -> MakeCollector:
    def make(*, key: str | None = KEY, limiter: HostLimiter | None = None) -> TumblrCollector:
        return TumblrCollector(
            fetcher=fetcher_for(api, limiter),
            api_url=api.base_url,
            api_key=key,
            blog_url_template=api.blog_url_template,
        )

    return make
