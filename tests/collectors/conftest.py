from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest
from sqlalchemy import exists, select

from app.db import Database
from app.platforms.http import FetchPolicy, make_client
from app.posts.models import CapturedVersion, FlaggedPost, PostStatus
from tests.collectors.atproto_network import (
    AtprotoClient,
    AtprotoNetwork,
    NetworkUnavailable,
    start_network,
    unavailable,
)

MakeClient = Callable[..., httpx.Client]


@pytest.fixture(autouse=True)
def never_captured_with_nothing(request: pytest.FixtureRequest) -> Iterator[None]:
    """The invariant over every collector and every scenario these tests drive (issue 13
    item 6): after each test, no post is `captured` or `edited` with no version archived."""
    db: Database | None = request.getfixturevalue("db") if "db" in request.fixturenames else None
    yield
    if db is None:
        return
    with db.session() as session:
        empty = list(
            session.scalars(
                select(FlaggedPost.id).where(
                    FlaggedPost.status.in_((PostStatus.captured, PostStatus.edited)),
                    ~exists().where(CapturedVersion.post_id == FlaggedPost.id),
                )
            )
        )
    assert empty == [], f"posts marked captured with no version archived: {empty}"


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
