"""Instagram: URL forms, and the collector against the loopback Graph API replaying the
recorded media list (two pages), carousel, comments and replies."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from app.errors import Invalid
from app.platforms.base import UrlParts
from app.platforms.collected import CaptureTarget, CollectedPost, Deleted
from app.platforms.fetcher import Fetcher
from app.platforms.http import FetchPolicy, make_client
from app.platforms.instagram import urls
from app.platforms.instagram.collector import InstagramCollector
from app.platforms.ratelimit import HostLimiter
from tests.collectors.servers import LoopbackServer, serve
from tests.platforms.meta_replay import GraphReplay, recorded

SECRET = "meta-app-secret-for-tests"
TOKEN = "page-token-mylife-91c2"
IG_ID = "17841407673135339"
CAROUSEL = "17896129349106152"
SHORTCODE = "CRyZpmrjYC4"


@pytest.mark.parametrize(
    "url",
    [
        f"https://www.instagram.com/p/{SHORTCODE}/",
        f"https://instagram.com/reel/{SHORTCODE}",
        f"https://www.instagram.com/tv/{SHORTCODE}/?igsh=abc",
        f"https://www.instagram.com/mylife.city/p/{SHORTCODE}/",
    ],
)
def test_post_forms(url: str) -> None:
    ref = urls.parse_post_url(UrlParts.parse(url))
    assert ref is not None
    assert ref.post_id == SHORTCODE
    assert ref.canonical_url == f"https://www.instagram.com/p/{SHORTCODE}/"


def test_a_profile_is_not_a_post() -> None:
    with pytest.raises(Invalid, match="/p/<shortcode>/"):
        urls.parse_post_url(UrlParts.parse("https://www.instagram.com/mylife.city/"))


def seed(graph: GraphReplay) -> None:
    first: dict[str, Any] = recorded("instagram", "user_media_p1")
    second: dict[str, Any] = recorded("instagram", "user_media_p2")
    graph.objects[f"{IG_ID}/media"] = first
    # The recorded page 1 links page 2 under the account's other id, as recorded.
    graph.objects["17841406338772941/media?after=after"] = second
    carousel = copy.deepcopy(second["data"][0])
    children = carousel.pop("children")
    graph.objects[CAROUSEL] = carousel
    graph.objects[f"{CAROUSEL}/children"] = children
    graph.objects[f"{CAROUSEL}/comments"] = recorded("instagram", "media_comments_p2")
    replies = recorded("instagram", "comment_replies")
    for comment in recorded("instagram", "media_comments_p2")["data"]:
        graph.objects[f"{comment['id']}/replies"] = replies


@pytest.fixture
def replay() -> GraphReplay:
    graph = GraphReplay(app_secret=SECRET, tokens={TOKEN})
    seed(graph)
    return graph


@pytest.fixture
def server(replay: GraphReplay) -> Iterator[LoopbackServer]:
    with serve(replay) as running:
        yield running


@pytest.fixture
def client(server: LoopbackServer) -> Iterator[httpx.Client]:
    with make_client(FetchPolicy(allow_hosts=frozenset({server.host}))) as guarded:
        yield guarded


def collect(
    server: LoopbackServer, client: httpx.Client, validators: dict[str, str] | None = None
) -> Any:
    collector = InstagramCollector(
        graph_url=f"{server.base_url}/v24.0",
        app_secret=SECRET,
        fetcher=Fetcher(limiter=HostLimiter(), sleep=lambda _s: None),
    )
    target = CaptureTarget(
        post_id=1,
        platform="instagram",
        external_id=SHORTCODE,
        url=f"https://www.instagram.com/p/{SHORTCODE}/",
        account_handle="mylife.city",
        account_platform_id=IG_ID,
        access_token=TOKEN,
        validators=validators or {},
    )
    return collector.collect(target, client)


def test_a_carousel_by_shortcode_with_its_children_and_comments(
    server: LoopbackServer, client: httpx.Client
) -> None:
    result = collect(server, client)
    assert isinstance(result, CollectedPost), result
    assert result.post_id == CAROUSEL
    assert result.text == "ALBUM"
    # The three carousel children: two images and a video with its cover.
    assert sorted(m.role for m in result.media) == ["image", "image", "thumbnail", "video"]
    assert result.validators == {"media_id": CAROUSEL}
    direct = [r for r in result.replies if r.in_reply_to_id is None]
    nested = [r for r in result.replies if r.in_reply_to_id is not None]
    assert len(direct) == 2
    assert {r.in_reply_to_id for r in nested} == {c.id for c in direct}


def test_a_caption_edit_changes_the_version_and_a_gone_id_is_a_deletion(
    server: LoopbackServer, client: httpx.Client, replay: GraphReplay
) -> None:
    first = collect(server, client)
    replay.objects[CAROUSEL] = dict(replay.objects[CAROUSEL], caption="ALBUM (corrected)")
    second = collect(server, client, {"media_id": CAROUSEL})
    assert isinstance(first, CollectedPost)
    assert isinstance(second, CollectedPost)
    assert first.platform_version_id != second.platform_version_id
    del replay.objects[CAROUSEL]
    gone = collect(server, client, {"media_id": CAROUSEL})
    assert isinstance(gone, Deleted), gone
