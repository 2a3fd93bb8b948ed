"""Facebook Page post URLs: /<page>/posts/<id|pfbid…>, permalink.php, /<page>/videos/<id>,
/photo/?fbid=…, on www., m., web. and mbasic. hosts; fb.watch and /share/p/ short links
(resolved by the collector through the guarded fetcher, never here)."""

from __future__ import annotations

import re
from urllib.parse import parse_qs

from app.errors import Invalid
from app.platforms.base import AccountRef, PostRef, UrlParts

PLATFORM_ID = "facebook"
HOSTS = {
    "facebook.com",
    "www.facebook.com",
    "m.facebook.com",
    "web.facebook.com",
    "mbasic.facebook.com",
    "touch.facebook.com",
}
SHORT_HOST = "fb.watch"
_NUMERIC = re.compile(r"^[0-9]{1,25}$")
_PFBID = re.compile(r"^pfbid[0-9A-Za-z]{20,80}$")
_PAGE = re.compile(r"^[A-Za-z0-9.\-]{1,100}$")
_SHORT = re.compile(r"^[A-Za-z0-9_\-]{4,40}$")
# Paths that are Facebook's own, never a Page's vanity name.
_RESERVED = {"profile.php", "people", "groups", "events", "watch", "marketplace", "stories"}
POST_FORM = "https://www.facebook.com/<page>/posts/<id or pfbid…>"


def page_url(page: str) -> str:
    return f"https://www.facebook.com/{page}"


def _page_name(segment: str) -> str:
    return segment.lower() if not _NUMERIC.match(segment) else segment


def parse_post_url(url: UrlParts) -> PostRef | None:
    if url.scheme not in ("http", "https"):
        return None
    segments = url.segments
    query = parse_qs(url.query)
    if url.netloc == SHORT_HOST:
        if len(segments) == 1 and _SHORT.match(segments[0]):
            return PostRef(PLATFORM_ID, None, f"short/fb.watch/{segments[0]}", url.raw)
        raise Invalid("a fb.watch link looks like https://fb.watch/<code>/")
    if url.netloc not in HOSTS:
        return None
    if segments[:1] in (["profile.php"], ["people"], ["groups"]):
        # A personal profile or a group has no API: not ours; the web capture takes it.
        return None
    if (
        segments[:2] == ["share", "p"]
        or segments[:2] == ["share", "v"]
        or segments[:1] == ["share"]
    ):
        code = segments[-1] if len(segments) >= 2 else ""
        if _SHORT.match(code):
            path = "/".join(segments)
            return PostRef(PLATFORM_ID, None, f"short/www.facebook.com/{path}", url.raw)
        raise Invalid("a Facebook share link looks like https://www.facebook.com/share/p/<code>/")
    if segments[:1] == ["permalink.php"] or segments[:1] == ["story.php"]:
        story = next(iter(query.get("story_fbid", [])), "")
        page = next(iter(query.get("id", [])), "")
        if (_NUMERIC.match(story) or _PFBID.match(story)) and _NUMERIC.match(page):
            canonical = f"https://www.facebook.com/permalink.php?story_fbid={story}&id={page}"
            return PostRef(PLATFORM_ID, page, f"posts/{story}", canonical, by_site=True)
        raise Invalid(
            "a Facebook permalink looks like "
            "https://www.facebook.com/permalink.php?story_fbid=<id>&id=<page id>"
        )
    if segments[:1] in (["photo"], ["photo.php"]):
        fbid = next(iter(query.get("fbid", [])), "")
        if _NUMERIC.match(fbid):
            return PostRef(
                PLATFORM_ID, None, f"photo/{fbid}", f"https://www.facebook.com/photo/?fbid={fbid}"
            )
        raise Invalid("a Facebook photo URL looks like https://www.facebook.com/photo/?fbid=<id>")
    if len(segments) >= 3 and segments[0] not in _RESERVED and _PAGE.match(segments[0]):
        page, kind, post = _page_name(segments[0]), segments[1], segments[2]
        if kind == "posts" and (_NUMERIC.match(post) or _PFBID.match(post)):
            canonical = f"https://www.facebook.com/{page}/posts/{post}"
            return PostRef(PLATFORM_ID, page, f"posts/{post}", canonical, by_site=True)
        if kind == "videos":
            video = segments[-1]
            if _NUMERIC.match(video):
                canonical = f"https://www.facebook.com/{page}/videos/{video}"
                return PostRef(PLATFORM_ID, page, f"videos/{video}", canonical, by_site=True)
    # Another facebook.com page (a photo set, a group, a profile): no Page API answers for
    # it, so it is left to the web capture.
    return None


def account_from_handle(handle: str) -> AccountRef:
    name = handle.strip().removeprefix("@")
    if not _PAGE.match(name):
        raise Invalid(f"'{handle}' is not a Facebook Page name or id")
    name = _page_name(name)
    return AccountRef(PLATFORM_ID, name, page_url(name))


def account_from_profile_url(url: UrlParts) -> AccountRef | None:
    if url.netloc not in HOSTS:
        return None
    segments = url.segments
    if segments[:1] == ["profile.php"] or segments[:1] == ["people"]:
        raise Invalid(
            "this is a personal Facebook profile: only Facebook Pages can be connected "
            "(Meta's API has no access to personal profiles)"
        )
    if len(segments) == 1 and segments[0] not in _RESERVED and _PAGE.match(segments[0]):
        return account_from_handle(segments[0])
    raise Invalid("a Facebook Page URL looks like https://www.facebook.com/<page>")
