"""Bluesky URLs and handles: bsky.app profile and post URLs, at:// URIs, handles and DIDs."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from app.errors import Invalid
from app.platforms.base import AccountRef, PostRef, UrlParts

PLATFORM_ID = "bluesky"
HOSTS = {"bsky.app", "www.bsky.app", "staging.bsky.app"}
_HANDLE = re.compile(r"^(?=.{3,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]*$")
_DID = re.compile(r"^did:(plc|web):[a-zA-Z0-9._:%-]{1,2048}$")
_RKEY = re.compile(r"^[a-zA-Z0-9._:~-]{1,512}$")


def normalise_handle(handle: str) -> str:
    handle = handle.strip().removeprefix("@")
    if _DID.match(handle):
        return handle
    handle = handle.lower()
    if not _HANDLE.match(handle):
        raise Invalid(f"'{handle}' is not a Bluesky handle (like name.bsky.social) or a DID")
    return handle


def account_from_handle(handle: str) -> AccountRef:
    h = normalise_handle(handle)
    return AccountRef(PLATFORM_ID, h, f"https://bsky.app/profile/{h}")


def account_from_profile_url(url: UrlParts) -> AccountRef | None:
    if url.netloc not in HOSTS:
        return None
    segments = url.segments
    if len(segments) >= 2 and segments[0] == "profile":
        return account_from_handle(segments[1])
    raise Invalid("a Bluesky profile URL looks like https://bsky.app/profile/name.bsky.social")


def post_url(author: str, rkey: str) -> str:
    return f"https://bsky.app/profile/{author}/post/{rkey}"


def parse_post_url(url: UrlParts) -> PostRef | None:
    segments = url.segments
    if url.scheme == "at":
        if len(segments) == 2 and segments[0] == "app.bsky.feed.post" and _RKEY.match(segments[1]):
            netloc = url.netloc
            author = normalise_handle(
                netloc if not netloc.startswith("did") else urlsplit(url.raw).netloc
            )
            return PostRef(PLATFORM_ID, author, segments[1], post_url(author, segments[1]))
        raise Invalid(
            "an at:// URI of a post looks like at://<handle or did>/app.bsky.feed.post/<rkey>"
        )
    if url.scheme not in ("http", "https") or url.netloc not in HOSTS:
        return None
    if (
        len(segments) == 4
        and segments[0] == "profile"
        and segments[2] == "post"
        and _RKEY.match(segments[3])
    ):
        raw_author = urlsplit(url.raw).path.split("/")[2]  # DIDs keep their case
        author = normalise_handle(raw_author)
        return PostRef(PLATFORM_ID, author, segments[3], post_url(author, segments[3]))
    raise Invalid("a Bluesky post URL looks like https://bsky.app/profile/<handle>/post/<id>")


def normalise_bluesky(value: str) -> str:
    """A handle as the classifier's configuration and captured authors are compared."""
    return value.strip().lower().removeprefix("@")
