"""Bluesky: posts on bsky.app or at:// URIs, read from the author's PDS and the AppView."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from app.platforms.base import (
    AccountRef,
    Platform,
    PostRef,
    RegisteredAccount,
    UrlForm,
    UrlParts,
)
from app.platforms.bluesky import urls
from app.platforms.bluesky.urls import normalise_bluesky

if TYPE_CHECKING:
    from app.config import Settings
    from app.platforms.collected import Author, Collector
    from app.platforms.fetcher import Fetcher


class Bluesky(Platform):
    id = urls.PLATFORM_ID
    name = "Bluesky"
    supported = "a Bluesky post (bsky.app/profile/…/post/… or at://…)"
    handle_help = "you.bsky.social or a DID"
    url_forms: ClassVar[tuple[UrlForm, ...]] = (
        UrlForm("post", "https://bsky.app/profile/alice.bsky.social/post/3kabc"),
        UrlForm("post", "at://alice.bsky.social/app.bsky.feed.post/3kabc"),
        UrlForm("account", "https://bsky.app/profile/alice.bsky.social"),
        UrlForm("handle", "alice.bsky.social, or a DID (did:plc:…)"),
    )
    settings = ("bluesky_resolver_url", "bluesky_plc_url", "bluesky_appview_url")
    order = 10

    def parse_post_url(self, url: UrlParts) -> PostRef | None:
        return urls.parse_post_url(url)

    def account_from_handle(self, handle: str) -> AccountRef:
        return urls.account_from_handle(handle)

    def account_from_profile_url(self, url: UrlParts) -> AccountRef | None:
        return urls.account_from_profile_url(url)

    def external_id(self, ref: PostRef, account: RegisteredAccount) -> str:
        # The account's registered handle, not the URL's author, so that a handle URL and a
        # DID URL of the same post are one post.
        return f"at://{account.handle}/app.bsky.feed.post/{ref.post_id}"

    def collector(self, settings: Settings, fetcher: Fetcher) -> Collector:
        from app.platforms.bluesky.collector import BlueskyCollector

        return BlueskyCollector(
            resolver_url=settings.bluesky_resolver_url,
            plc_url=settings.bluesky_plc_url,
            appview_url=settings.bluesky_appview_url,
            fetcher=fetcher,
        )

    def author_ids(self, author: Author) -> list[str]:
        return [normalise_bluesky(v) for v in (author.handle, author.platform_id) if v]


PLATFORM = Bluesky()
