"""Instagram professional accounts (business or creator, linked to a Facebook Page): media
read from the Instagram Graph API with the Page's token."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from app.platforms.base import A, AccountRef, Platform, PostRef, UrlForm, UrlParts
from app.platforms.facebook import choose_account
from app.platforms.instagram import urls

if TYPE_CHECKING:
    from app.config import Settings
    from app.platforms.collected import Author, Collector
    from app.platforms.fetcher import Fetcher


class Instagram(Platform):
    id = urls.PLATFORM_ID
    name = "Instagram"
    supported = "an Instagram post"
    handle_help = "connect it with “Connect Instagram” (a professional account linked to a Page)"
    url_forms: ClassVar[tuple[UrlForm, ...]] = (
        UrlForm("post", "https://www.instagram.com/p/CRyZpjhDO_k/, /reel/…, /tv/…"),
        UrlForm("account", "https://www.instagram.com/cityofexample/ (connect it first)"),
    )
    settings = ("meta_app_id", "meta_app_secret", "meta_graph_url")
    order = 14

    def parse_post_url(self, url: UrlParts) -> PostRef | None:
        return urls.parse_post_url(url)

    def account_from_handle(self, handle: str) -> AccountRef:
        return urls.account_from_handle(handle)

    def account_from_profile_url(self, url: UrlParts) -> AccountRef | None:
        return urls.account_from_profile_url(url)

    def match_account(self, ref: PostRef, accounts: Sequence[A]) -> A | None:
        # A shortcode names no account: the employee's connected one, or the one they chose.
        return choose_account(self.name, accounts)

    def collector(self, settings: Settings, fetcher: Fetcher) -> Collector:
        from app.platforms.instagram.collector import InstagramCollector

        return InstagramCollector.from_settings(settings, settings.meta_graph_url, fetcher)

    def author_ids(self, author: Author) -> list[str]:
        return [v.lower() for v in (author.handle, author.platform_id) if v]


PLATFORM = Instagram()
