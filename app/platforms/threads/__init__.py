"""Threads: posts read from the Threads API with the employee's connected Threads token
(refreshed before it lapses by app.connections.service.refresh_threads_tokens)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from app.platforms.base import AccountRef, Platform, PostRef, UrlForm, UrlParts
from app.platforms.threads import urls

if TYPE_CHECKING:
    from app.config import Settings
    from app.platforms.collected import Author, Collector
    from app.platforms.fetcher import Fetcher


class Threads(Platform):
    id = urls.PLATFORM_ID
    name = "Threads"
    supported = "a Threads post"
    handle_help = "your Threads username, connected with “Connect Threads”"
    url_forms: ClassVar[tuple[UrlForm, ...]] = (
        UrlForm("post", "https://www.threads.net/@cityofexample/post/C8abcDEFghi (or threads.com)"),
        UrlForm("account", "https://www.threads.net/@cityofexample (connect it first)"),
    )
    settings = ("meta_app_id", "meta_app_secret", "threads_graph_url")
    order = 16

    def parse_post_url(self, url: UrlParts) -> PostRef | None:
        return urls.parse_post_url(url)

    def account_from_handle(self, handle: str) -> AccountRef:
        return urls.account_from_handle(handle)

    def account_from_profile_url(self, url: UrlParts) -> AccountRef | None:
        return urls.account_from_profile_url(url)

    def collector(self, settings: Settings, fetcher: Fetcher) -> Collector:
        from app.platforms.threads.collector import ThreadsCollector

        return ThreadsCollector.from_settings(settings, settings.threads_graph_url, fetcher)

    def author_ids(self, author: Author) -> list[str]:
        return [v.lower() for v in (author.handle, author.platform_id) if v]


PLATFORM = Threads()
