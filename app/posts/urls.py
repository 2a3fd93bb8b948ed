"""Recognise platform accounts and posts from what people paste, by asking the platform
registry (app/platforms/registry.py): each platform's rules live in its own package."""

from __future__ import annotations

from app.platforms.base import AccountRef, PostRef
from app.platforms.registry import registry
from app.platforms.urls import normalise_web_url

__all__ = [
    "AccountRef",
    "PostRef",
    "account_from_handle",
    "account_from_profile_url",
    "normalise_web_url",
    "parse_post_url",
    "supported",
]


def supported() -> str:
    """What post URLs are recognised ("a Bluesky post (…), …, or an entry of a blog feed")."""
    return registry.supported()


def account_from_handle(platform: str, handle: str) -> AccountRef:
    return registry.account_from_handle(platform, handle)


def account_from_profile_url(url: str, platform: str | None = None) -> AccountRef:
    """By form alone: a guess (a feed) is marked `proven=False`; see registry.resolve_account."""
    return registry.account_from_profile_url(url, platform_id=platform)


def parse_post_url(url: str) -> PostRef:
    """The most specific reading of a post URL, or Invalid saying what is supported."""
    return registry.recognise_post(url)[0]
