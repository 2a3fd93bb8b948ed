"""Recognise platform accounts and posts from what people paste: pure functions, no I/O."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

from app.accounts.models import Platform
from app.errors import Invalid

_BSKY_HOSTS = {"bsky.app", "www.bsky.app", "staging.bsky.app"}
_YOUTUBE_HOSTS = {"youtube.com", "www.youtube.com", "m.youtube.com", "music.youtube.com"}
_HANDLE = re.compile(r"^(?=.{3,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]*$")
_DID = re.compile(r"^did:(plc|web):[a-zA-Z0-9._:%-]{1,2048}$")
_DIGITS = re.compile(r"^[0-9]{1,30}$")
_RKEY = re.compile(r"^[a-zA-Z0-9._:~-]{1,512}$")
_MASTO_USER = re.compile(r"^[a-zA-Z0-9_.-]{1,64}$")
_HOST = re.compile(r"^(?=.{1,253}$)[a-z0-9.-]+(:\d{1,5})?$")
_YT_ID = re.compile(r"^[A-Za-z0-9_-]{11}$")
_YT_CHANNEL = re.compile(r"^UC[A-Za-z0-9_-]{22}$")
_YT_HANDLE = re.compile(r"^@[A-Za-z0-9._-]{3,30}$")
_TRACKING_PARAMS = ("utm_", "fbclid", "gclid", "mc_cid", "mc_eid")

SUPPORTED = "a Bluesky post (bsky.app/profile/…/post/… or at://…), a Mastodon post (https://instance/@user/id), a YouTube video, or an entry of a blog feed you registered"


@dataclass(frozen=True)
class AccountRef:
    platform: Platform
    handle: str
    profile_url: str


@dataclass(frozen=True)
class PostRef:
    """A post as named by its URL. `author` is matched against registered account handles
    (`feed` posts are matched by site instead); `post_id` is the platform's id."""

    platform: Platform
    author: str | None
    post_id: str
    canonical_url: str
    site: str | None = None  # feed entries and Mastodon: the host the URL is on


def _split(url: str) -> tuple[str, str, str, str, str]:
    url = url.strip()
    if not url:
        raise Invalid("the URL is empty")
    if len(url) > 2048:
        raise Invalid("the URL is longer than 2048 characters")
    if any(c.isspace() for c in url):
        raise Invalid("the URL contains spaces")
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower(), parts.path, parts.query, parts.fragment


def normalise_bluesky_handle(handle: str) -> str:
    handle = handle.strip().removeprefix("@")
    if _DID.match(handle):
        return handle
    handle = handle.lower()
    if not _HANDLE.match(handle):
        raise Invalid(f"'{handle}' is not a Bluesky handle (like name.bsky.social) or a DID")
    return handle


def normalise_mastodon_handle(handle: str) -> str:
    handle = handle.strip().removeprefix("@").lower()
    user, sep, instance = handle.partition("@")
    if not sep or not _MASTO_USER.match(user) or not _HOST.match(instance) or "." not in instance:
        raise Invalid(f"'{handle}' is not a Mastodon handle: use user@instance.example")
    return f"{user}@{instance}"


def normalise_web_url(url: str) -> str:
    """Lower-case scheme and host, drop the fragment and tracking parameters."""
    scheme, netloc, path, query, _fragment = _split(url)
    if scheme not in ("http", "https") or not netloc or not _HOST.match(netloc.split("@")[-1]):
        raise Invalid(f"'{url.strip()}' is not an http(s) URL")
    if "@" in netloc:
        raise Invalid("URLs with a user name or password are not accepted")
    kept = [
        (k, v)
        for k, values in parse_qs(query, keep_blank_values=True).items()
        for v in values
        if not k.lower().startswith(_TRACKING_PARAMS)
    ]
    return urlunsplit((scheme, netloc, path or "/", urlencode(kept), ""))


def normalise_youtube_handle(handle: str) -> str:
    handle = handle.strip()
    if _YT_CHANNEL.match(handle):
        return handle
    if not handle.startswith("@"):
        handle = "@" + handle
    if not _YT_HANDLE.match(handle):
        raise Invalid(f"'{handle}' is not a YouTube handle (@name) or channel id (UC…)")
    return handle.lower()


def account_from_handle(platform: str, handle: str) -> AccountRef:
    try:
        kind = Platform(platform.strip().lower())
    except ValueError:
        raise Invalid(
            f"unknown platform '{platform}': use one of {', '.join(p.value for p in Platform)}"
        ) from None
    if kind is Platform.bluesky:
        h = normalise_bluesky_handle(handle)
        return AccountRef(kind, h, f"https://bsky.app/profile/{h}")
    if kind is Platform.mastodon:
        h = normalise_mastodon_handle(handle)
        user, instance = h.split("@")
        return AccountRef(kind, h, f"https://{instance}/@{user}")
    if kind is Platform.youtube:
        h = normalise_youtube_handle(handle)
        path = f"channel/{h}" if h.startswith("UC") else h
        return AccountRef(kind, h, f"https://www.youtube.com/{path}")
    feed_url = normalise_web_url(handle)
    return AccountRef(kind, feed_url, feed_url)


