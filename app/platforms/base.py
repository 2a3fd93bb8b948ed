"""The platform contract: what one platform package declares, and what URL recognition returns.

A platform package (`app/platforms/<id>/`) defines one subclass of `Platform` and one instance
of it (`PLATFORM`), listed once in `app/platforms/registry.py`. Everything else in PostVault
(posts, accounts, the web pages, the OpenAPI enum, the README table) asks the registry, so no
module outside the package names the platform.

URL recognition is pure (no I/O) except `discover_account`, the one hook that may fetch, which
runs only when no platform recognised a profile URL by its form.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Protocol, TypeVar
from urllib.parse import urlsplit

from pydantic import JsonValue

from app.errors import Invalid

if TYPE_CHECKING:
    from app.config import Settings
    from app.platforms.collected import Author, Collector
    from app.platforms.fetcher import Fetcher, FetchSession

MAX_URL_LENGTH = 2048
# Marks a schema or parameter that takes a platform id; app/platforms/openapi.py turns the
# mark into `enum: [the registered ids]` when the OpenAPI document is built.
PLATFORM_ENUM_MARK: dict[str, JsonValue] = {"x-postvault-platform": True}


@dataclass(frozen=True)
class UrlParts:
    """A pasted URL, checked once and split: recognisers read these instead of re-parsing."""

    raw: str  # as given, stripped
    scheme: str  # lower-case
    netloc: str  # lower-case host[:port]
    path: str
    query: str
    fragment: str

    @classmethod
    def parse(cls, url: str) -> UrlParts:
        url = url.strip()
        if not url:
            raise Invalid("the URL is empty")
        if len(url) > MAX_URL_LENGTH:
            raise Invalid(f"the URL is longer than {MAX_URL_LENGTH} characters")
        if any(c.isspace() for c in url):
            raise Invalid("the URL contains spaces")
        parts = urlsplit(url)
        return cls(
            raw=url,
            scheme=parts.scheme.lower(),
            netloc=parts.netloc.lower(),
            path=parts.path,
            query=parts.query,
            fragment=parts.fragment,
        )

    @property
    def segments(self) -> list[str]:
        """The non-empty path segments, case kept."""
        return [s for s in self.path.split("/") if s]

    @property
    def is_web(self) -> bool:
        return self.scheme in ("http", "https") and bool(self.netloc)


@dataclass(frozen=True)
class AccountRef:
    """An account as named by a handle or profile URL, normalised by its platform."""

    platform: str  # a registry id
    handle: str  # unique per platform
    profile_url: str
    # False for a guess by form alone (a feed URL is any URL): registering it needs the
    # platform's `discover_account` to find the proof first.
    proven: bool = True


@dataclass(frozen=True)
class PostRef:
    """A post as named by its URL.

    `author` is matched against registered account handles; `post_id` is the platform's id;
    `site` is the host the URL is on (platforms whose posts live on any host).

    `by_site`: the URL's form alone does not prove the platform (any page could be a blog
    entry or a wiki page); the post is this platform's only when the flagging employee has an
    account of this platform on `site`. A recogniser that returns a PostRef with
    `by_site=False` claims the URL outright.
    """

    platform: str
    author: str | None
    post_id: str
    canonical_url: str
    site: str | None = None
    by_site: bool = False


class RegisteredAccount(Protocol):
    """What `match_account` and `external_id` read of a registered account (the ORM row)."""

    @property
    def id(self) -> int: ...
    @property
    def handle(self) -> str: ...
    @property
    def profile_url(self) -> str: ...
    @property
    def platform_account_id(self) -> str | None: ...


A = TypeVar("A", bound=RegisteredAccount)


@dataclass(frozen=True)
class UrlForm:
    """One row of the README's table of recognised URLs and of the bookmarklet help."""

    what: str  # "post", "account", "profile URL"
    example: str


def site_of(url: str) -> str:
    """The host of a URL without a leading www., for matching posts to accounts by site."""
    return urlsplit(url).netloc.lower().removeprefix("www.")


