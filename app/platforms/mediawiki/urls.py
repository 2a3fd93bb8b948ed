"""MediaWiki URLs (pure, no I/O): user pages are accounts, one revision is a post.

A revision is named by any of the links a person copies from a page's history or a diff:
    <wiki>/index.php?title=T&diff=REV&oldid=OLD   (the diff that made REV)
    <wiki>/index.php?title=T&diff=prev&oldid=REV  (the same, from a history page)
    <wiki>/index.php?oldid=REV                     (the permanent link)
    <wiki>/wiki/Special:Diff/REV, Special:Diff/OLD/REV, Special:PermanentLink/REV
on any host (a city's own wiki as well as Wikipedia). The wiki is the URL's host: the same
revision in two forms is one post, stored as "<host>/<revision id>".

An account is a user page, `<wiki>/wiki/User:<name>` (or `index.php?title=User:<name>`). Its
handle is "<name>@<host>": MediaWiki forbids "@" in user names, so the handle is unambiguous.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, unquote

from app.errors import Invalid
from app.platforms.base import AccountRef, PostRef, UrlParts
from app.platforms.urls import DIGITS, HOST

PLATFORM_ID = "mediawiki"
NAME = "MediaWiki"

# Wikimedia's wikis: on these hosts every /wiki/ or /w/index.php URL is a wiki URL, so a
# page, search or history link gets an explanation instead of "no supported platform".
_WIKIMEDIA = re.compile(
    r"(^|\.)(wikipedia|wikimedia|wiktionary|wikibooks|wikinews|wikiquote|wikisource|"
    r"wikiversity|wikivoyage|wikidata|mediawiki|wikifunctions)\.org$"
)
_USER_NAMESPACES = ("user:",)
_DIFF_PAGES = ("special:diff",)
_PERMALINK_PAGES = ("special:permanentlink", "special:permalink")
# A MediaWiki user name: no "@", ":", "/", "#", "<", ">", "[", "]", "|", "{", "}" (the
# characters MediaWiki refuses in titles or in user names by default).
_USER_NAME = re.compile(r"^[^@:/#<>\[\]|{}\x00-\x1f\x7f]{1,255}$")

REVISION_FORMS = "index.php?title=T&diff=REV&oldid=OLD, index.php?oldid=REV or Special:Diff/REV"


def _host(netloc: str) -> str:
    """The wiki's host: Wikimedia's mobile hosts (en.m.wikipedia.org) are the same wiki."""
    host = netloc.lower()
    if _WIKIMEDIA.search(host.split(":")[0]) and ".m." in host:
        host = host.replace(".m.", ".", 1)
    return host


def is_wikimedia(netloc: str) -> bool:
    return _WIKIMEDIA.search(netloc.lower().split(":")[0]) is not None


def normalise_user_name(name: str) -> str:
    """MediaWiki's own form: underscores are spaces, runs of spaces one, first letter upper."""
    cleaned = " ".join(unquote(name).replace("_", " ").split())
    if not cleaned or not _USER_NAME.match(cleaned):
        raise Invalid(f"'{name}' is not a MediaWiki user name")
    return cleaned[0].upper() + cleaned[1:]


def handle_of(name: str, netloc: str) -> str:
    return f"{normalise_user_name(name)}@{_host(netloc)}"


def split_handle(handle: str) -> tuple[str, str]:
    """("Alice", "wiki.example.gov") from "Alice@wiki.example.gov"."""
    name, sep, host = handle.rpartition("@")
    if not sep or not name or not HOST.match(host):
        raise Invalid(f"'{handle}' is not a MediaWiki account (User name@wiki host)")
    return name, host


def _title_and_prefix(url: UrlParts) -> tuple[str | None, str]:
    """The page title a URL names and the path before it ("/wiki/"), or (None, "")."""
    query = parse_qs(url.query, keep_blank_values=True)
    if url.path.endswith("index.php"):
        titles = query.get("title") or []
        return (unquote(titles[0]) if titles and titles[0] else None), url.path
    marker = url.path.find("/wiki/")
    if marker >= 0:
        return unquote(url.path[marker + len("/wiki/") :]), url.path[: marker + len("/wiki/")]
    return None, ""


def _user_from_title(title: str) -> str | None:
    lowered = title.lower()
    for prefix in _USER_NAMESPACES:
        if lowered.startswith(prefix):
            return title[len(prefix) :].split("/", 1)[0]
    return None


def account_from_profile_url(url: UrlParts) -> AccountRef | None:
    """A user page, by its form: /wiki/User:Name or index.php?title=User:Name."""
    if not url.is_web or not HOST.match(url.netloc):
        return None
    title, prefix = _title_and_prefix(url)
    if title is None:
        return None
    name = _user_from_title(title)
    if name is None:
        return None
    handle = handle_of(name, url.netloc)
    user = handle.rpartition("@")[0]
    return AccountRef(PLATFORM_ID, handle, _user_page_url(url.scheme, url.netloc, prefix, user))


