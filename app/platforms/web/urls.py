"""Web pages: an account is a profile, page or site URL; a post is a page under it, or on
the same site for sites whose post URLs do not name their author. Pure, no I/O."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from app.errors import Invalid
from app.platforms.base import AccountRef, PostRef, UrlParts
from app.platforms.facebook.urls import PLATFORM_ID as FACEBOOK_ID
from app.platforms.instagram.urls import PLATFORM_ID as INSTAGRAM_ID
from app.platforms.urls import normalise_web_url

PLATFORM_ID = "web"
MAX_EXTERNAL_ID = 512


@dataclass(frozen=True)
class Site:
    """A site PostVault knows by name: its hosts, how its URLs look, and whether a post's URL
    names its author (when not, any page on the site may be the account's, and the capture
    checks the author from the page's metadata)."""

    id: str
    name: str
    hosts: tuple[str, ...]
    profile: re.Pattern[str]  # path of a profile/page/group URL
    post: re.Pattern[str]  # path (+ "?" + query) of a post URL
    url_names_author: bool
    examples: tuple[str, ...]


SITES: tuple[Site, ...] = (
    Site(
        FACEBOOK_ID,  # the same site as the Graph API platform; captured here by browser
        "Facebook",
        ("facebook.com", "m.facebook.com", "web.facebook.com", "fb.com"),
        re.compile(r"^/(groups/[^/]+|profile\.php|people/[^/]+/\d+|[A-Za-z0-9.\-]{3,})/?$"),
        re.compile(
            r"^/([A-Za-z0-9.\-]+/(posts|videos|photos)/|groups/[^/]+/(posts|permalink)/"
            r"|permalink\.php\?|story\.php\?|photo(\.php)?\?|watch/?\?|reel/|share/)"
        ),
        True,
        (
            "https://www.facebook.com/pat.employee/posts/pfbid02…",
            "https://www.facebook.com/groups/ourneighbourhood/posts/1234567890",
        ),
    ),
    Site(
        "linkedin",
        "LinkedIn",
        ("linkedin.com",),
        re.compile(r"^/(in|company)/[^/]+/?$"),
        re.compile(r"^/(posts/[^/]+|feed/update/urn:li:(activity|share|ugcPost):\d+)"),
        False,
        ("https://www.linkedin.com/posts/pat-employee_roadwork-activity-7234…",),
    ),
    Site(
        "tiktok",
        "TikTok",
        ("tiktok.com", "m.tiktok.com", "vm.tiktok.com"),
        re.compile(r"^/@[^/]+/?$"),
        re.compile(r"^/(@[^/]+/(video|photo)/\d+|t/[A-Za-z0-9]+|[A-Za-z0-9]{6,12}/?$)"),
        False,
        ("https://www.tiktok.com/@pat.employee/video/7301234567890123456",),
    ),
    Site(
        INSTAGRAM_ID,
        "Instagram",
        ("instagram.com",),
        re.compile(r"^/[A-Za-z0-9._]+/?$"),
        re.compile(r"^/(p|reel|reels|tv)/[A-Za-z0-9_\-]+"),
        False,
        ("https://www.instagram.com/p/C1a2B3c4D5e/",),
    ),
    Site(
        "nextdoor",
        "Nextdoor",
        ("nextdoor.com",),
        re.compile(r"^/(profile/[^/]+|pages/[^/]+|agency/[^/]+)/?$"),
        re.compile(r"^/(p/[A-Za-z0-9]+|news_feed/\?post=\d+|.*/posts?/\d+)"),
        False,
        ("https://nextdoor.com/p/AbCdEfGh1234",),
    ),
    Site(
        "reddit",
        "Reddit",
        ("reddit.com", "old.reddit.com", "new.reddit.com", "redd.it"),
        re.compile(r"^/(user|u)/[^/]+/?$"),
        re.compile(r"^/(r/[^/]+/(comments|s)/[a-z0-9]+|comments/[a-z0-9]+|[a-z0-9]{5,8}/?$)"),
        False,
        (
            "https://www.reddit.com/r/ourcity/comments/1abcd2e/road_closure/",
            "https://www.reddit.com/r/ourcity/comments/1abcd2e/comment/kxyz123/",
        ),
    ),
)
_BY_ID = {site.id: site for site in SITES}


def site_names() -> dict[str, str]:
    return {site.id: site.name for site in SITES}


def site_by_id(site_id: str) -> Site | None:
    return _BY_ID.get(site_id)


def host_of(url: str) -> str:
    return urlsplit(url).netloc.lower().removeprefix("www.")


def recognised_site(url: str, extra_hosts: dict[str, str] | None = None) -> Site | None:
    """The known site a URL is on (its host, or a host named in POSTVAULT_WEB_SITE_HOSTS)."""
    netloc = urlsplit(url).netloc.lower()
    if extra_hosts and netloc in extra_hosts:
        return _BY_ID.get(extra_hosts[netloc])
    host = netloc.split(":")[0].removeprefix("www.")
    for site in SITES:
        if host in site.hosts or any(host.endswith("." + h) for h in site.hosts):
            return site
    return None


def parse_site_hosts(value: str) -> dict[str, str]:
    """POSTVAULT_WEB_SITE_HOSTS: "host[:port]=site, ..." (test and mirror hosts)."""
    out: dict[str, str] = {}
    for item in value.split(","):
        if "=" not in item:
            continue
        host, site = (part.strip().lower() for part in item.split("=", 1))
        if host and site in _BY_ID:
            out[host] = site
    return out


def page_url(url: str) -> str:
    """A page's address as PostVault keeps it: normalised, no fragment, no tracking."""
    return normalise_web_url(url)


def _prefix(profile_url: str) -> str:
    parts = urlsplit(profile_url)
    path = parts.path.rstrip("/")
    return f"{parts.netloc.lower().removeprefix('www.').removeprefix('m.')}{path}"


def under_profile(post_url: str, profile_url: str) -> bool:
    """Is the post's page under the account's profile URL (same site, path prefix)?"""
    post = urlsplit(post_url)
    host = post.netloc.lower().removeprefix("www.").removeprefix("m.")
    key = f"{host}{post.path}"
    prefix = _prefix(profile_url)
    if "?" in profile_url and urlsplit(profile_url).query:
        # profile.php?id=123: the id must be in the post's query or path
        query = urlsplit(profile_url).query
        return key.startswith(prefix.rsplit("/", 1)[0]) and query.split("&")[0] in post_url
    return key == prefix or key.startswith(prefix.rstrip("/") + "/")


def same_site(a: str, b: str) -> bool:
    site_a = host_of(a).removeprefix("m.")
    site_b = host_of(b).removeprefix("m.")
    return site_a == site_b


def account_from_profile_url(url: UrlParts) -> AccountRef | None:
    """A profile URL of a recognised site, by its form: claimed outright."""
    if not url.is_web:
        return None
    site = recognised_site(url.raw)
    if site is None:
        return None
    if not site.profile.match(url.path + (f"?{url.query}" if url.query else "")):
        return None
    return profile_account(url)


def profile_account(url: UrlParts) -> AccountRef:
    """`{"platform": "web", "profile_url": URL}`: any http(s) profile, page or site URL."""
    if not url.is_web:
        raise Invalid(f"'{url.raw}' is not an http(s) URL")
    normal = page_url(url.raw)
    if normal.endswith("/") and urlsplit(normal).path != "/":
        normal = normal.rstrip("/")
    if len(normal) > MAX_EXTERNAL_ID:
        raise Invalid(f"the profile URL is longer than {MAX_EXTERNAL_ID} characters")
    return AccountRef(PLATFORM_ID, normal, normal)


def parse_post_url(url: UrlParts) -> PostRef | None:
    """Any web page may be a post of a registered web account: claimed by site only."""
    if not url.is_web:
        return None
    try:
        canonical = page_url(url.raw)
    except Invalid:
        return None
    if len(canonical) > MAX_EXTERNAL_ID:
        raise Invalid(f"the URL is longer than {MAX_EXTERNAL_ID} characters")
    return PostRef(PLATFORM_ID, None, canonical, canonical, site=host_of(canonical), by_site=True)
