"""Blog feeds: an account is the URL of an RSS or Atom feed; a post is any page on its site."""

from __future__ import annotations

from urllib.parse import urlsplit

from app.platforms.base import AccountRef, PostRef, UrlParts
from app.platforms.urls import normalise_web_url

PLATFORM_ID = "feed"


def account_from_feed_url(url: str) -> AccountRef:
    feed_url = normalise_web_url(url)
    return AccountRef(PLATFORM_ID, feed_url, feed_url)


def guess_from_profile_url(url: UrlParts) -> AccountRef | None:
    """Any web URL could be a feed: a guess, until discovery finds and parses one there."""
    if not url.is_web:
        return None
    ref = account_from_feed_url(url.raw)
    return AccountRef(ref.platform, ref.handle, ref.profile_url, proven=False)


def parse_post_url(url: UrlParts) -> PostRef | None:
    """Any web URL may be an entry of a registered blog: claimed by site only."""
    if not url.is_web:
        return None
    canonical = normalise_web_url(url.raw)
    return PostRef(
        PLATFORM_ID, None, canonical, canonical, site=urlsplit(canonical).netloc, by_site=True
    )


def normalise_feed(value: str) -> str:
    """A handle as the classifier's configuration and captured authors are compared."""
    parts = urlsplit(value.strip())
    path = parts.path.rstrip("/")
    query = f"?{parts.query}" if parts.query else ""
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{path}{query}"
