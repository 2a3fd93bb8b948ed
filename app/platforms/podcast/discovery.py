"""Is there a podcast at this URL? The blog feed's discovery finds and parses a feed (the URL
itself, or the page's alternate link); a podcast is a feed with `itunes:` tags or audio
enclosures. A feed without either is refused with a sentence: it is a blog feed."""

from __future__ import annotations

import feedparser

from app.errors import Invalid
from app.platforms.feed.discovery import DISCOVERY_MAX_BYTES, find_feed
from app.platforms.fetcher import FetchSession
from app.platforms.http import FetchRefused, ResponseTooLarge
from app.platforms.podcast.parse import is_podcast
from app.platforms.ratelimit import HostPaused, TransientHTTPError


def find_podcast_feed(url: str, http: FetchSession) -> str | None:
    feed_url = find_feed(url, http)
    if feed_url is None:
        return None
    try:
        response = http.get(feed_url, max_bytes=DISCOVERY_MAX_BYTES)
    except (FetchRefused, ResponseTooLarge, HostPaused, TransientHTTPError):
        return None
    if response.status_code != 200:
        return None
    parsed = feedparser.parse(response.content, sanitize_html=False)
    if not is_podcast(parsed):
        raise Invalid(
            f"{feed_url} is a feed without audio enclosures or itunes: tags, not a podcast: "
            "register it as a blog feed (platform feed)"
        )
    return feed_url
