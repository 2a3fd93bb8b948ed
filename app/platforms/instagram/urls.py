"""Instagram post URLs: /p/<shortcode>/, /reel/<shortcode>/, /tv/<shortcode>/ (also under
/<username>/). The shortcode is matched to a media id by the collector."""

from __future__ import annotations

import re

from app.errors import Invalid
from app.platforms.base import AccountRef, PostRef, UrlParts

PLATFORM_ID = "instagram"
HOSTS = {"instagram.com", "www.instagram.com", "m.instagram.com"}
_SHORTCODE = re.compile(r"^[A-Za-z0-9_-]{5,40}$")
_USERNAME = re.compile(r"^[A-Za-z0-9._]{1,30}$")
_KINDS = ("p", "reel", "reels", "tv")


def post_url(shortcode: str) -> str:
    return f"https://www.instagram.com/p/{shortcode}/"


def parse_post_url(url: UrlParts) -> PostRef | None:
    if url.scheme not in ("http", "https") or url.netloc not in HOSTS:
        return None
    segments = url.segments
    if len(segments) >= 3 and segments[1] in _KINDS:
        segments = segments[1:]  # /<username>/p/<shortcode>/
    if len(segments) >= 2 and segments[0] in _KINDS and _SHORTCODE.match(segments[1]):
        return PostRef(PLATFORM_ID, None, segments[1], post_url(segments[1]))
    raise Invalid("an Instagram post URL looks like https://www.instagram.com/p/<shortcode>/")


def account_from_handle(handle: str) -> AccountRef:
    name = handle.strip().removeprefix("@").lower()
    if not _USERNAME.match(name):
        raise Invalid(f"'{handle}' is not an Instagram username")
    return AccountRef(PLATFORM_ID, name, f"https://www.instagram.com/{name}/")


def account_from_profile_url(url: UrlParts) -> AccountRef | None:
    if url.netloc not in HOSTS:
        return None
    segments = url.segments
    if len(segments) == 1 and _USERNAME.match(segments[0]):
        return account_from_handle(segments[0])
    raise Invalid("an Instagram profile URL looks like https://www.instagram.com/<username>/")
