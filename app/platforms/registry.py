"""The one list of platforms. Adding a platform: its package, one line in PLATFORMS, its tests.

Everything that used to name platforms asks this module: URL recognition (posts, accounts),
the OpenAPI enum of `platform`, the web pages' names, the Flag page's help and the README's
table of recognised URLs (`python -m app.platforms.readme_table`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

from pydantic import AfterValidator, Field

from app.errors import Invalid
from app.platforms.base import PLATFORM_ENUM_MARK, AccountRef, Platform, PostRef, UrlParts
from app.platforms.bluesky import PLATFORM as BLUESKY
from app.platforms.facebook import PLATFORM as FACEBOOK
from app.platforms.feed import PLATFORM as FEED
from app.platforms.instagram import PLATFORM as INSTAGRAM
from app.platforms.mastodon import PLATFORM as MASTODON
from app.platforms.mediawiki import PLATFORM as MEDIAWIKI
from app.platforms.podcast import PLATFORM as PODCAST
from app.platforms.threads import PLATFORM as THREADS
from app.platforms.tumblr import PLATFORM as TUMBLR
from app.platforms.web import PLATFORM as WEB
from app.platforms.x import PLATFORM as X
from app.platforms.youtube import PLATFORM as YOUTUBE

if TYPE_CHECKING:  # the render workers read platform names here; they fetch nothing
    from app.platforms.fetcher import Fetcher

# Listing order: how platforms are listed in messages, menus and the API enum.
PLATFORMS: tuple[Platform, ...] = (
    BLUESKY,
    MASTODON,
    FEED,
    YOUTUBE,
    MEDIAWIKI,
    X,
    TUMBLR,
    PODCAST,
    WEB,
    FACEBOOK,
    INSTAGRAM,
    THREADS,
)


class UnknownPlatform(Invalid):
    def __init__(self, platform: str, known: list[str]) -> None:
        super().__init__(f"unknown platform '{platform}': use one of {', '.join(known)}")
        self.platform = platform


class Registry:
    """The platforms PostVault knows, looked up by id, and URL recognition across them."""

    def __init__(self, platforms: tuple[Platform, ...]) -> None:
        self._platforms: list[Platform] = []
        for platform in platforms:
            self.add(platform)

    # --- listing ----------------------------------------------------------------------------

    def __iter__(self) -> Iterator[Platform]:
        return iter(list(self._platforms))

    def __contains__(self, platform_id: object) -> bool:
        return any(p.id == platform_id for p in self._platforms)

    def ids(self) -> list[str]:
        return [p.id for p in self._platforms]

    def get(self, platform_id: str) -> Platform:
        """The platform with this id; UnknownPlatform (a 422) naming the known ones."""
        wanted = platform_id.strip().lower()
        for platform in self._platforms:
            if platform.id == wanted:
                return platform
        raise UnknownPlatform(platform_id, self.ids())

    def require(self, platform_id: str) -> Platform:
        """The platform with exactly this id (query parameters: no case folding)."""
        for platform in self._platforms:
            if platform.id == platform_id:
                return platform
        raise UnknownPlatform(platform_id, self.ids())

    def names(self) -> dict[str, str]:
        """Web labels by id."""
        return {p.id: p.name for p in self._platforms}

    def record_names(self) -> dict[str, str]:
        """Labels on snapshots and reports."""
        return {p.id: p.record_label for p in self._platforms}

    def phrase_names(self) -> dict[str, str]:
        """Names inside a sentence (classification reasons)."""
        return {p.id: p.phrase_label for p in self._platforms}

    def supported(self) -> str:
        """What post URLs are recognised, for error messages and the Flag page."""
        # Platforms that claim URLs by site come last: they are the "or else" of the list.
        listed = [p.supported for p in self._platforms if not p.site_bound]
        listed += [p.supported for p in self._platforms if p.site_bound]
        if len(listed) == 1:
            return listed[0]
        return f"{', '.join(listed[:-1])}, or {listed[-1]}"

    def known_platforms_sentence(self) -> str:
        return ", ".join(p.name for p in self._platforms)

    # --- changing (tests, and nothing else at run time) -------------------------------------

    def add(self, platform: Platform) -> None:
        if platform.id in self:
            raise ValueError(f"platform '{platform.id}' is registered twice")
        self._platforms.append(platform)

    def remove(self, platform_id: str) -> None:
        self._platforms = [p for p in self._platforms if p.id != platform_id]

    @contextmanager
    def added(self, platform: Platform) -> Iterator[Platform]:
        """Register `platform` for the duration of the block (tests)."""
        self.add(platform)
        try:
            yield platform
        finally:
            self.remove(platform.id)

    # --- recognition ------------------------------------------------------------------------

    def _by_recognition_order(self) -> list[Platform]:
        return sorted(self._platforms, key=lambda p: p.order)

    def recognise_post(self, url: str) -> list[PostRef]:
        """The candidate posts a URL names, in the order to try them.

        The first platform that claims the URL outright (`by_site=False`) ends the list; the
        site-bound candidates before it are tried first. Invalid when nothing recognises it.
        """
        parts = UrlParts.parse(url)
        candidates: list[PostRef] = []
        for platform in self._by_recognition_order():
            ref = platform.parse_post_url(parts)
            if ref is None:
                continue
            candidates.append(ref)
            if not ref.by_site:
                break
        if not candidates:
            raise Invalid(f"'{parts.raw}' is not a post URL: expected {self.supported()}")
        return candidates

    def account_from_handle(self, platform_id: str, handle: str) -> AccountRef:
        return self.get(platform_id).account_from_handle(handle)

    def account_from_profile_url(self, url: str, *, platform_id: str | None = None) -> AccountRef:
        """The account a profile URL names, by its form alone (pure).

        With `platform_id` the employee said which platform it is. Without, the first
        platform (in recognition order) that knows the form answers; a site-bound platform's
        answer is an unproven guess (`proven=False`) that `register_account` must prove.
        """
        parts = UrlParts.parse(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise Invalid(f"'{parts.raw}' is not an http(s) URL")
        if platform_id is not None:
            return self.get(platform_id).profile_url_for(parts)
        for platform in self._by_recognition_order():
            ref = platform.account_from_profile_url(parts)
            if ref is not None:
                return ref
        raise self.not_an_account(parts)

    def not_an_account(self, parts: UrlParts) -> Invalid:
        return Invalid(
            f"PostVault does not recognise {parts.raw} as an account of a platform it knows "
            f"({self.known_platforms_sentence()}) and found no feed there: choose the platform, "
            "or give the address of the blog's RSS or Atom feed"
        )

    def resolve_account(
        self,
        *,
        fetcher: Fetcher,
        platform_id: str | None = None,
        handle: str | None = None,
        profile_url: str | None = None,
    ) -> AccountRef:
        """The account to register from `{platform, handle}`, `{platform, profile_url}` or
        `{profile_url}`, checked: a plain-HTTP URL only for a host named in
        POSTVAULT_FETCH_PLAIN_HTTP_HOSTS, and a guess by form only once proven (a feed found
        and parsed there), else Invalid naming the platforms PostVault knows."""
        if profile_url:
            parts = UrlParts.parse(profile_url)
            check_plain_http(parts, fetcher)
            ref = self.account_from_profile_url(profile_url, platform_id=platform_id)
        else:
            ref = self.account_from_handle(platform_id or "", handle or "")
            if "://" in (handle or ""):  # a handle that is a URL (a feed's address)
                check_plain_http(UrlParts.parse(handle or ""), fetcher)
        if ref.proven:
            return ref
        parts = UrlParts.parse(ref.profile_url)
        with fetcher.open_client() as client:
            proven = self.get(ref.platform).discover_account(parts, fetcher.session(client))
        if proven is None:
            raise self.not_an_account(parts)
        return proven


def check_plain_http(parts: UrlParts, fetcher: Fetcher) -> None:
    """Refuse an http:// account URL unless its host is named for plain HTTP."""
    from app.platforms.fetcher import PLAIN_HTTP_SETTING

    if parts.scheme == "http" and not fetcher.allows_plain_http(parts.netloc):
        raise Invalid(
            f"{parts.raw} is plain HTTP: use https://, or name {parts.netloc} in "
            f"{PLAIN_HTTP_SETTING} (test and development servers only)"
        )


