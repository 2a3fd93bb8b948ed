"""The one list of platforms. Adding a platform: its package, one line in PLATFORMS, its tests.

Everything that used to name platforms asks this module: URL recognition (posts, accounts),
the OpenAPI enum of `platform`, the web pages' names, the Flag page's help and the README's
table of recognised URLs (`python -m app.platforms.readme_table`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum

from app.errors import Invalid
from app.platforms.base import AccountRef, Platform, PostRef, UrlParts
from app.platforms.bluesky import PLATFORM as BLUESKY
from app.platforms.feed import PLATFORM as FEED
from app.platforms.fetcher import PLAIN_HTTP_SETTING, Fetcher
from app.platforms.mastodon import PLATFORM as MASTODON
from app.platforms.x import PLATFORM as X
from app.platforms.youtube import PLATFORM as YOUTUBE

# Listing order: how platforms are listed in messages, menus and the API enum.
PLATFORMS: tuple[Platform, ...] = (
    BLUESKY,
    MASTODON,
    FEED,
    YOUTUBE,
    X,
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

    def names(self) -> dict[str, str]:
        """Web labels by id ("feed" → "Blog feed")."""
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

    def account_from_profile_url(
        self, url: str, *, fetcher: Fetcher, platform_id: str | None = None
    ) -> AccountRef:
        """The account a profile URL names.

        With `platform_id` the employee said which platform it is. Without, the URL's form
        decides; a URL no platform knows by form becomes an account only when a platform's
        discovery proves it (a feed found and parsed), else Invalid naming the platforms.
        An http:// URL is accepted only for a host in POSTVAULT_FETCH_PLAIN_HTTP_HOSTS.
        """
        parts = UrlParts.parse(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise Invalid(f"'{parts.raw}' is not an http(s) URL")
        check_plain_http(parts, fetcher)
        if platform_id is not None:
            return self.get(platform_id).profile_url_for(parts)
        for platform in self._by_recognition_order():
            ref = platform.account_from_profile_url(parts)
            if ref is not None:
                return ref
        with fetcher.open_client() as client:
            http = fetcher.session(client)
            for platform in self._by_recognition_order():
                ref = platform.discover_account(parts, http)
                if ref is not None:
                    return ref
        raise Invalid(
            f"PostVault does not recognise {parts.raw} as an account of a platform it knows "
            f"({self.known_platforms_sentence()}) and found no feed there: choose the platform, "
            "or give the address of the blog's RSS or Atom feed"
        )


def check_plain_http(parts: UrlParts, fetcher: Fetcher) -> None:
    """Refuse an http:// account URL unless its host is named for plain HTTP."""
    if parts.scheme == "http" and not fetcher.allows_plain_http(parts.netloc):
        raise Invalid(
            f"{parts.raw} is plain HTTP: use https://, or name {parts.netloc} in "
            f"{PLAIN_HTTP_SETTING} (test and development servers only)"
        )


registry = Registry(PLATFORMS)


def platform_ids_enum() -> type[StrEnum]:
    """The registered ids as a StrEnum (built on call, so a platform added in a test is in)."""
    return StrEnum("PlatformId", {i: i for i in registry.ids()})  # type: ignore[return-value]
