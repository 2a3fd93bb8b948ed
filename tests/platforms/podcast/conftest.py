"""The loopback podcast host, and a collector pointed at it through the guarded client."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from app.platforms.fetcher import Fetcher
from app.platforms.http import FetchPolicy, make_client
from app.platforms.podcast.collector import PodcastCollector
from app.platforms.ratelimit import HostLimiter
from tests.platforms.podcast.server import PodcastHost


def no_sleep(_seconds: float) -> None:
    """Backoff sleeps are skipped in tests."""


@pytest.fixture
def host() -> Iterator[PodcastHost]:
    with PodcastHost() as server:
        yield server


@pytest.fixture
def pod_client(host: PodcastHost) -> Iterator[httpx.Client]:
    client = make_client(
        FetchPolicy(allow_hosts=frozenset({host.server.host}), max_bytes=1 << 20, timeout=5.0)
    )
    yield client
    client.close()


def collector_for(limiter: HostLimiter | None = None) -> PodcastCollector:
    return PodcastCollector(Fetcher(limiter=limiter or HostLimiter(), sleep=no_sleep))