class LiveLabels(Mapping[str, str]):
    """A read-only id → label mapping that always reflects the registry (templates and
    tables hold one of these instead of a copied dict)."""

    def __init__(self, registry: Registry, label: Callable[[Platform], str]) -> None:
        self._registry = registry
        self._label = label

    def __getitem__(self, platform_id: str) -> str:
        for platform in self._registry:
            if platform.id == platform_id:
                return self._label(platform)
        raise KeyError(platform_id)

    def __iter__(self) -> Iterator[str]:
        return iter(self._registry.ids())

    def __len__(self) -> int:
        return len(self._registry.ids())


registry = Registry(PLATFORMS)
PLATFORM_NAMES: Mapping[str, str] = LiveLabels(registry, lambda p: p.name)
RECORD_NAMES: Mapping[str, str] = LiveLabels(registry, lambda p: p.record_label)
PHRASE_NAMES: Mapping[str, str] = LiveLabels(registry, lambda p: p.phrase_label)
HANDLE_HELP: Mapping[str, str] = LiveLabels(registry, lambda p: p.handle_help)


def _known_platform(value: str) -> str:
    if value not in registry:
        raise ValueError(f"unknown platform '{value}': use one of {', '.join(registry.ids())}")
    return value


# A request field that takes a platform id: checked against the registry when validated,
# listed as an enum in the OpenAPI document (see app/platforms/openapi.py).
PlatformId = Annotated[
    str, AfterValidator(_known_platform), Field(json_schema_extra=PLATFORM_ENUM_MARK)
]


class _IdsByName(type):
    def __getattr__(cls, name: str) -> str:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return registry.require(name).id
        except UnknownPlatform:
            raise AttributeError(name) from None


class PlatformIds(str, metaclass=_IdsByName):
    """The registered ids as attributes (`PlatformIds.<id>` is the platform's own id
    string), for code and tests that name a platform without writing the string."""
