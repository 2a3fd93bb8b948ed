"""Tumblr: posts on <blog>.tumblr.com and www.tumblr.com, read through the API v2 with an API
key, or without one from the blog's RSS feed and the post page."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from app.platforms.base import AccountRef, Platform, PostRef, UrlForm, UrlParts
from app.platforms.tumblr import urls

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from app.config import Settings
    from app.platforms.collected import Author, Collector
    from app.platforms.fetcher import Fetcher
    from app.posts.models import FlaggedPost


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
    order = 17

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

    def post_notes(self, session: Session, post: FlaggedPost) -> list[str]:
        """What the post page says about the latest capture: where it was read from, and
        why its notes (replies) were not read when they were not."""
        from sqlalchemy import select

        from app.posts.models import CapturedVersion

        normalized = session.scalar(
            select(CapturedVersion.normalized)
            .where(CapturedVersion.post_id == post.id, CapturedVersion.normalized.is_not(None))
            .order_by(CapturedVersion.number.desc())
            .limit(1)
        )
        extra = (normalized or {}).get("extra") or {}
        notes = []
        if extra.get("captured_from"):
            notes.append(f"Tumblr: captured from the blog's {extra['captured_from']}.")
        for key in ("replies_note", "replies_error"):
            if extra.get(key):
                notes.append(f"Tumblr notes: {extra[key]}.")
        return notes


PLATFORM = Tumblr()
