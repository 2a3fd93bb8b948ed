"""Web pages: any platform without an API PostVault can use (personal Facebook profiles and
groups, LinkedIn, TikTok, Nextdoor, Reddit, Instagram, forums, comment sections), captured by
loading the public page in a browser into a WACZ web archive with a screenshot."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from app.errors import Invalid
from app.platforms.base import A, AccountRef, Platform, PostRef, UrlForm, UrlParts
from app.platforms.web import urls

if TYPE_CHECKING:
    from app.config import Settings
    from app.platforms.collected import Author, Collector
    from app.platforms.fetcher import Fetcher


def _forms() -> tuple[UrlForm, ...]:
    forms = [UrlForm("account", "any profile, page or site URL, with the platform 'Web page'")]
    for site in urls.SITES:
        forms += [UrlForm(f"{site.name} post", example) for example in site.examples]
    forms.append(UrlForm("post", "any page under a registered web account's URL"))
    return tuple(forms)


class Web(Platform):
    id = urls.PLATFORM_ID
    name = "Web page"
    record_name = "Web page (browser capture)"
    phrase_name = "web page"
    supported = (
        "a page under a web account you registered (a Facebook, LinkedIn, TikTok, Nextdoor, "
        "Instagram or Reddit post, or any site)"
    )
    handle_help = "the profile, page or site URL (https://www.facebook.com/your.name)"
    url_forms: ClassVar[tuple[UrlForm, ...]] = _forms()
    settings = (
        "chromium",
        "web_capture_timeout_seconds",
        "web_capture_max_requests",
        "web_capture_max_bytes",
        "web_capture_max_resource_bytes",
        "web_capture_scroll_steps",
        "web_capture_expand_steps",
        "web_site_hosts",
        "web_wacz_embed_max_bytes",
    )
    # After the feed: a page of a blog with a registered feed is read from its feed. A web
    # account is registered with the platform named ({"platform": "web", "profile_url"}),
    # since the feed's profile-URL guess, asked first, takes any URL.
    order = 1100
    site_bound = True
    post_noun = "page"

    def parse_post_url(self, url: UrlParts) -> PostRef | None:
        return urls.parse_post_url(url)

    def account_from_handle(self, handle: str) -> AccountRef:
        if "://" in handle:
            return urls.profile_account(UrlParts.parse(handle))
        raise Invalid("web accounts are registered by their profile, page or site URL")

    def account_from_profile_url(self, url: UrlParts) -> AccountRef | None:
        return urls.account_from_profile_url(url)

    def profile_url_for(self, url: UrlParts) -> AccountRef:
        return urls.profile_account(url)

    def match_account(self, ref: PostRef, accounts: Sequence[A]) -> A | None:
        """A page under the account's URL is its post. On sites whose post URLs do not name
        their author, any page on the same site is, and the capture checks the author."""
        for account in accounts:
            if urls.under_profile(ref.canonical_url, account.profile_url):
                return account
        site = urls.recognised_site(ref.canonical_url)
        if site is None or site.url_names_author:
            return None
        same = [a for a in accounts if urls.same_site(a.profile_url, ref.canonical_url)]
        if len(same) > 1:
            raise Invalid(
                f"you have {len(same)} {site.name} accounts: say which with account_id "
                f"({', '.join(str(a.id) for a in same)})"
            )
        return same[0] if same else None

    def collector(self, settings: Settings, fetcher: Fetcher) -> Collector:
        from app.platforms.web.collector import WebCollector

        return WebCollector(settings)

    def author_ids(self, author: Author) -> list[str]:
        return [v for v in (author.profile_url, author.handle) if v]


PLATFORM = Web()
