"""Which links may be drawn as links in rendered output (snapshot PDFs and web pages)."""

from __future__ import annotations

from urllib.parse import urlsplit

WEB_SCHEMES = frozenset({"http", "https"})


def web_url(url: str | None) -> str | None:
    """The URL when it is an absolute http(s) address, else None (drawn as text, not a link).

    A `javascript:`, `data:` or `file:` address from platform data (a profile, a link card, a
    reply) must never become a live link. Anything holding whitespace or control characters
    is refused whole: browsers and PDF viewers strip them, so `java\\tscript:` would otherwise
    pass a scheme check.
    """
    if not url or any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in WEB_SCHEMES or not parts.netloc:
        return None
    return url
