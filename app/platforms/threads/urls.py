"""Threads post URLs: https://www.threads.net/@<user>/post/<code> (and threads.com)."""

from __future__ import annotations

import re

from app.errors import Invalid
from app.platforms.base import AccountRef, PostRef, UrlParts

PLATFORM_ID = "threads"
HOSTS = {"threads.net", "www.threads.net", "threads.com", "www.threads.com"}
_CODE = re.compile(r"^[A-Za-z0-9_-]{5,40}$")
_USERNAME = re.compile(r"^[A-Za-z0-9._]{1,30}$")


def post_url(username: str, code: str) -> str:
    return f"https://www.threads.net/@{username}/post/{code}"


def parse_post_url(url: UrlParts) -> PostRef | None:
    if url.scheme not in ("http", "https") or url.netloc not in HOSTS:
        return None
    segments = url.segments
    if (
        len(segments) >= 3
        and segments[0].startswith("@")
        and _USERNAME.match(segments[0][1:])
        and segments[1] == "post"
        and _CODE.match(segments[2])
    ):
        user = segments[0][1:].lower()
        return PostRef(PLATFORM_ID, user, segments[2], post_url(user, segments[2]))
    raise Invalid("a Threads post URL looks like https://www.threads.net/@<user>/post/<code>")


def account_from_handle(handle: str) -> AccountRef:
    name = handle.strip().removeprefix("@").lower()
    if not _USERNAME.match(name):
        raise Invalid(f"'{handle}' is not a Threads username")
    return AccountRef(PLATFORM_ID, name, f"https://www.threads.net/@{name}")


def account_from_profile_url(url: UrlParts) -> AccountRef | None:
    if url.netloc not in HOSTS:
        return None
    segments = url.segments
    if len(segments) == 1 and segments[0].startswith("@"):
        return account_from_handle(segments[0])
    raise Invalid("a Threads profile URL looks like https://www.threads.net/@<user>")
