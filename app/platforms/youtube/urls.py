"""YouTube URLs and handles: watch, youtu.be, shorts, live and embed URLs; @handles and
channel ids."""

from __future__ import annotations

import re
from urllib.parse import parse_qs

from app.errors import Invalid
from app.platforms.base import AccountRef, PostRef, UrlParts

PLATFORM_ID = "youtube"
HOSTS = {"youtube.com", "www.youtube.com", "m.youtube.com", "music.youtube.com"}
SHORT_HOST = "youtu.be"
_VIDEO_ID = re.compile(r"^[A-Za-z0-9_-]{11}$")
_CHANNEL = re.compile(r"^UC[A-Za-z0-9_-]{22}$")
_HANDLE = re.compile(r"^@[A-Za-z0-9._-]{3,30}$")


def normalise_handle(handle: str) -> str:
    handle = handle.strip()
    if _CHANNEL.match(handle):
        return handle
    if not handle.startswith("@"):
        handle = "@" + handle
    if not _HANDLE.match(handle):
        raise Invalid(f"'{handle}' is not a YouTube handle (@name) or channel id (UC…)")
    return handle.lower()


def account_from_handle(handle: str) -> AccountRef:
    h = normalise_handle(handle)
    path = f"channel/{h}" if h.startswith("UC") else h
    return AccountRef(PLATFORM_ID, h, f"https://www.youtube.com/{path}")


def account_from_profile_url(url: UrlParts) -> AccountRef | None:
    if url.netloc not in HOSTS:
        return None
    segments = url.segments
    if segments and segments[0].startswith("@"):
        return account_from_handle(segments[0])
    if len(segments) >= 2 and segments[0] == "channel":
        return account_from_handle(segments[1])
    raise Invalid("a YouTube channel URL looks like https://www.youtube.com/@name")


def watch_url(video_id: str) -> str:
    return f"https://www.youtube.com/watch?v={video_id}"


def parse_post_url(url: UrlParts) -> PostRef | None:
    netloc, segments = url.netloc, url.segments
    if url.scheme not in ("http", "https") or (netloc not in HOSTS and netloc != SHORT_HOST):
        return None
    video_id: str | None = None
    if netloc == SHORT_HOST and segments:
        video_id = segments[0]
    elif segments[:1] == ["watch"]:
        video_id = next(iter(parse_qs(url.query).get("v", [])), None)
    elif len(segments) >= 2 and segments[0] in ("shorts", "live", "embed", "v"):
        video_id = segments[1]
    if video_id and _VIDEO_ID.match(video_id):
        return PostRef(PLATFORM_ID, None, video_id, watch_url(video_id))
    raise Invalid(
        "a YouTube video URL looks like https://www.youtube.com/watch?v=<11-character id>"
    )


def normalise_youtube(value: str) -> str:
    """A handle as the classifier's configuration and captured authors are compared."""
    value = value.strip()
    # Handles ignore case; channel ids (UC...) do not.
    return value.lower() if value.startswith("@") else value
