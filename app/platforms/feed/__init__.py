"""Blog feeds (RSS and Atom): an entry is found in its account's feed and checked at its
permalink."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from app.platforms.base import (
    A,
    AccountRef,
    Platform,
    PostRef,
    UrlForm,
    UrlParts,
    site_of,
)
from app.platforms.feed import urls
from app.platforms.feed.urls import normalise_feed

if TYPE_CHECKING:
    from app.config import Settings
    from app.platforms.collected import Author, Collector
    from app.platforms.fetcher import Fetcher, FetchSession


class Feed(Platform):
    id = urls.PLATFORM_ID
    name = "Blog feed"
    record_name = "Web feed"
    phrase_name = "feed"
    supported = "an entry of a blog feed you registered"
    handle_help = "the address of the blog's RSS or Atom feed"
    url_forms: ClassVar[tuple[UrlForm, ...]] = (
        UrlForm(
            "post", "any page on the site of a registered feed: https://blog.example/2026/entry"
        ),
        UrlForm("account", "the feed's URL: https://blog.example/feed.xml"),
        UrlForm("account", 'a blog page whose `<link rel="alternate">` names its feed'),
    )
    order = 1000  # the catch-all: every other platform is asked first
    site_bound = True
    post_noun = "feed entry"

    def parse_post_url(self, url: UrlParts) -> PostRef | None:
        return urls.parse_post_url(url)

    def account_from_handle(self, handle: str) -> AccountRef:
        return urls.account_from_feed_url(handle)

    def account_from_profile_url(self, url: UrlParts) -> AccountRef | None:
        return urls.guess_from_profile_url(url)

    def profile_url_for(self, url: UrlParts) -> AccountRef:
        # `{"platform": "feed", "profile_url": ...}`: the employee says it is the feed.
        return urls.account_from_feed_url(url.raw)

    def discover_account(self, url: UrlParts, http: FetchSession) -> AccountRef | None:
        from app.platforms.feed.discovery import find_feed

        found = find_feed(urls.account_from_feed_url(url.raw).handle, http)
        return urls.account_from_feed_url(found) if found else None

    def match_account(self, ref: PostRef, accounts: Sequence[A]) -> A | None:
        site = (ref.site or "").removeprefix("www.")
        for account in accounts:
            if site_of(account.handle) == site:
                return account
        return None

    def collector(self, settings: Settings, fetcher: Fetcher) -> Collector:
        from app.platforms.feed.collector import FeedCollector

        return FeedCollector(fetcher)

    def author_ids(self, author: Author) -> list[str]:
        return [normalise_feed(v) for v in (author.handle, author.profile_url) if v and "://" in v]


PLATFORM = Feed()