def _user_page_url(scheme: str, netloc: str, prefix: str, user: str) -> str:
    page = f"User:{user.replace(' ', '_')}"
    if prefix.endswith("index.php"):
        return f"{scheme}://{_host(netloc)}{prefix}?title={page}"
    return f"{scheme}://{_host(netloc)}{prefix}{page}"


def profile_url_for(url: UrlParts) -> AccountRef:
    ref = account_from_profile_url(url)
    if ref is None:
        raise Invalid(
            f"'{url.raw}' is not a MediaWiki user page: a user page looks like "
            "https://wiki.example/wiki/User:Name"
        )
    return ref


def account_from_handle(handle: str) -> AccountRef:
    """ "Name@wiki.example" (or a user page URL typed as the handle)."""
    text = handle.strip()
    if "://" in text:
        return profile_url_for(UrlParts.parse(text))
    name, host = split_handle(text)
    account = handle_of(name, host)
    user = account.rpartition("@")[0]
    return AccountRef(PLATFORM_ID, account, _user_page_url("https", host, "/wiki/", user))


def _first(query: dict[str, list[str]], key: str) -> str | None:
    values = query.get(key) or []
    return values[0] if values else None


def _revision(url: UrlParts, title: str | None) -> str | None:
    """The revision id a URL names, None when it names none; Invalid when it names one
    ambiguously (diff=next, diff=cur)."""
    query = parse_qs(url.query, keep_blank_values=True)
    diff = _first(query, "diff")
    oldid = _first(query, "oldid")
    if diff is not None and DIGITS.match(diff):
        return diff
    if diff in ("next", "cur"):
        raise Invalid(
            f"a MediaWiki diff with diff={diff} names the revision after {oldid or 'another'}, "
            "which can change: open the diff and copy the link of the revision itself "
            f"({REVISION_FORMS})"
        )
    if oldid is not None and DIGITS.match(oldid):
        return oldid
    if title is not None:
        lowered = title.lower()
        for page in (*_DIFF_PAGES, *_PERMALINK_PAGES):
            if lowered.startswith(page + "/"):
                ids = title[len(page) + 1 :].split("/")
                last = ids[-1]
                if len(ids) <= 2 and all(DIGITS.match(i) for i in ids):
                    return last
                raise Invalid(
                    f"'{url.raw}' is not a MediaWiki revision link: {title.split('/')[0]} "
                    "is followed by a revision id, like Special:Diff/123456"
                )
    return None


def _near_miss(url: UrlParts, title: str | None, prefix: str) -> str | None:
    """Why a URL that is clearly a wiki's is not a revision, or None if it may be anything."""
    query = parse_qs(url.query, keep_blank_values=True)
    lowered = (title or "").lower()
    if title is not None and _user_from_title(title) is not None:
        return (
            "is a MediaWiki user page: that is an account (register it), not a post; flag one "
            "of its revisions"
        )
    if lowered.startswith("special:search") or (
        "search" in query and (prefix.endswith("index.php") or is_wikimedia(url.netloc))
    ):
        return "is a MediaWiki search, not a revision"
    if lowered.startswith("special:contributions"):
        return "lists a user's contributions: flag one of the revisions it lists"
    if lowered.startswith("special:"):
        return f"is the special page {title.split('/')[0] if title else ''}, not a revision"
    if (query.get("action") or [""])[0] == "history":
        return "is a page history: flag one revision from it"
    if title is not None and (prefix.endswith("index.php") or is_wikimedia(url.netloc)):
        return "names a page, whose text changes, not one revision of it"
    return None


def parse_post_url(url: UrlParts) -> PostRef | None:
    """The revision a URL names, None when the URL is not a wiki's, Invalid when it is a
    wiki's but not a revision (a user page, a search, a page, a history)."""
    if not url.is_web or not HOST.match(url.netloc):
        return None
    title, prefix = _title_and_prefix(url)
    if title is None and not prefix:
        return None
    revision = _revision(url, title)
    if revision is None:
        why = _near_miss(url, title, prefix)
        if why is None:
            return None
        raise Invalid(f"'{url.raw}' {why}: a {NAME} revision link looks like {REVISION_FORMS}")
    host = _host(url.netloc)
    if prefix.endswith("index.php"):
        canonical = f"{url.scheme}://{host}{prefix}?oldid={revision}"
    else:
        canonical = f"{url.scheme}://{host}{prefix}Special:Diff/{revision}"
    return PostRef(PLATFORM_ID, None, revision, canonical, site=host, by_site=False)


def external_id(site: str, revision: str) -> str:
    return f"{site}/{revision}"


def split_external_id(external_id: str) -> tuple[str, int]:
    """("wiki.example.gov", 123) from "wiki.example.gov/123", or ValueError."""
    host, _, revision = external_id.strip().rpartition("/")
    if not HOST.match(host) or not DIGITS.match(revision):
        raise ValueError(
            f"'{external_id}' is not a MediaWiki post id of the form <wiki host>/<revision id>"
        )
    return host, int(revision)
