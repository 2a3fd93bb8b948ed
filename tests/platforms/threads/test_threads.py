"""Threads: URL forms, the collector (posts built in the documented API shape: no Threads
post answer was ever recorded), and the token refresh job against the loopback API replaying
the recorded refresh answer."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from app.accounts.models import SocialAccount
from app.config import Settings
from app.connections import service as connections
from app.connections.models import ConnectionStatus, PlatformConnection
from app.db import Database, utcnow
from app.platforms.base import UrlParts
from app.platforms.collected import CaptureTarget, CollectedPost, NotVisible
from app.platforms.fetcher import Fetcher
from app.platforms.http import FetchPolicy, make_client
from app.platforms.ratelimit import HostLimiter
from app.platforms.threads import urls
from app.platforms.threads.collector import ThreadsCollector
from app.storage.local import LocalStore
from tests.collectors.servers import LoopbackServer, serve
from tests.conftest import MakePerson
from tests.platforms.meta_replay import GraphReplay, recorded

SECRET = "meta-app-secret-for-tests"
TOKEN = "threads-user-token-55aa"
USER_ID = "12345678"  # the recorded token answer's user_id
CODE = "C8abcDEFghi"
POST_ID = "17990001112223334"


@pytest.mark.parametrize(
    "url",
    [
        f"https://www.threads.net/@CityOfExample/post/{CODE}",
        f"https://threads.com/@cityofexample/post/{CODE}/?xmt=1",
    ],
)
def test_post_forms(url: str) -> None:
    ref = urls.parse_post_url(UrlParts.parse(url))
    assert ref is not None
    assert (ref.author, ref.post_id) == ("cityofexample", CODE)


def documented_post() -> dict[str, Any]:
    return {
        "id": POST_ID,
        "media_type": "CAROUSEL_ALBUM",
        "text": "Pool hours change on Monday #summer",
        "permalink": f"https://www.threads.net/@cityofexample/post/{CODE}",
        "shortcode": CODE,
        "timestamp": "2026-07-01T15:00:00+0000",
        "username": "cityofexample",
        "is_quote_post": True,
        "quoted_post": {"id": "17990001112220000"},
        "children": {
            "data": [
                {"id": "1", "media_type": "IMAGE", "media_url": "https://scontent.example/a.jpg"},
                {"id": "2", "media_type": "IMAGE", "media_url": "https://scontent.example/b.jpg"},
            ]
        },
    }


@pytest.fixture
def replay() -> GraphReplay:
    graph = GraphReplay(app_secret=SECRET, version="v1.0", tokens={TOKEN})
    graph.objects[f"{USER_ID}/threads"] = {"data": [{"id": POST_ID, "shortcode": CODE}]}
    graph.objects[POST_ID] = documented_post()
    graph.objects[f"{POST_ID}/conversation"] = {
        "data": [
            {"id": "900", "text": "Thanks!", "username": "ann", "replied_to": {"id": POST_ID}},
            {"id": "901", "text": "Which pool?", "username": "bo", "replied_to": {"id": "900"}},
        ]
    }
    refresh: dict[str, Any] = recorded("threads", "threads_long_lived_token")
    graph.objects["refresh_access_token"] = dict(refresh, access_token="threads-refreshed-77bb")
    return graph


@pytest.fixture
def server(replay: GraphReplay) -> Iterator[LoopbackServer]:
    with serve(replay) as running:
        yield running


def test_a_post_with_media_a_quote_and_replies(server: LoopbackServer) -> None:
    collector = ThreadsCollector(
        graph_url=f"{server.base_url}/v1.0",
        app_secret=SECRET,
        fetcher=Fetcher(limiter=HostLimiter(), sleep=lambda _s: None),
    )
    target = CaptureTarget(
        post_id=1,
        platform="threads",
        external_id=CODE,
        url=f"https://www.threads.net/@cityofexample/post/{CODE}",
        account_handle="cityofexample",
        account_platform_id=USER_ID,
        access_token=TOKEN,
    )
    with make_client(FetchPolicy(allow_hosts=frozenset({server.host}))) as client:
        result = collector.collect(target, client)
        assert isinstance(result, CollectedPost), result
        assert len(result.media) == 2
        assert result.quote_of is not None
        assert result.hashtags == ["summer"]
        assert [(r.id, r.in_reply_to_id) for r in result.replies] == [("900", None), ("901", "900")]
        revoked = collector.collect(target.model_copy(update={"access_token": "gone"}), client)
        assert isinstance(revoked, NotVisible)
        assert revoked.reconnect


def _threads_connection(db: Database, owner_id: int, expires_at: dt.datetime) -> int:
    with db.session() as session:
        connection = PlatformConnection(
            owner_id=owner_id,
            platform="threads",
            status=ConnectionStatus.active,
            access_token=TOKEN,
            expires_at=expires_at,
        )
        session.add(connection)
        session.flush()
        session.add(
            SocialAccount(
                owner_id=owner_id,
                platform="threads",
                handle="cityofexample",
                profile_url="https://www.threads.net/@cityofexample",
                platform_account_id=USER_ID,
                access_token=TOKEN,
                connection_id=connection.id,
            )
        )
        session.commit()
        return connection.id


def test_the_refresh_job_renews_tokens_before_they_lapse(
    server: LoopbackServer, settings: Settings, db: Database, make_person: MakePerson
) -> None:
    person = make_person()
    job_settings = settings.model_copy(
        update={
            "meta_app_id": "1187654321098765",
            "meta_app_secret": SecretStr(SECRET),
            "threads_graph_url": f"{server.base_url}/v1.0",
            "fetch_allow_hosts": server.host,
        }
    )
    now = utcnow()
    soon = _threads_connection(db, person.user.id, now + dt.timedelta(days=3))
    fetcher = Fetcher.from_settings(job_settings, limiter=HostLimiter())
    with db.session() as session:
        assert connections.refresh_threads_tokens(session, job_settings, fetcher, now=now) == 1
        session.commit()
    with db.session() as session:
        connection = session.get(PlatformConnection, soon)
        assert connection is not None
        assert connection.access_token == "threads-refreshed-77bb"
        assert connection.expires_at is not None
        assert connection.expires_at > now + dt.timedelta(days=50)
        account = session.scalars(select(SocialAccount)).one()
        assert account.access_token == "threads-refreshed-77bb"
        # Run again: nothing is due any more.
        assert connections.refresh_threads_tokens(session, job_settings, fetcher, now=now) == 0


def test_a_lapsed_threads_token_is_reconnect_needed(
    server: LoopbackServer, settings: Settings, db: Database, make_person: MakePerson
) -> None:
    person = make_person()
    job_settings = settings.model_copy(
        update={
            "meta_app_id": "1187654321098765",
            "meta_app_secret": SecretStr(SECRET),
            "threads_graph_url": f"{server.base_url}/v1.0",
            "fetch_allow_hosts": server.host,
        }
    )
    now = utcnow()
    lapsed = _threads_connection(db, person.user.id, now - dt.timedelta(hours=1))
    with db.session() as session:
        fetcher = Fetcher.from_settings(job_settings, limiter=HostLimiter())
        assert connections.refresh_threads_tokens(session, job_settings, fetcher, now=now) == 0
        session.commit()
    with db.session() as session:
        connection = session.get(PlatformConnection, lapsed)
        assert connection is not None
        assert connection.status == ConnectionStatus.reconnect_needed


def test_the_refresh_is_a_scheduled_daily_job(db: Database, settings: Settings) -> None:
    from app.connections.jobs import threads_token_refresh_job
    from app.pipeline import build_capture_context
    from app.worker import job_specs

    ctx = build_capture_context(db, settings, store=LocalStore(settings.archive_dir))
    try:
        specs = {name: trigger for name, _job, trigger in job_specs(db, settings, ctx, ctx.stop)}
    finally:
        ctx.client.close()
    assert specs["connections.threads_token_refresh"] == {"trigger": "interval", "hours": 24}
    threads_token_refresh_job(db, settings)  # nothing connected: nothing to refresh, no error
