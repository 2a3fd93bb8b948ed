from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from app.platforms.fetcher import Fetcher
from app.platforms.http import FetchPolicy, make_client
from app.platforms.ratelimit import HostLimiter
from tests.platforms.mediawiki.wiki import Wiki, WikiUnavailable, run_wiki, unavailable


def no_sleep(_seconds: float) -> None:
    """Backoff sleeps are skipped in tests."""


@pytest.fixture(scope="session")
def wiki(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Wiki]:
    """A real MediaWiki 1.39 on loopback, installed once per session (about 10 s)."""
    try:
        context = run_wiki(tmp_path_factory.mktemp("mediawiki") / "wiki")
        running = context.__enter__()
    except WikiUnavailable as exc:
        unavailable(str(exc))
    try:
        yield running
    finally:
        context.__exit__(None, None, None)


def guarded_client(*netlocs: str) -> httpx.Client:
    return make_client(FetchPolicy(allow_hosts=frozenset(netlocs), timeout=60.0))


def fetcher_for(*netlocs: str, limiter: HostLimiter | None = None) -> Fetcher:
    return Fetcher(
        limiter=limiter or HostLimiter(), sleep=no_sleep, plain_http_hosts=frozenset(netlocs)
    )


@pytest.fixture
def wiki_client(wiki: Wiki) -> Iterator[httpx.Client]:
    with guarded_client(wiki.netloc) as client:
        yield client
