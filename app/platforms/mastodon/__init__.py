"""Mastodon: statuses on any instance, read from the instance's REST API."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar
from urllib.parse import urlsplit

from app.platforms.base import (
    AccountRef,
    Platform,
    PostRef,
    RegisteredAccount,
    UrlForm,
    UrlParts,
)
from app.platforms.mastodon import urls
from app.platforms.mastodon.urls import normalise_mastodon

if TYPE_CHECKING:
    from app.config import Settings
    from app.platforms.collected import Author, Collector
    from app.platforms.fetcher import Fetcher


class Mastodon(Platform):
    id = urls.PLATFORM_ID
    name = "Mastodon"
    supported = "a Mastodon post (https://instance/@user/id)"
    handle_help = "you@mastodon.social"
    url_forms: ClassVar[tuple[UrlForm, ...]] = (
        UrlForm("post", "https://mastodon.social/@alice/111222333444555666"),
        UrlForm("post", "https://mastodon.social/users/alice/statuses/111222333444555666"),
        UrlForm("account", "https://mastodon.social/@alice"),
        UrlForm("handle", "alice@mastodon.social"),
    )
    settings = ("fetch_plain_http_hosts",)
    # After the fixed-host platforms: /@user/123 on youtube.com is not a toot.
    order = 50

    def parse_post_url(self, url: UrlParts) -> PostRef | None:
        return urls.parse_post_url(url)

    def account_from_handle(self, handle: str) -> AccountRef:
        return urls.account_from_handle(handle)

    def account_from_profile_url(self, url: UrlParts) -> AccountRef | None:
        return urls.account_from_profile_url(url)

    def external_id(self, ref: PostRef, account: RegisteredAccount) -> str:
        return f"{ref.site}/{ref.post_id}"

    def collector(self, settings: Settings, fetcher: Fetcher) -> Collector:
        from app.platforms.mastodon.collector import MastodonCollector

        return MastodonCollector(fetcher)

    def author_ids(self, author: Author) -> list[str]:
        ids: list[str] = []
        handle = normalise_mastodon(author.handle)
        ids.append(handle)
        if "@" not in handle and author.profile_url:
            # A local account ("cityofexample") is user@host of its profile URL.
            host = urlsplit(author.profile_url).hostname
            if host:
                ids.append(f"{handle}@{host.lower()}")
        if author.profile_url:
            parts = urlsplit(author.profile_url)
            user = parts.path.strip("/").removeprefix("@")
            if parts.hostname and user and "/" not in user:
                ids.append(f"{user.lower()}@{parts.hostname.lower()}")
        return ids


PLATFORM = Mastodon()
