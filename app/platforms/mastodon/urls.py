"""Mastodon URLs and handles: https://instance/@user/123, /users/user/statuses/123,
user@instance handles and https://instance/@user profiles (any host: Mastodon is federated)."""

from __future__ import annotations

import re

from app.errors import Invalid
from app.platforms.base import AccountRef, PostRef, UrlParts
from app.platforms.urls import DIGITS, HOST

PLATFORM_ID = "mastodon"
_USER = re.compile(r"^[a-zA-Z0-9_.-]{1,64}$")


def normalise_handle(handle: str) -> str:
    handle = handle.strip().removeprefix("@").lower()
    user, sep, instance = handle.partition("@")
    if not sep or not _USER.match(user) or not HOST.match(instance) or "." not in instance:
        raise Invalid(f"'{handle}' is not a Mastodon handle: use user@instance.example")
    return f"{user}@{instance}"


def account_from_handle(handle: str) -> AccountRef:
    h = normalise_handle(handle)
    user, instance = h.split("@")
    return AccountRef(PLATFORM_ID, h, f"https://{instance}/@{user}")


def account_from_profile_url(url: UrlParts) -> AccountRef | None:
    segments = url.segments
    if len(segments) == 1 and segments[0].startswith("@") and "@" not in segments[0][1:]:
        ref = account_from_handle(f"{segments[0][1:]}@{url.netloc}")
        if url.scheme == "http":  # allowed only for plain-HTTP hosts: kept as given
            return AccountRef(ref.platform, ref.handle, "http" + ref.profile_url[5:])
        return ref
    return None


def parse_post_url(url: UrlParts) -> PostRef | None:
    netloc, segments = url.netloc, url.segments
    if url.scheme not in ("http", "https") or not netloc or not HOST.match(netloc):
        return None
    # /@user/123 and /@user@remote.example/123
    if len(segments) == 2 and segments[0].startswith("@") and DIGITS.match(segments[1]):
        who = segments[0][1:]
        author = normalise_handle(who if "@" in who else f"{who}@{netloc}")
        return PostRef(
            PLATFORM_ID, author, segments[1], f"https://{netloc}/@{who}/{segments[1]}", site=netloc
        )
    # /users/user/statuses/123 (the ActivityPub id form)
    if (
        len(segments) == 4
        and segments[0] == "users"
        and segments[2] == "statuses"
        and DIGITS.match(segments[3])
    ):
        author = normalise_handle(f"{segments[1]}@{netloc}")
        return PostRef(
            PLATFORM_ID,
            author,
            segments[3],
            f"https://{netloc}/@{segments[1]}/{segments[3]}",
            site=netloc,
        )
    return None


def normalise_mastodon(value: str) -> str:
    """A handle as the classifier's configuration and captured authors are compared."""
    return value.strip().lower().removeprefix("@")
