"""Podcasts: an account is the URL of a podcast's RSS feed; an episode is named by its link,
its guid (when the guid is a URL) or its page on the podcast's site. Pure functions, no I/O.

Near-misses are refused with a sentence naming Podcasts: the feed itself, the podcast's home
page, a search page of its site, and the directory pages (Apple Podcasts, Spotify) that show
an episode without being its feed's record of it.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from app.errors import Invalid
from app.platforms.base import AccountRef, PostRef, UrlParts, site_of
from app.platforms.urls import normalise_web_url

PLATFORM_ID = "podcast"
NAME = "Podcasts"
EPISODE_FORM = (
    "the episode's link or guid URL from the podcast's feed, or its page on the podcast's site"
)
# Directories that list episodes of feeds they do not publish: not an episode's record.
DIRECTORY_HOSTS = {
    "podcasts.apple.com": "Apple Podcasts",
    "itunes.apple.com": "Apple Podcasts",
    "open.spotify.com": "Spotify",
    "podcasts.google.com": "Google Podcasts",
    "overcast.fm": "Overcast",
    "pca.st": "Pocket Casts",
}
_SEARCH_PATHS = {"search", "suche", "recherche"}
_SEARCH_PARAMS = {"s", "q", "query", "search"}


def account_from_feed_url(url: str) -> AccountRef:
    """An unproven podcast account: discovery fetches the feed and checks it is a podcast."""
    feed_url = normalise_web_url(url)
    return AccountRef(PLATFORM_ID, feed_url, feed_url, proven=False)


def proven_account(feed_url: str) -> AccountRef:
    feed = normalise_web_url(feed_url)
    return AccountRef(PLATFORM_ID, feed, feed)


def parse_post_url(url: UrlParts) -> PostRef | None:
    """Any web URL may be an episode of a registered podcast: claimed by site only, except
    on the directories, which are refused (422) as not an episode's own address."""
    if not url.is_web:
        return None
    directory = DIRECTORY_HOSTS.get(url.netloc.removeprefix("www."))
    if directory is not None:
        raise Invalid(
            f"'{url.raw}' is a {directory} page, not a podcast episode's own address: "
            f"{NAME} captures an episode from the podcast's feed; flag {EPISODE_FORM}"
        )
    canonical = normalise_web_url(url.raw)
    return PostRef(
        PLATFORM_ID, None, canonical, canonical, site=urlsplit(canonical).netloc, by_site=True
    )


def near_miss(ref: PostRef, feed_url: str) -> str | None:
    """Why `ref`, on the site of the podcast whose feed is `feed_url`, is not an episode
    (None when it may be one)."""
    parts = urlsplit(ref.canonical_url)
    path = parts.path.strip("/")
    if normalise_feed(ref.canonical_url) == normalise_feed(feed_url):
        return (
            f"'{ref.canonical_url}' is the {NAME} feed itself, not an episode: flag {EPISODE_FORM}"
        )
    segments = [s.lower() for s in path.split("/") if s]
    query = {k.lower() for k in parse_qs(parts.query)}
    if (segments and segments[0] in _SEARCH_PATHS) or (not segments and query & _SEARCH_PARAMS):
        return f"'{ref.canonical_url}' is a search page of the podcast's site, not an episode: flag {EPISODE_FORM}"
    if not segments and not parts.query:
        return (
            f"'{ref.canonical_url}' is the podcast's home page (its profile), not an episode: "
            f"flag {EPISODE_FORM}"
        )
    return None


def same_site(url: str, feed_url: str) -> bool:
    return site_of(url) == site_of(feed_url)


def normalise_feed(value: str) -> str:
    """A feed URL as the classifier's configuration and captured authors are compared."""
    parts = urlsplit(value.strip())
    path = parts.path.rstrip("/")
    query = f"?{parts.query}" if parts.query else ""
    return f"{parts.scheme.lower()}://{parts.netloc.lower().removeprefix('www.')}{path}{query}"
