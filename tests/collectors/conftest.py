from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from app.platforms.http import FetchPolicy, make_client
from tests.collectors.atproto_network import (
    AtprotoClient,
    AtprotoNetwork,
    NetworkUnavailable,
    start_network,
    unavailable,
)

MakeClient = Callable[..., httpx.Client]


@pytest.fixture
def make_fetch_client() -> Iterator[MakeClient]:
    """A guarded client allow-listing the given "host:port" names (the loopback servers)."""
    clients: list[httpx.Client] = []

    def make(*allow: str, max_bytes: int = 1024 * 1024, timeout: float = 5.0) -> httpx.Client:
        policy = FetchPolicy(allow_hosts=frozenset(allow), max_bytes=max_bytes, timeout=timeout)
        client = make_client(policy)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def no_sleep(_seconds: float) -> None:
    """Backoff sleeps are skipped in tests; the recorded delays are checked instead."""


@pytest.fixture(scope="session")
def atproto_network() -> Iterator[AtprotoNetwork]:
    """A real PDS, PLC and AppView on loopback (tools/atproto-devenv), once per session."""
    try:
        network_context = start_network(appview=True)
        network = network_context.__enter__()
    except NetworkUnavailable as exc:
        unavailable(str(exc))
    try:
        yield network
    finally:
        network_context.__exit__(None, None, None)


@pytest.fixture(scope="session")
def atp(atproto_network: AtprotoNetwork) -> Iterator[AtprotoClient]:
    with httpx.Client(timeout=30) as http:
        yield AtprotoClient(atproto_network, http)
