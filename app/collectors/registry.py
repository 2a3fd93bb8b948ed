"""Which collector captures which platform: one explicit table, no discovery."""

from __future__ import annotations

from collections.abc import Callable

from app.collectors.base import Collector
from app.collectors.bluesky import BlueskyCollector
from app.collectors.feed import FeedCollector
from app.collectors.mastodon import MastodonCollector
from app.collectors.ratelimit import HostLimiter, shared_limiter
from app.collectors.youtube import YouTubeCollector
from app.config import Settings


class UnknownPlatform(ValueError):
    def __init__(self, platform: str) -> None:
        super().__init__(
            f"no collector for platform '{platform}' (known: {', '.join(sorted(COLLECTORS))})"
        )
        self.platform = platform


def _bluesky(settings: Settings, limiter: HostLimiter) -> Collector:
    return BlueskyCollector(
        resolver_url=settings.bluesky_resolver_url,
        plc_url=settings.bluesky_plc_url,
        appview_url=settings.bluesky_appview_url,
        limiter=limiter,
        max_bytes=settings.fetch_max_bytes,
    )


def _mastodon(settings: Settings, limiter: HostLimiter) -> Collector:
    plain_http = frozenset(
        h.strip().lower() for h in settings.mastodon_plain_http_instances.split(",") if h.strip()
    )
    return MastodonCollector(
        limiter=limiter, max_bytes=settings.fetch_max_bytes, plain_http_instances=plain_http
    )


def _feed(settings: Settings, limiter: HostLimiter) -> Collector:
    return FeedCollector(limiter=limiter, max_bytes=settings.fetch_max_bytes)


def _youtube(settings: Settings, limiter: HostLimiter) -> Collector:
    return YouTubeCollector(
        api_url=settings.youtube_api_url,
        api_key=settings.youtube_api_key,
        limiter=limiter,
        max_bytes=settings.fetch_max_bytes,
    )


COLLECTORS: dict[str, Callable[[Settings, HostLimiter], Collector]] = {
    "bluesky": _bluesky,
    "mastodon": _mastodon,
    "feed": _feed,
    "youtube": _youtube,
}


def collector_for(
    platform: str, settings: Settings, *, limiter: HostLimiter | None = None
) -> Collector:
    """The collector for `platform`, sharing the process-wide host limiter unless given one."""
    try:
        factory = COLLECTORS[platform]
    except KeyError:
        raise UnknownPlatform(platform) from None
    return factory(settings, limiter or shared_limiter)
