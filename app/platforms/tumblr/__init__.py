"""Tumblr: posts on <blog>.tumblr.com and www.tumblr.com, read through the API v2 with an API
key, or without one from the blog's RSS feed and the post page."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from app.platforms.base import AccountRef, Platform, PostRef, UrlForm, UrlParts
from app.platforms.tumblr import urls

if TYPE_CHECKING:
    from app.config import Settings
    from app.platforms.collected import Author, Collector
    from app.platforms.fetcher import Fetcher


class Tumblr(Platform):
    id = urls.PLATFORM_ID
    name = urls.NAME
    supported = "a Tumblr post (<blog>.tumblr.com/post/… or www.tumblr.com/<blog>/…)"
    handle_help = "your blog's name or https://yourblog.tumblr.com/"
    url_forms: ClassVar[tuple[UrlForm, ...]] = (
        UrlForm("post", "https://cityofexample.tumblr.com/post/788338580402716673/pool-hours"),
        UrlForm("post", "https://www.tumblr.com/cityofexample/788338580402716673/pool-hours"),
        UrlForm("post", "https://tumblr.com/cityofexample/788338580402716673"),
        UrlForm("account", "https://cityofexample.tumblr.com/"),
        UrlForm("handle", "cityofexample"),
    )
    settings = ("tumblr_api_url", "tumblr_api_key", "tumblr_blog_url")
    order = 16

    def parse_post_url(self, url: UrlParts) -> PostRef | None:
        return urls.post_ref(url)

    def account_from_handle(self, handle: str) -> AccountRef:
        return urls.account_from_handle(handle)

    def account_from_profile_url(self, url: UrlParts) -> AccountRef | None:
        return urls.account_from_profile_url(url)

    def collector(self, settings: Settings, fetcher: Fetcher) -> Collector:
        from app.platforms.tumblr.collector import TumblrCollector

        key = settings.tumblr_api_key
        return TumblrCollector(
            fetcher=fetcher,
            api_url=settings.tumblr_api_url,
            api_key=key.get_secret_value() if key is not None else None,
            blog_url_template=settings.tumblr_blog_url,
        )

    def author_ids(self, author: Author) -> list[str]:
        ids = [author.handle.lower()] if author.handle else []
        if author.platform_id:
            ids.append(author.platform_id)
        return ids


PLATFORM = Tumblr()
