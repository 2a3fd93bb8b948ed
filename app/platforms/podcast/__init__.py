"""Podcasts: an episode of a podcast's RSS feed, with its show notes and its audio file."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from app.errors import Invalid
from app.platforms.base import A, AccountRef, Platform, PostRef, UrlForm, UrlParts
from app.platforms.podcast import urls

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from app.config import Settings
    from app.platforms.collected import Author, Collector
    from app.platforms.fetcher import Fetcher, FetchSession
    from app.posts.models import FlaggedPost


class Podcast(Platform):
    id = urls.PLATFORM_ID
    name = urls.NAME
    record_name = "Podcast"
    phrase_name = "podcast"
    supported = "an episode of a podcast you registered (its link or guid URL)"
    handle_help = "the address of the podcast's RSS feed"
    url_forms: ClassVar[tuple[UrlForm, ...]] = (
        UrlForm("post", "the episode's link on the podcast's site: https://show.example/ep-12"),
        UrlForm("post", "the episode's guid, when it is a URL: https://show.example/?p=123"),
        UrlForm("account", "the podcast's RSS feed: https://show.example/feed.rss"),
        UrlForm("account", 'the show\'s page whose `<link rel="alternate">` names its feed'),
    )
    settings = ("max_media_bytes", "audio_embed_max_bytes")
    order = 1010  # by site, like the blog feeds (asked after them: each claims only its own sites)
    site_bound = True
    post_noun = "podcast episode"

    def parse_post_url(self, url: UrlParts) -> PostRef | None:
        return urls.parse_post_url(url)

    def account_from_handle(self, handle: str) -> AccountRef:
        return urls.account_from_feed_url(handle)

    def profile_url_for(self, url: UrlParts) -> AccountRef:
        # A profile URL named as this platform's: the feed (or a page naming it), proven by a fetch.
        return urls.account_from_feed_url(url.raw)

    def discover_account(self, url: UrlParts, http: FetchSession) -> AccountRef | None:
        from app.platforms.podcast.discovery import find_podcast_feed

        found = find_podcast_feed(url.raw, http)
        return urls.proven_account(found) if found else None

    def match_account(self, ref: PostRef, accounts: Sequence[A]) -> A | None:
        for account in accounts:
            if urls.same_site(ref.canonical_url, account.handle):
                refusal = urls.near_miss(ref, account.handle)
                if refusal is not None:
                    raise Invalid(refusal)
                return account
        return None

    def collector(self, settings: Settings, fetcher: Fetcher) -> Collector:
        from app.platforms.podcast.collector import PodcastCollector

        return PodcastCollector(fetcher)

    def post_notes(self, session: Session, post: FlaggedPost) -> list[str]:
        """What the post page says of the latest capture's audio when it was not archived."""
        from sqlalchemy import select

        from app.posts.models import CapturedVersion, VersionKind

        latest = session.scalar(
            select(CapturedVersion.normalized)
            .where(CapturedVersion.post_id == post.id, CapturedVersion.kind == VersionKind.capture)
            .order_by(CapturedVersion.number.desc())
            .limit(1)
        )
        extra = (latest or {}).get("extra") or {}
        return [f"Not archived: {note}" for note in extra.get("media_not_archived") or []]

    def author_ids(self, author: Author) -> list[str]:
        return [
            urls.normalise_feed(v) for v in (author.handle, author.profile_url) if v and "://" in v
        ]


PLATFORM = Podcast()
