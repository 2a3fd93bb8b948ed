from __future__ import annotations

import pytest

from app.collectors.registry import COLLECTORS, UnknownPlatform, collector_for
from app.config import Settings
from app.platforms.feed.collector import FeedCollector
from app.platforms.mastodon.collector import MastodonCollector
from app.platforms.ratelimit import HostLimiter, shared_limiter
from app.platforms.youtube.collector import YouTubeCollector


def test_each_platform_has_its_collector() -> None:
    settings = Settings(
        youtube_api_key="k",
        youtube_api_url="http://127.0.0.1:9/yt/",
        fetch_max_bytes=1234,
        mastodon_plain_http_instances="127.0.0.1:3000, Dev.Example",
    )
    mastodon = collector_for("mastodon", settings)
    assert isinstance(mastodon, MastodonCollector)
    assert mastodon.plain_http_instances == frozenset({"127.0.0.1:3000", "dev.example"})
    assert mastodon.max_bytes == 1234
    assert mastodon.limiter is shared_limiter
    assert isinstance(collector_for("feed", settings), FeedCollector)
    youtube = collector_for("youtube", settings)
    assert isinstance(youtube, YouTubeCollector)
    assert (youtube.api_url, youtube.api_key) == ("http://127.0.0.1:9/yt", "k")
    for platform in COLLECTORS:
        collector = collector_for(platform, settings)
        assert collector.platform == platform
        assert collector.version.startswith(f"{platform}/")


def test_a_limiter_can_be_given() -> None:
    limiter = HostLimiter()
    collector = collector_for("feed", Settings(), limiter=limiter)
    assert isinstance(collector, FeedCollector)
    assert collector.limiter is limiter


def test_an_unknown_platform() -> None:
    with pytest.raises(UnknownPlatform, match="no collector for platform 'myspace'"):
        collector_for("myspace", Settings())
