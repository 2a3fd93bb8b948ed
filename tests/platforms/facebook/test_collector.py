"""The Facebook collector against a loopback Graph API replaying recorded answers."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from app.platforms.collected import CaptureTarget, CollectedPost, Deleted, NotVisible, RateLimited
from app.platforms.facebook.collector import FacebookCollector
from app.platforms.fetcher import Fetcher
from app.platforms.http import FetchPolicy, make_client
from app.platforms.ratelimit import HostLimiter
from tests.collectors.servers import LoopbackServer, serve
from tests.platforms.meta_replay import GraphReplay, graph_error, recorded

SECRET = "meta-app-secret-for-tests"
PAGE_TOKEN = "page-token-mylife-91c2"
PAGE_ID = "19292868552"
STORY = "10158349356748553"
PFBID = "pfbid02Zk1bXw8yWBAuhqdqTfTbyBxQ2AQgybWZ1fqsqbVnyKCnP2Ffn8oBPqySzwiKtkpGl"


def no_sleep(_seconds: float) -> None:
    pass


def page_feed_with_pfbid() -> dict[str, Any]:
    """The recorded feed page, its first post's permalink in today's pfbid form (Meta
    changed permalinks to pfbid after the recording)."""
    feed: dict[str, Any] = copy.deepcopy(recorded("facebook", "page_feed_p1"))
    feed["data"][0]["permalink_url"] = f"https://www.facebook.com/{PAGE_ID}/posts/{PFBID}"
    feed["paging"].pop("next")
    return feed


@pytest.fixture
def replay() -> GraphReplay:
    graph = GraphReplay(app_secret=SECRET, tokens={PAGE_TOKEN})
    feed = page_feed_with_pfbid()
    graph.objects[f"{PAGE_ID}/feed"] = feed
    graph.objects[f"{PAGE_ID}_{STORY}"] = feed["data"][0]
    graph.objects[f"{PAGE_ID}_{STORY}/comments"] = recorded("facebook", "post_comments_p2")
    return graph


@pytest.fixture
def server(replay: GraphReplay) -> Iterator[LoopbackServer]:
    with serve(replay) as running:
        yield running


@pytest.fixture
def client(server: LoopbackServer) -> Iterator[httpx.Client]:
    with make_client(FetchPolicy(allow_hosts=frozenset({server.host}))) as guarded:
        yield guarded


def collector(server: LoopbackServer, limiter: HostLimiter | None = None) -> FacebookCollector:
    fetcher = Fetcher(limiter=limiter or HostLimiter(), sleep=no_sleep)
    return FacebookCollector(
        graph_url=f"{server.base_url}/v24.0", app_secret=SECRET, fetcher=fetcher
    )


def target(post: str = f"posts/{PFBID}", token: str | None = PAGE_TOKEN) -> CaptureTarget:
    return CaptureTarget(
        post_id=1,
        platform="facebook",
        external_id=f"{PAGE_ID}/{post}",
        url=f"https://www.facebook.com/{PAGE_ID}/{post}",
        account_handle="facebookfordevelopers",
        account_platform_id=PAGE_ID,
        access_token=token,
    )


def test_a_pfbid_post_is_captured_with_photos_and_threaded_comments(
    server: LoopbackServer, client: httpx.Client
) -> None:
    result = collector(server).collect(target(), client)
    assert isinstance(result, CollectedPost), result
    assert result.post_id == f"{PAGE_ID}_{STORY}"
    assert result.text.startswith("Singaporean logistics company Ninja Van")
    assert result.url.endswith(f"/posts/{PFBID}")
    assert [m.role for m in result.media] == ["image"]
    assert result.media[0].url.startswith("https://scontent-ssn1-1.xx.fbcdn.net/")
    assert len(result.replies) == 5
    reply = result.replies[1]
    assert reply.id == "10158413660043553"
    assert reply.in_reply_to_id == "10158412899928553"  # a reply to the first comment
    assert result.platform_version_id == result.source[f"GET /{PAGE_ID}_{STORY}"].get(
        "updated_time"
    )
    # The token travels in the header, with its proof; never in a URL.
    for request in server.requests:
        assert PAGE_TOKEN not in request.path
        assert request.headers["authorization"] == f"Bearer {PAGE_TOKEN}"
        assert "appsecret_proof=" in request.query
    assert PAGE_TOKEN not in json.dumps(result.model_dump(mode="json"))


def test_an_edit_is_a_new_version_id(
    server: LoopbackServer, client: httpx.Client, replay: GraphReplay
) -> None:
    first = collector(server).collect(target(f"posts/{STORY}"), client)
    edited = dict(replay.objects[f"{PAGE_ID}_{STORY}"])
    edited["message"] = "Corrected: " + edited["message"]
    edited["updated_time"] = "2021-07-10T08:00:00+0000"
    replay.objects[f"{PAGE_ID}_{STORY}"] = edited
    second = collector(server).collect(target(f"posts/{STORY}"), client)
    assert isinstance(first, CollectedPost)
    assert isinstance(second, CollectedPost)
    assert first.platform_version_id != second.platform_version_id
    assert second.text.startswith("Corrected: ")


def test_a_deleted_post_is_a_deletion(
    server: LoopbackServer, client: httpx.Client, replay: GraphReplay
) -> None:
    del replay.objects[f"{PAGE_ID}_{STORY}"]
    result = collector(server).collect(target(f"posts/{STORY}"), client)
    assert isinstance(result, Deleted), result
    assert "no longer exists" in result.reason


def test_an_expired_token_asks_for_a_reconnect(
    server: LoopbackServer, client: httpx.Client, replay: GraphReplay
) -> None:
    replay.expired.add(PAGE_TOKEN)
    result = collector(server).collect(target(), client)
    assert isinstance(result, NotVisible), result
    assert result.reconnect


def test_a_missing_permission_asks_for_a_reconnect(
    server: LoopbackServer, client: httpx.Client, replay: GraphReplay
) -> None:
    missing = recorded("facebook", "error_100_missing_permission")
    from tests.collectors.servers import Answer

    replay.errors[f"{PAGE_ID}_{STORY}"] = Answer.json(missing, status=400)
    result = collector(server).collect(target(f"posts/{STORY}"), client)
    assert isinstance(result, NotVisible), result
    assert result.reconnect


def test_a_throttle_code_pauses_the_host(
    server: LoopbackServer, client: httpx.Client, replay: GraphReplay
) -> None:
    replay.errors[f"{PAGE_ID}_{STORY}"] = graph_error(4, "Application request limit reached")
    limiter = HostLimiter()
    result = collector(server, limiter).collect(target(f"posts/{STORY}"), client)
    assert isinstance(result, RateLimited), result
    assert limiter.paused_until(server.host) is not None


def test_usage_headers_near_the_limit_slow_the_host(
    server: LoopbackServer, client: httpx.Client, replay: GraphReplay
) -> None:
    replay.headers = [("X-App-Usage", json.dumps({"call_count": 97, "total_time": 20}))]
    limiter = HostLimiter()
    result = collector(server, limiter).collect(target(f"posts/{STORY}"), client)
    assert isinstance(result, RateLimited | CollectedPost)
    assert limiter.paused_until(server.host) is not None
