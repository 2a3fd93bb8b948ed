"""Is there a feed at this URL? Fetch it; accept an RSS/Atom document, or follow an HTML
page's <link rel="alternate"> to one, and accept it only when it parses as a feed."""

from __future__ import annotations

import xml.sax
from html.parser import HTMLParser
from urllib.parse import urljoin

import feedparser

from app.platforms.fetcher import FetchSession
from app.platforms.http import FetchRefused, ResponseTooLarge
from app.platforms.ratelimit import HostPaused, TransientHTTPError

FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/feed+xml")
_ACCEPT = "application/atom+xml, application/rss+xml, application/xml;q=0.9, text/html;q=0.8"
DISCOVERY_MAX_BYTES = 5 * 1024 * 1024


class _AlternateLinks(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "link":
            return
        values = {k.lower(): (v or "") for k, v in attrs}
        rels = values.get("rel", "").lower().split()
        if "alternate" in rels and values.get("type", "").lower() in FEED_TYPES:
            href = values.get("href", "").strip()
            if href:
                self.hrefs.append(href)


def _is_feed(content: bytes, url: str, content_type: str) -> bool:
    headers = {"content-location": url}
    if "charset=" in content_type.lower():
        headers["content-type"] = content_type
    parsed = feedparser.parse(content, response_headers=headers, sanitize_html=False)
    # The collector's own test (collector.py `_parse`): well-formed, decodable, RSS or Atom.
    problem = parsed.get("bozo_exception")
    if isinstance(problem, xml.sax.SAXParseException | feedparser.CharacterEncodingUnknown):
        return False
    return bool(parsed.get("version"))


def find_feed(url: str, http: FetchSession) -> str | None:
    """The URL of a feed found and parsed at `url` (itself, or the page's alternate link)."""
    try:
        response = http.get(url, headers={"Accept": _ACCEPT}, max_bytes=DISCOVERY_MAX_BYTES)
        if response.status_code != 200:
            return None
        content_type = response.headers.get("content-type", "")
        if _is_feed(response.content, str(response.url), content_type):
            return url
        if "html" not in content_type.lower():
            return None
        links = _AlternateLinks()
        links.feed(response.text)
        for href in links.hrefs[:3]:
            candidate = urljoin(str(response.url), href)
            feed = http.get(candidate, headers={"Accept": _ACCEPT}, max_bytes=DISCOVERY_MAX_BYTES)
            if feed.status_code == 200 and _is_feed(
                feed.content, str(feed.url), feed.headers.get("content-type", "")
            ):
                return candidate
    except (FetchRefused, ResponseTooLarge, HostPaused, TransientHTTPError):
        return None
    return None