class Platform(ABC):
    """One platform's descriptor. Subclass it in `app/platforms/<id>/__init__.py`.

    Class attributes say what the platform is called and which settings it reads; methods
    recognise its URLs and build its collector. Defaults are for what most platforms do not
    have (no profile-URL form, no discovery).
    """

    id: ClassVar[str]  # the stored value (social_accounts.platform, flagged_posts.platform)
    name: ClassVar[str]  # shown on web pages: "Bluesky", "Blog feed"
    record_name: ClassVar[str | None] = None  # on snapshots and reports, when not `name`
    phrase_name: ClassVar[str | None] = None  # inside a sentence, when not `name`
    supported: ClassVar[str]  # in "expected <a, b or c>": "a YouTube video"
    handle_help: ClassVar[str]  # accounts form: what to type as the handle
    url_forms: ClassVar[tuple[UrlForm, ...]] = ()
    settings: ClassVar[tuple[str, ...]] = ()  # Settings fields the platform reads
    # Recognition order: lower first. Platforms whose URLs are on fixed hosts come first,
    # shape-only ones (Mastodon on any host) next, site-bound catch-alls (feed) last.
    order: ClassVar[int] = 100
    # True for platforms that claim a URL only by the employee's account on its site (their
    # PostRefs have by_site=True); listed last in "expected ..." messages.
    site_bound: ClassVar[bool] = False
    post_noun: ClassVar[str] = "post"  # "This YouTube video by ..." in classification reasons
    video_platform: ClassVar[bool] = False  # every post is a video (its own content)

    @property
    def record_label(self) -> str:
        return self.record_name or self.name

    @property
    def phrase_label(self) -> str:
        return self.phrase_name or self.name

    # --- URL recognition (pure) -------------------------------------------------------------

    def parse_post_url(self, url: UrlParts) -> PostRef | None:
        """This platform's post named by `url`; None when the URL is not this platform's.
        Raise Invalid when it clearly is (its host) but not a post URL, saying what is."""
        return None

    def account_from_handle(self, handle: str) -> AccountRef:
        """Normalise a handle typed with `"platform": id`; raise Invalid with the right form."""
        raise Invalid(f"{self.name} accounts are registered by profile URL")

    def account_from_profile_url(self, url: UrlParts) -> AccountRef | None:
        """The account a profile URL names, by its form alone; None when not this platform's."""
        return None

    def profile_url_for(self, url: UrlParts) -> AccountRef:
        """An account from a profile URL the employee said is this platform's
        (`{"platform", "profile_url"}`). Default: the form must be recognised."""
        ref = self.account_from_profile_url(url)
        if ref is None:
            raise Invalid(f"'{url.raw}' is not a {self.name} profile URL")
        return ref

    def discover_account(self, url: UrlParts, http: FetchSession) -> AccountRef | None:
        """The one recognition hook that may fetch: runs when this platform's
        `account_from_profile_url` answered an unproven guess. Return an account only on
        proof (a feed found and parsed)."""
        return None

    # --- tying a post to an account ---------------------------------------------------------

    def match_account(self, ref: PostRef, accounts: Sequence[A]) -> A | None:
        """Which of the employee's accounts of this platform the post belongs to. Default:
        the URL's author is the account's handle or platform id. Raise Invalid to explain a
        refusal; None means no match (by-site refs then try the next platform)."""
        for account in accounts:
            if ref.author is not None and ref.author in (
                account.handle,
                account.platform_account_id,
            ):
                return account
        if ref.by_site:
            return None
        raise Invalid(
            f"the post is by {ref.author} on {self.name}, which is not one of your registered "
            "accounts: register it first (POST /api/v1/accounts)"
        )

    def verify_post(self, ref: PostRef, account: RegisteredAccount, http: FetchSession) -> None:
        """Flag-time check that may fetch, after `match_account` (a MediaWiki revision's user
        is known only to the wiki): raise Invalid to refuse the flag with a sentence. A site
        that cannot be reached must not refuse: the capture says what it finds."""
        return None

    def external_id(self, ref: PostRef, account: RegisteredAccount) -> str:
        """The id the post is stored under (unique per platform). Default: the URL's id."""
        return ref.post_id

    # --- capture ----------------------------------------------------------------------------

    @abstractmethod
    def collector(self, settings: Settings, fetcher: Fetcher) -> Collector:
        """The collector that captures this platform's posts (every platform has one: a
        platform PostVault cannot capture is not registered)."""

    # --- classification ---------------------------------------------------------------------

    def author_ids(self, author: Author) -> list[str]:
        """Every identifier by which `author` could be listed among the official accounts."""
        return []