def account_from_profile_url(url: str) -> AccountRef:
    """A profile page or feed URL: bsky.app/profile/h, https://instance/@user, a YouTube
    channel, or else the URL of a blog's RSS/Atom feed."""
    scheme, netloc, path, _query, _fragment = _split(url)
    if scheme not in ("http", "https"):
        raise Invalid(f"'{url.strip()}' is not an http(s) URL")
    segments = [s for s in path.split("/") if s]
    if netloc in _BSKY_HOSTS:
        if len(segments) >= 2 and segments[0] == "profile":
            return account_from_handle("bluesky", segments[1])
        raise Invalid("a Bluesky profile URL looks like https://bsky.app/profile/name.bsky.social")
    if netloc in _YOUTUBE_HOSTS:
        if segments and segments[0].startswith("@"):
            return account_from_handle("youtube", segments[0])
        if len(segments) >= 2 and segments[0] == "channel":
            return account_from_handle("youtube", segments[1])
        raise Invalid("a YouTube channel URL looks like https://www.youtube.com/@name")
    if len(segments) == 1 and segments[0].startswith("@") and "@" not in segments[0][1:]:
        return account_from_handle("mastodon", f"{segments[0][1:]}@{netloc}")
    return account_from_handle("feed", url)


def parse_post_url(url: str) -> PostRef:
    """Recognise the platform and the post's id, or raise Invalid saying what is supported."""
    scheme, netloc, path, query, _fragment = _split(url)
    segments = [s for s in path.split("/") if s]

    if scheme == "at":
        if len(segments) == 2 and segments[0] == "app.bsky.feed.post" and _RKEY.match(segments[1]):
            author = normalise_bluesky_handle(
                netloc if not netloc.startswith("did") else urlsplit(url.strip()).netloc
            )
            return PostRef(
                Platform.bluesky,
                author,
                segments[1],
                f"https://bsky.app/profile/{author}/post/{segments[1]}",
            )
        raise Invalid(
            "an at:// URI of a post looks like at://<handle or did>/app.bsky.feed.post/<rkey>"
        )
    if scheme not in ("http", "https") or not netloc:
        raise Invalid(f"'{url.strip()}' is not a post URL: expected {SUPPORTED}")

    if netloc in _BSKY_HOSTS:
        if (
            len(segments) == 4
            and segments[0] == "profile"
            and segments[2] == "post"
            and _RKEY.match(segments[3])
        ):
            raw_author = urlsplit(url.strip()).path.split("/")[2]  # DIDs keep their case
            author = normalise_bluesky_handle(raw_author)
            return PostRef(
                Platform.bluesky,
                author,
                segments[3],
                f"https://bsky.app/profile/{author}/post/{segments[3]}",
            )
        raise Invalid("a Bluesky post URL looks like https://bsky.app/profile/<handle>/post/<id>")

    if netloc in _YOUTUBE_HOSTS or netloc == "youtu.be":
        video_id: str | None = None
        if netloc == "youtu.be" and segments:
            video_id = segments[0]
        elif segments[:1] == ["watch"]:
            video_id = next(iter(parse_qs(query).get("v", [])), None)
        elif len(segments) >= 2 and segments[0] in ("shorts", "live", "embed", "v"):
            video_id = segments[1]
        if video_id and _YT_ID.match(video_id):
            return PostRef(
                Platform.youtube, None, video_id, f"https://www.youtube.com/watch?v={video_id}"
            )
        raise Invalid(
            "a YouTube video URL looks like https://www.youtube.com/watch?v=<11-character id>"
        )

    if _HOST.match(netloc):
        # Mastodon: /@user/123, /@user@remote.example/123, /users/user/statuses/123
        if (
            len(segments) == 2
            and segments[0].startswith("@")
            and _DIGITS.match(segments[1]) is not None
        ):
            who = segments[0][1:]
            author = normalise_mastodon_handle(who if "@" in who else f"{who}@{netloc}")
            return PostRef(
                Platform.mastodon,
                author,
                segments[1],
                f"https://{netloc}/@{who}/{segments[1]}",
                site=netloc,
            )
        if (
            len(segments) == 4
            and segments[0] == "users"
            and segments[2] == "statuses"
            and _DIGITS.match(segments[3]) is not None
        ):
            author = normalise_mastodon_handle(f"{segments[1]}@{netloc}")
            return PostRef(
                Platform.mastodon,
                author,
                segments[3],
                f"https://{netloc}/@{segments[1]}/{segments[3]}",
                site=netloc,
            )

    canonical = normalise_web_url(url)
    return PostRef(Platform.feed, None, canonical, canonical, site=urlsplit(canonical).netloc)
