"""Which pasted text names an X account or an X post: pure functions, no I/O.

Posts: `x.com/<user>/status/<id>`, on twitter.com, mobile.twitter.com, mobile.x.com and the
www. forms too, with or without a query string (`?s=20&t=…`), a fragment, or a `/photo/1`,
`/video/1`, `/analytics`-like tail. Accounts: `@user`, `user`, or the profile URL
`x.com/<user>`. Near-misses (a profile, a search, a hashtag, a list) are refused with a
sentence naming X.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from app.errors import Invalid
from app.platforms.base import AccountRef, PostRef, UrlParts

PLATFORM_ID = "x"
HOSTS = frozenset(
    {
        "x.com",
        "www.x.com",
        "mobile.x.com",
        "twitter.com",
        "www.twitter.com",
        "mobile.twitter.com",
        "m.twitter.com",
    }
)
_USERNAME = re.compile(r"^[A-Za-z0-9_]{1,15}$")
_TWEET_ID = re.compile(r"^[0-9]{1,20}$")
# Paths on X that are not user names (a URL like x.com/search is not a profile).
_RESERVED = frozenset(
    {
        "home", "explore", "search", "hashtag", "i", "intent", "share", "settings", "login",
        "logout", "signup", "messages", "notifications", "compose", "tos", "privacy",
        "lists", "topics", "communities", "jobs", "account",
    }
)  # fmt: skip
_STATUS_TAILS = frozenset({"photo", "video", "analytics", "quotes", "retweets", "likes", "history"})

POST_FORM = "https://x.com/<user>/status/<id>"
ACCOUNT_FORM = "@user or https://x.com/<user>"


class NotAnXUrl(Invalid):
    """The text is on X's hosts but names no post or account (a 422); the message says which
    form is expected."""


@dataclass(frozen=True)
class XPostRef:
    username: str | None  # lower case; None for x.com/i/web/status/<id>
    tweet_id: str

    @property
    def canonical_url(self) -> str:
        return f"https://x.com/{self.username or 'i/web'}/status/{self.tweet_id}"


def is_x_host(url: str) -> bool:
    try:
        host = urlsplit(url.strip()).hostname
    except ValueError:
        return False
    return (host or "").lower() in HOSTS


def normalise_username(handle: str) -> str:
    """`@City_Hall`, `city_hall` → `city_hall` (X user names are case-insensitive)."""
    name = handle.strip().removeprefix("@")
    if not _USERNAME.match(name) or name.lower() in _RESERVED:
        raise NotAnXUrl(
            f"'{handle.strip()}' is not an X user name: 1 to 15 letters, digits or _ "
            f"({ACCOUNT_FORM})"
        )
    return name.lower()


def normalise_official(value: str) -> str:
    """An official account in classification.yaml: a user name (`@City`, `city`) or X's
    numeric user id, as the classifier compares them (author_ids)."""
    value = value.strip()
    return value if value.isdigit() else parse_account(value)


def _segments(url: str) -> list[str]:
    text = url.strip()
    if "://" not in text:
        text = "https://" + text
    parts = urlsplit(text)
    if (parts.hostname or "").lower() not in HOSTS:
        raise NotAnXUrl(f"'{url.strip()}' is not on x.com or twitter.com")
    return [s for s in parts.path.split("/") if s]


def parse_post_url(url: str) -> XPostRef:
    segments = _segments(url)
    if len(segments) >= 3 and segments[1].lower() in ("status", "statuses"):
        who, tweet_id, tail = segments[0], segments[2], segments[3:]
        if tail and tail[0].lower() not in _STATUS_TAILS:
            raise NotAnXUrl(f"'{url.strip()}' is not an X post URL: expected {POST_FORM}")
        if not _TWEET_ID.match(tweet_id):
            raise NotAnXUrl(f"'{tweet_id}' in '{url.strip()}' is not an X post id (digits)")
        if who.lower() == "i":
            return XPostRef(None, tweet_id)
        return XPostRef(normalise_username(who), tweet_id)
    if (
        len(segments) == 4
        and "/".join(segments[:3]) == "i/web/status"
        and _TWEET_ID.match(segments[3])
    ):
        return XPostRef(None, segments[3])
    if len(segments) == 1 and _USERNAME.match(segments[0]) and segments[0].lower() not in _RESERVED:
        raise NotAnXUrl(
            f"'{url.strip()}' is an X profile, not a post: flag a post ({POST_FORM}); "
            "register the account itself as an X account"
        )
    if segments[:1] == ["search"] or segments[:1] == ["hashtag"]:
        raise NotAnXUrl(f"'{url.strip()}' is an X search, not a post: expected {POST_FORM}")
    raise NotAnXUrl(f"'{url.strip()}' is not an X post URL: expected {POST_FORM}")


def parse_account(text: str) -> str:
    """An account from `@user`, `user` or a profile URL; the normalised user name."""
    value = text.strip()
    if is_x_host(value) or value.lower().startswith(tuple(HOSTS)):
        segments = _segments(value)
        if (
            len(segments) >= 1
            and segments[0].lower() not in _RESERVED
            and (len(segments) == 1 or segments[1].lower() in ("with_replies", "media", "likes"))
        ):
            return normalise_username(segments[0])
        raise NotAnXUrl(f"'{value}' is not an X profile URL: expected {ACCOUNT_FORM}")
    return normalise_username(value)


# --- the contract's forms (app/platforms/base.py) ----------------------------------------------


def profile_url(username: str) -> str:
    return f"https://x.com/{username}"


def _on_x(url: UrlParts) -> bool:
    if url.is_web:
        return url.netloc in HOSTS
    # "x.com/user/status/1" pasted without a scheme
    return not url.scheme and url.raw.lower().split("/", 1)[0] in HOSTS


def post_ref(url: UrlParts) -> PostRef | None:
    """The X post `url` names; None when the URL is not on X; NotAnXUrl (422) when it is on X
    but not a post (a profile, a search)."""
    if not _on_x(url):
        return None
    ref = parse_post_url(url.raw)
    return PostRef(
        PLATFORM_ID, ref.username, ref.tweet_id, ref.canonical_url, site=None, by_site=False
    )


def account_from_handle(handle: str) -> AccountRef:
    name = parse_account(handle)
    return AccountRef(PLATFORM_ID, name, profile_url(name))


def account_from_profile_url(url: UrlParts) -> AccountRef | None:
    if not _on_x(url):
        return None
    return account_from_handle(url.raw)
