"""Which pasted text names a Tumblr blog or a Tumblr post: pure functions, no I/O.

Posts: `<blog>.tumblr.com/post/<id>[/slug]`, `tumblr.com/<blog>/<id>[/slug]`,
`www.tumblr.com/<blog>/<id>[/slug]` (and `www.tumblr.com/blog/view/<blog>/<id>`), with or
without a query string or fragment. Accounts: the blog name (`cityofexample`), its
`<blog>.tumblr.com` address or the blog URL (`https://cityofexample.tumblr.com/`,
`https://www.tumblr.com/cityofexample`). Near-misses on Tumblr's hosts (a blog's front page,
a search, a tag page, the dashboard) are refused with a sentence naming Tumblr.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.errors import Invalid
from app.platforms.base import AccountRef, PostRef, UrlParts

PLATFORM_ID = "tumblr"
NAME = "Tumblr"
DOMAIN = "tumblr.com"
# Blog names: letters, digits and hyphens, at most 32 (Tumblr lower-cases them).
_BLOG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$")
_POST_ID = re.compile(r"^[0-9]{1,20}$")
# Subdomains of tumblr.com that are not blogs.
_NOT_BLOGS = frozenset(
    {"www", "api", "assets", "static", "media", "help", "staff-blog", "embed", "href", "px"}
)
# First path segments on www.tumblr.com that are not blog names.
_RESERVED = frozenset(
    {
        "search", "tagged", "tag", "explore", "dashboard", "likes", "following", "inbox",
        "settings", "login", "register", "logout", "about", "help", "policy", "docs", "apps",
        "new", "communities", "blog", "reblog", "post", "privacy", "oauth", "customize",
        "activity", "messaging", "changes", "tips", "recommended",
    }
)  # fmt: skip
_SEARCHES = frozenset({"search", "tagged", "tag", "explore", "dashboard", "recommended"})

POST_FORM = "https://<blog>.tumblr.com/post/<id> or https://www.tumblr.com/<blog>/<id>"
ACCOUNT_FORM = "the blog name, or https://<blog>.tumblr.com/"


class NotATumblrUrl(Invalid):
    """The text is on Tumblr's hosts but names no post or blog (a 422 naming Tumblr)."""


@dataclass(frozen=True)
class TumblrPostRef:
    blog: str  # lower case
    post_id: str

    @property
    def canonical_url(self) -> str:
        return post_url(self.blog, self.post_id)


def post_url(blog: str, post_id: str) -> str:
    return f"https://{blog}.{DOMAIN}/post/{post_id}"


def blog_url(blog: str) -> str:
    return f"https://{blog}.{DOMAIN}/"


def _host(netloc: str) -> str:
    return netloc.rsplit("@", 1)[-1].split(":", 1)[0].lower().rstrip(".")


def blog_of_host(host: str) -> str | None:
    """`cityofexample.tumblr.com` → `cityofexample`; None for www, api, media hosts."""
    if not host.endswith("." + DOMAIN):
        return None
    label = host[: -len(DOMAIN) - 1]
    if "." in label or label in _NOT_BLOGS or not _BLOG.match(label):
        return None
    return label


def is_tumblr_host(host: str) -> bool:
    return host == DOMAIN or host == f"www.{DOMAIN}" or blog_of_host(host) is not None


def normalise_blog(name: str) -> str:
    """`CityOfExample`, `cityofexample.tumblr.com` → `cityofexample`."""
    text = name.strip().removeprefix("@").lower().rstrip("/")
    if text.endswith("." + DOMAIN):
        text = text[: -len(DOMAIN) - 1]
    if not _BLOG.match(text) or text in _NOT_BLOGS:
        raise NotATumblrUrl(
            f"'{name.strip()}' is not a Tumblr blog name: letters, digits and hyphens, at most "
            f"32 ({ACCOUNT_FORM})"
        )
    return text


def _parts(text: str) -> UrlParts | None:
    value = text.strip()
    if "://" not in value:
        value = "https://" + value
    parts = UrlParts.parse(value)
    return parts if is_tumblr_host(_host(parts.netloc)) else None


def _check_id(post_id: str, raw: str) -> str:
    if not _POST_ID.match(post_id):
        raise NotATumblrUrl(f"'{post_id}' in '{raw}' is not a Tumblr post id (digits)")
    return post_id


