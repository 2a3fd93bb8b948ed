"""The loopback X API and the collector pointed at it, through the guarded client."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from app.platforms.fetcher import Fetcher
from app.platforms.http import FetchPolicy, make_client
from app.platforms.ratelimit import HostLimiter
from app.platforms.x.budget import ReadBudget
from app.platforms.x.collector import XCollector
from tests.platforms.x.server import TOKEN, XApi

MakeCollector = Callable[..., XCollector]


def no_sleep(_seconds: float) -> None:
    """Backoff sleeps are skipped in tests."""


@pytest.fixture
def api() -> Iterator[XApi]:
    with XApi() as server:
        yield server


@pytest.fixture
def x_client(api: XApi) -> Iterator[httpx.Client]:
    policy = FetchPolicy(allow_hosts=frozenset({api.host}), max_bytes=1024 * 1024, timeout=5.0)
    client = make_client(policy)
    yield client
    client.close()


def fetcher_for(api: XApi, limiter: HostLimiter | None = None) -> Fetcher:
    return Fetcher(
        limiter=limiter or HostLimiter(),
        sleep=no_sleep,
        clock=api.clock,
        plain_http_hosts=frozenset({api.host}),
    )


@pytest.fixture
def make_collector(api: XApi) -> MakeCollector:
    def make(
        *,
        token: str | None = TOKEN,
        budget: ReadBudget | None = None,
        limiter: HostLimiter | None = None,
    ) -> XCollector:
        return XCollector(
            fetcher=fetcher_for(api, limiter),
            api_url=api.base_url,
            bearer_token=token,
            budget=budget,
        )

    return make
