"""What a captured page says: its main text, its comments, who wrote it, and whether it is
an "isn't available" page. Pure functions over what the browser read (no I/O)."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from app.platforms.facebook.urls import PLATFORM_ID as FACEBOOK_ID
from app.platforms.instagram.urls import PLATFORM_ID as INSTAGRAM_ID

# Phrases recognised sites show instead of a post that was removed or hidden.
UNAVAILABLE_PHRASES: dict[str, tuple[str, ...]] = {
    FACEBOOK_ID: (
        "this content isn't available right now",
        "this content isn't available at the moment",
        "this page isn't available",
    ),
    INSTAGRAM_ID: ("sorry, this page isn't available",),
    "linkedin": (
        "this post cannot be displayed",
        "this content isn't available",
        "this post was removed",
    ),
    "tiktok": (
        "video currently unavailable",
        "couldn't find this video",
        "this video is unavailable",
    ),
    "nextdoor": (
        "this post is no longer available",
        "this content isn't available",
        "post not found",
    ),
    "reddit": ("sorry, this post was deleted", "sorry, this post has been removed", "[removed]"),
}


def main_text(html: str, url: str) -> str:
    """The page's main text (trafilatura), without menus and footers; the page's whole
    visible text would change with every "trending" box."""
    import trafilatura

    text = trafilatura.extract(
        html,
        url=url,
        include_comments=False,
        include_tables=True,
        favor_recall=True,
        deduplicate=False,
    )
    return (text or "").strip()


def unavailable_phrase(site: str | None, text: str) -> str | None:
    """The phrase that says a recognised site's post is gone, if the page shows it."""
    if site is None:
        return None
    lowered = text.lower().replace("\u2019", "'")
    for phrase in UNAVAILABLE_PHRASES.get(site, ()):
        if phrase in lowered:
            return phrase
    return None


@dataclass(frozen=True)
class Comment:
    id: str
    author: str | None
    text: str


def comments(raw: list[dict[str, Any]]) -> list[Comment]:
    """Comments the page showed, each with a stable id (the page's, or a hash of what it
    says, so the same comment keeps its id from one capture to the next)."""
    out: list[Comment] = []
    seen: set[str] = set()
    for item in raw:
        text = str(item.get("text") or "").strip()
        if not text:
            continue
        author = str(item["author"]).strip() if item.get("author") else None
        ident = (
            str(item.get("id") or "")
            or hashlib.sha256(f"{author or ''}\n{text}".encode()).hexdigest()[:16]
        )
        if ident in seen:
            continue
        seen.add(ident)
        out.append(Comment(ident, author, text))
    return out


@dataclass
class AuthorCheck:
    """Who the page says wrote it, and whether that is the registered account."""

    result: str  # match | mismatch | unknown
    found: list[str] = field(default_factory=list)  # names / URLs the page gave
    source: str | None = None  # json-ld | open-graph | rel-author | meta-author

    def as_dict(self) -> dict[str, Any]:
        return {"result": self.result, "found": self.found, "source": self.source}


def _jsonld_authors(blocks: list[str]) -> list[str]:
    found: list[str] = []

    def visit(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                visit(item)
        elif isinstance(node, dict):
            for key in ("author", "creator"):
                value = node.get(key)
                for person in value if isinstance(value, list) else [value]:
                    if isinstance(person, str):
                        found.append(person)
                    elif isinstance(person, dict):
                        for attr in ("url", "name", "alternateName", "identifier"):
                            if isinstance(person.get(attr), str):
                                found.append(person[attr])
            if "@graph" in node:
                visit(node["@graph"])

    for block in blocks:
        try:
            visit(json.loads(block))
        except ValueError:
            continue
    return found


def page_authors(facts: dict[str, Any]) -> tuple[list[str], str | None]:
    """Author names/URLs from the page's metadata, best source first."""
    found = _jsonld_authors(list(facts.get("jsonld") or []))
    if found:
        return found, "json-ld"
    meta = dict(facts.get("meta") or {})
    og = [
        str(meta[key])
        for key in ("article:author", "og:article:author", "profile:username", "author")
        if meta.get(key)
    ]
    if og:
        return og, "open-graph" if not meta.get("author") or len(og) > 1 else "meta-author"
    links = [str(facts["author_link"])] if facts.get("author_link") else []
    links += [str(a.get("href")) for a in facts.get("authors") or [] if a.get("href")]
    links += [str(a.get("text")) for a in facts.get("authors") or [] if a.get("text")]
    if links:
        return links, "rel-author"
    return [], None


def _norm(value: str) -> str:
    value = value.strip().lower()
    if value.startswith(("http://", "https://")):
        parts = urlsplit(value)
        host = parts.netloc.removeprefix("www.").removeprefix("m.")
        return f"{host}{parts.path.rstrip('/')}"
    return re.sub(r"[\s@]+", "", value)


def check_author(facts: dict[str, Any], profile_url: str, handle: str) -> AuthorCheck:
    """Compare the page's stated author with the account: its profile URL, or its handle
    (the last path segment of the profile) as a name."""
    found, source = page_authors(facts)
    if not found:
        return AuthorCheck("unknown")
    wanted = {_norm(profile_url), _norm(handle)}
    last = urlsplit(profile_url).path.rstrip("/").rsplit("/", 1)[-1]
    if last:
        wanted.add(_norm(last))
    for item in found:
        norm = _norm(item)
        if norm in wanted or any(norm.endswith("/" + w) for w in wanted if w):
            return AuthorCheck("match", found, source)
    return AuthorCheck("mismatch", found, source)