def parse_post(url: UrlParts) -> TumblrPostRef:
    """The post a URL on Tumblr's hosts names, or NotATumblrUrl saying what it is instead."""
    raw = url.raw
    host = _host(url.netloc)
    segments = url.segments
    blog = blog_of_host(host)
    if blog is not None:  # cityofexample.tumblr.com/...
        if len(segments) >= 2 and segments[0].lower() == "post":
            return TumblrPostRef(blog, _check_id(segments[1], raw))
        if segments[:1] and segments[0].lower() in ("tagged", "search", "tag"):
            raise NotATumblrUrl(
                f"'{raw}' is a Tumblr search or tag page, not a post: expected {POST_FORM}"
            )
        raise NotATumblrUrl(
            f"'{raw}' is a Tumblr blog, not a post: flag a post ({POST_FORM}); register the "
            "blog itself as a Tumblr account"
        )
    # tumblr.com / www.tumblr.com
    lowered = [s.lower() for s in segments]
    if len(segments) >= 4 and lowered[:2] == ["blog", "view"]:
        return TumblrPostRef(normalise_blog(segments[2]), _check_id(segments[3], raw))
    if not segments or lowered[0] in _SEARCHES:
        raise NotATumblrUrl(
            f"'{raw}' is a Tumblr search, tag or dashboard page, not a post: expected {POST_FORM}"
        )
    if lowered[0] in _RESERVED:
        raise NotATumblrUrl(f"'{raw}' is not a Tumblr post URL: expected {POST_FORM}")
    if len(segments) == 1 or (len(segments) == 2 and lowered[1] in ("archive", "likes")):
        raise NotATumblrUrl(
            f"'{raw}' is a Tumblr blog, not a post: flag a post ({POST_FORM}); register the "
            "blog itself as a Tumblr account"
        )
    if lowered[1] in ("tagged", "search"):
        raise NotATumblrUrl(
            f"'{raw}' is a Tumblr search or tag page, not a post: expected {POST_FORM}"
        )
    return TumblrPostRef(normalise_blog(segments[0]), _check_id(segments[1], raw))


def parse_account(text: str) -> str:
    """A blog from its name, `<blog>.tumblr.com` or a blog URL; the normalised name."""
    value = text.strip()
    parts = _parts(value) if ("/" in value or "://" in value) else None
    if parts is None:
        if "://" in value:
            raise NotATumblrUrl(f"'{value}' is not on tumblr.com: expected {ACCOUNT_FORM}")
        return normalise_blog(value)
    host = _host(parts.netloc)
    blog = blog_of_host(host)
    segments = parts.segments
    if blog is not None:
        if segments and segments[0].lower() in ("post", "tagged", "search"):
            raise NotATumblrUrl(f"'{value}' is not a Tumblr blog URL: expected {ACCOUNT_FORM}")
        return blog
    lowered = [s.lower() for s in segments]
    if len(segments) >= 3 and lowered[:2] == ["blog", "view"]:
        return normalise_blog(segments[2])
    if len(segments) == 1 and lowered[0] not in _RESERVED:
        return normalise_blog(segments[0])
    raise NotATumblrUrl(f"'{value}' is not a Tumblr blog URL: expected {ACCOUNT_FORM}")


def normalise_official(value: str) -> str:
    """An official blog in classification.yaml: a name, `<blog>.tumblr.com`, a blog URL, or
    Tumblr's blog uuid (`t:…`), as the classifier compares them (author_ids)."""
    value = value.strip()
    return value if value.startswith("t:") else parse_account(value)


# --- the contract's forms (app/platforms/base.py) ----------------------------------------------


def _on_tumblr(url: UrlParts) -> bool:
    if url.is_web:
        return is_tumblr_host(_host(url.netloc))
    # "cityofexample.tumblr.com/post/1" pasted without a scheme
    return not url.scheme and is_tumblr_host(_host(url.raw.split("/", 1)[0]))


def post_ref(url: UrlParts) -> PostRef | None:
    """The Tumblr post `url` names; None when the URL is not on Tumblr; NotATumblrUrl (422)
    when it is on Tumblr but not a post (a blog's front page, a search)."""
    if not _on_tumblr(url):
        return None
    parts = url if url.is_web else UrlParts.parse("https://" + url.raw)
    ref = parse_post(parts)
    return PostRef(PLATFORM_ID, ref.blog, ref.post_id, ref.canonical_url, site=None, by_site=False)


def account_from_handle(handle: str) -> AccountRef:
    name = parse_account(handle)
    return AccountRef(PLATFORM_ID, name, blog_url(name))


def account_from_profile_url(url: UrlParts) -> AccountRef | None:
    if not _on_tumblr(url):
        return None
    return account_from_handle(url.raw)
