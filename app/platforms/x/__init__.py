"""X (Twitter): posts on x.com / twitter.com, read through the X API v2 with a bearer token."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from app.errors import Invalid
from app.platforms.base import A, AccountRef, Platform, PostRef, UrlForm, UrlParts
from app.platforms.x import urls

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from app.config import Settings
    from app.platforms.collected import Author, Collector
    from app.platforms.fetcher import Fetcher
    from app.posts.models import FlaggedPost


class X(Platform):
    id = urls.PLATFORM_ID
    name = "X (Twitter)"
    phrase_name = "X"
    supported = "an X post (x.com/…/status/… or twitter.com/…)"
    handle_help = "@yourname or https://x.com/yourname"
    url_forms: ClassVar[tuple[UrlForm, ...]] = (
        UrlForm("post", "https://x.com/cityofexample/status/1576994789110992896"),
        UrlForm(
            "post", "https://twitter.com/…/status/…, mobile.twitter.com/…, with ?s=20 or /photo/1"
        ),
        UrlForm("account", "https://x.com/cityofexample"),
        UrlForm("handle", "@cityofexample"),
    )
    settings = ("x_api_url", "x_bearer_token", "x_monthly_read_budget")
    order = 15
    # Often while X's recent search still finds replies (7 days after posting), the last
    # just before the window closes; then monthly, for removal.
    poll_offsets: ClassVar[tuple[dt.timedelta, ...]] = (
        dt.timedelta(0),
        dt.timedelta(hours=1),
        dt.timedelta(hours=6),
        dt.timedelta(days=1),
        dt.timedelta(days=3),
        dt.timedelta(days=5),
        dt.timedelta(days=6, hours=20),
        dt.timedelta(days=30),
    )

    def parse_post_url(self, url: UrlParts) -> PostRef | None:
        return urls.post_ref(url)

    def account_from_handle(self, handle: str) -> AccountRef:
        return urls.account_from_handle(handle)

    def account_from_profile_url(self, url: UrlParts) -> AccountRef | None:
        return urls.account_from_profile_url(url)

    def match_account(self, ref: PostRef, accounts: Sequence[A]) -> A | None:
        if ref.author is None:
            # x.com/i/web/status/<id> names no author: the employee's one X account.
            if len(accounts) == 1:
                return accounts[0]
            raise Invalid(
                "this X post URL does not name its author: use the x.com/<user>/status/<id> "
                "form, or say which account with account_id"
            )
        return super().match_account(ref, accounts)

    def collector(self, settings: Settings, fetcher: Fetcher) -> Collector:
        from app.platforms.x.budget import ReadBudget
        from app.platforms.x.collector import XCollector

        token = settings.x_bearer_token
        return XCollector(
            fetcher=fetcher,
            api_url=settings.x_api_url,
            bearer_token=token.get_secret_value() if token is not None else None,
            budget=ReadBudget(
                monthly=settings.x_monthly_read_budget, database_url=settings.database_url
            ),
        )

    def author_ids(self, author: Author) -> list[str]:
        ids = [author.handle.lower().removeprefix("@")] if author.handle else []
        if author.platform_id:
            ids.append(author.platform_id)
        return ids

    def dashboard_facts(
        self, session: Session, settings: Settings, now: dt.datetime
    ) -> list[tuple[str, str]]:
        """The officer dashboard's line for X: this month's reads, used and left."""
        from app.platforms.x.budget import state_of

        state = state_of(session, settings.x_monthly_read_budget, now)
        if settings.x_bearer_token is None and state.budget is None and not state.requests:
            return []  # X is not in use here
        if state.budget is None:
            return [
                (
                    "X API reads",
                    f"{state.reads_used} posts read in {state.month} (no monthly budget set)",
                )
            ]
        return [
            (
                "X API reads",
                f"{state.reads_used} of {state.budget} used in {state.month}, "
                f"{state.reads_left} left; {state.polls_deferred} polls deferred to stay "
                "within the budget",
            )
        ]

    def post_notes(self, session: Session, post: FlaggedPost) -> list[str]:
        """What the post page says about X's capture: the window in which replies are found."""
        from sqlalchemy import select

        from app.platforms.x.collector import reply_window_note
        from app.posts.models import CapturedVersion

        created = session.scalar(
            select(CapturedVersion.platform_created_at)
            .where(
                CapturedVersion.post_id == post.id, CapturedVersion.platform_created_at.is_not(None)
            )
            .order_by(CapturedVersion.number)
            .limit(1)
        )
        return [reply_window_note(created) + "; PostVault polls often in that window."]


PLATFORM = X()
