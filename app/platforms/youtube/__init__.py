"""YouTube: videos, read from the YouTube Data API v3 (needs an API key)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from app.errors import Invalid
from app.platforms.base import A, AccountRef, Platform, PostRef, UrlForm, UrlParts
from app.platforms.youtube import urls
from app.platforms.youtube.urls import normalise_youtube

if TYPE_CHECKING:
    import datetime as dt

    from sqlalchemy.orm import Session

    from app.config import Settings
    from app.platforms.collected import Author, Collector
    from app.platforms.fetcher import Fetcher


class YouTube(Platform):
    id = urls.PLATFORM_ID
    name = "YouTube"
    supported = "a YouTube video"
    handle_help = "@yourchannel or a channel id (UC…)"
    url_forms: ClassVar[tuple[UrlForm, ...]] = (
        UrlForm("post", "https://www.youtube.com/watch?v=dQw4w9WgXcQ"),
        UrlForm("post", "https://youtu.be/dQw4w9WgXcQ, /shorts/…, /live/…, /embed/…"),
        UrlForm("account", "https://www.youtube.com/@cityofexample, /channel/UC…"),
        UrlForm("handle", "@cityofexample, or a channel id UC…"),
    )
    settings = ("youtube_api_url", "youtube_api_key")
    order = 20
    post_noun = "video"
    video_platform = True

    def parse_post_url(self, url: UrlParts) -> PostRef | None:
        return urls.parse_post_url(url)

    def account_from_handle(self, handle: str) -> AccountRef:
        return urls.account_from_handle(handle)

    def account_from_profile_url(self, url: UrlParts) -> AccountRef | None:
        return urls.account_from_profile_url(url)

    def match_account(self, ref: PostRef, accounts: Sequence[A]) -> A | None:
        # A video URL does not name its channel: the employee's one channel, or the one
        # they chose.
        if len(accounts) == 1:
            return accounts[0]
        if not accounts:
            raise Invalid(
                "you have no registered YouTube account: register your channel first "
                "(POST /api/v1/accounts)"
            )
        raise Invalid(
            f"you have {len(accounts)} YouTube accounts: say which with account_id "
            f"({', '.join(str(a.id) for a in accounts)})"
        )

    def collector(self, settings: Settings, fetcher: Fetcher) -> Collector:
        from app.platforms.youtube.collector import YouTubeCollector
        from app.platforms.youtube.quota import QuotaMeter

        return YouTubeCollector(
            api_url=settings.youtube_api_url,
            api_key=settings.youtube_api_key,
            fetcher=fetcher,
            quota=QuotaMeter(database_url=settings.database_url),
        )

    def dashboard_facts(
        self, session: Session, settings: Settings, now: dt.datetime
    ) -> list[tuple[str, str]]:
        """The officer dashboard's line for YouTube: the quota units used today."""
        from app.platforms.youtube.quota import DEFAULT_DAILY_QUOTA, state_of

        state = state_of(session, now)
        if settings.youtube_api_key is None and not state.units:
            return []  # YouTube is not in use here
        return [
            (
                "YouTube API quota",
                f"{state.units} units used on {state.day} (Pacific time; {state.calls} calls), "
                f"of YouTube's default {DEFAULT_DAILY_QUOTA:,} a day",
            )
        ]

    def author_ids(self, author: Author) -> list[str]:
        ids: list[str] = []
        for value in (author.handle, author.platform_id):
            if value:
                ids.append(normalise_youtube(value))
                if not value.startswith("@") and not value.startswith("UC"):
                    ids.append(normalise_youtube("@" + value))
        return ids


PLATFORM = YouTube()
