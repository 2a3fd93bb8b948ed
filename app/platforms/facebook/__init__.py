"""Facebook Pages: posts, videos and photos read from the Graph API with the Page token the
employee's connection (app/connections) stored. Personal profiles have no API."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from app.errors import Invalid
from app.platforms.base import (
    A,
    AccountRef,
    Platform,
    PostRef,
    RegisteredAccount,
    UrlForm,
    UrlParts,
)
from app.platforms.facebook import urls

if TYPE_CHECKING:
    from app.config import Settings
    from app.platforms.collected import Author, Collector
    from app.platforms.fetcher import Fetcher


def choose_account(name: str, accounts: Sequence[A]) -> A | None:
    """A URL that names no account (a photo, a short link, an Instagram shortcode): the
    employee's one account of the platform, or the one they chose."""
    if len(accounts) == 1:
        return accounts[0]
    if not accounts:
        raise Invalid(
            f"you have no connected {name} account: connect one on My accounts first "
            "(Connect Facebook / Instagram / Threads)"
        )
    raise Invalid(
        f"you have {len(accounts)} {name} accounts: say which with account_id "
        f"({', '.join(str(a.id) for a in accounts)})"
    )


class Facebook(Platform):
    id = urls.PLATFORM_ID
    name = "Facebook"
    phrase_name = "Facebook Page"
    supported = "a Facebook Page post"
    handle_help = "connect the Page with “Connect Facebook” (Pages only, not personal profiles)"
    url_forms: ClassVar[tuple[UrlForm, ...]] = (
        UrlForm("post", "https://www.facebook.com/cityofexample/posts/pfbid02…"),
        UrlForm("post", "https://www.facebook.com/permalink.php?story_fbid=…&id=…"),
        UrlForm("post", "https://www.facebook.com/cityofexample/videos/…, /photo/?fbid=…"),
        UrlForm("post", "https://fb.watch/…, https://www.facebook.com/share/p/…"),
        UrlForm("account", "https://www.facebook.com/cityofexample (connect it first)"),
    )
    settings = ("meta_app_id", "meta_app_secret", "meta_graph_url", "meta_oauth_url")
    order = 12

    def parse_post_url(self, url: UrlParts) -> PostRef | None:
        return urls.parse_post_url(url)

    def account_from_handle(self, handle: str) -> AccountRef:
        return urls.account_from_handle(handle)

    def account_from_profile_url(self, url: UrlParts) -> AccountRef | None:
        return urls.account_from_profile_url(url)

    def match_account(self, ref: PostRef, accounts: Sequence[A]) -> A | None:
        if ref.author is None:
            return choose_account(self.name, accounts)
        for account in accounts:
            if ref.author in (account.handle, account.platform_account_id):
                return account
        # Not a connected Page: the URL may be a personal profile's post, which the web
        # capture keeps (its candidate comes next).
        return None

    def external_id(self, ref: PostRef, account: RegisteredAccount) -> str:
        return f"{account.platform_account_id or account.handle}/{ref.post_id}"

    def collector(self, settings: Settings, fetcher: Fetcher) -> Collector:
        from app.platforms.facebook.collector import FacebookCollector

        return FacebookCollector.from_settings(settings, settings.meta_graph_url, fetcher)

    def author_ids(self, author: Author) -> list[str]:
        return [v.lower() for v in (author.handle, author.platform_id) if v]


PLATFORM = Facebook()
