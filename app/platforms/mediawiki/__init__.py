"""MediaWiki (Wikipedia and any wiki the city names): a post is one revision, an account is a
user page; read from the wiki's own action API, found from its pages."""

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
from app.platforms.mediawiki import urls

if TYPE_CHECKING:
    from app.config import Settings
    from app.platforms.collected import Author, Collector
    from app.platforms.fetcher import Fetcher, FetchSession


class MediaWiki(Platform):
    id = urls.PLATFORM_ID
    name = urls.NAME
    record_name = "MediaWiki (wiki revision)"
    phrase_name = "a wiki"
    supported = "a MediaWiki revision (index.php?oldid=REV, a diff link, or Special:Diff/REV)"
    handle_help = "your user page: https://wiki.example/wiki/User:Name"
    url_forms: ClassVar[tuple[UrlForm, ...]] = (
        UrlForm("post", "https://en.wikipedia.org/w/index.php?title=Budget&diff=1234&oldid=1200"),
        UrlForm("post", "https://en.wikipedia.org/w/index.php?title=Budget&diff=prev&oldid=1234"),
        UrlForm("post", "https://en.wikipedia.org/w/index.php?oldid=1234"),
        UrlForm("post", "https://en.wikipedia.org/wiki/Special:Diff/1234"),
        UrlForm("account", "https://en.wikipedia.org/wiki/User:Name"),
    )
    settings = ("fetch_plain_http_hosts",)
    # Before Mastodon (shape-only on any host): revision links have MediaWiki's own shape.
    order = 40

    def parse_post_url(self, url: UrlParts) -> PostRef | None:
        return urls.parse_post_url(url)

    def account_from_handle(self, handle: str) -> AccountRef:
        return urls.account_from_handle(handle)

    def account_from_profile_url(self, url: UrlParts) -> AccountRef | None:
        return urls.account_from_profile_url(url)

    def profile_url_for(self, url: UrlParts) -> AccountRef:
        return urls.profile_url_for(url)

    def match_account(self, ref: PostRef, accounts: Sequence[A]) -> A | None:
        """The employee's account on the revision's wiki (whose revision it is, is checked
        by `verify_post`, which asks the wiki)."""
        for account in accounts:
            try:
                _name, host = urls.split_handle(account.handle)
            except Invalid:
                continue
            if host == ref.site:
                return account
        raise Invalid(
            f"you have no registered {self.name} account on {ref.site}: register your user "
            f"page there first (https://{ref.site}/wiki/User:Name, POST /api/v1/accounts)"
        )

    def external_id(self, ref: PostRef, account: RegisteredAccount) -> str:
        return urls.external_id(ref.site or "", ref.post_id)

    def verify_post(self, ref: PostRef, account: RegisteredAccount, http: FetchSession) -> None:
        """Refuse (Invalid, a 422) a revision the wiki says is another user's, or that it
        does not have. When the wiki cannot be asked, the flag is not refused: the capture
        says what it finds."""
        from app.platforms.mediawiki.verify import verify_revision

        verify_revision(ref, account, http)

    def collector(self, settings: Settings, fetcher: Fetcher) -> Collector:
        from app.platforms.mediawiki.collector import MediaWikiCollector

        return MediaWikiCollector(fetcher)

    def author_ids(self, author: Author) -> list[str]:
        ids = [author.handle] if author.handle else []
        if author.profile_url:
            ids.append(author.profile_url)
        return ids


PLATFORM = MediaWiki()
