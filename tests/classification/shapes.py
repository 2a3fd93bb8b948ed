"""Platform JSON (as the APIs answer) to `CollectedPost`, the way the collectors normalise it,
so the labelled set exercises the rules on real shapes."""

from __future__ import annotations

import copy
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import feedparser

from app.platforms.collected import Author, CollectedPost, EmbeddedPost, LinkCard, MediaRef, Reply

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "classification"
_URL = re.compile(r"https?://[^\s<>\"]+")


def load_base(name: str) -> Any:
    path = FIXTURES / name
    if path.suffix == ".json":
        data = json.loads(path.read_text(encoding="utf-8"))
        return data.get("body", data)
    return path.read_text(encoding="utf-8")


def pick(data: Any, path: str) -> Any:
    """'thread.post' or 'feed[2]' into parsed JSON."""
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", path):
        data = data[int(part[1:-1])] if part.startswith("[") else data[part]
    return data


def deep_merge(base: Any, patch: Any) -> Any:
    if isinstance(base, dict) and isinstance(patch, dict):
        merged = dict(base)
        for key, value in patch.items():
            merged[key] = deep_merge(base.get(key), value) if key in base else value
        return merged
    return copy.deepcopy(patch)


def _links_in(text: str) -> list[str]:
    return [u.rstrip(".,;:!?)") for u in _URL.findall(text)]


# --- Bluesky --------------------------------------------------------------------------------


def _bsky_url(uri: str, handle: str) -> str:
    return f"https://bsky.app/profile/{handle}/post/{uri.rsplit('/', 1)[-1]}"


def _bsky_author(author: dict[str, Any]) -> Author:
    return Author(
        handle=author["handle"],
        platform_id=author.get("did"),
        display_name=author.get("displayName"),
        profile_url=f"https://bsky.app/profile/{author['handle']}",
    )


def _bsky_embedded(view: dict[str, Any]) -> EmbeddedPost:
    value = view.get("value") or view.get("record") or {}
    return EmbeddedPost(
        url=_bsky_url(view["uri"], view["author"]["handle"]),
        uri=view["uri"],
        author=_bsky_author(view["author"]),
        text=value.get("text", ""),
    )


def _bsky_images(embed: dict[str, Any]) -> list[MediaRef]:
    return [
        MediaRef(url=img["fullsize"], role="image", alt_text=img.get("alt"))
        for img in embed.get("images", [])
    ]


def bluesky(view: dict[str, Any], *, reason: dict[str, Any] | None = None) -> CollectedPost:
    """A postView (thread.post, feed[n].post) with its thread `replies` if any."""
    post = view.get("post", view)
    record = post["record"]
    if reason is not None and reason.get("$type") == "app.bsky.feed.defs#reasonRepost":
        by = reason["by"]
        return CollectedPost(
            platform="bluesky",
            post_id=reason["uri"],
            url=_bsky_url(reason["uri"], by["handle"]),
            author=_bsky_author(by),
            repost_of=_bsky_embedded(post),
        )
    embed = post.get("embed") or {}
    kind = embed.get("$type", "")
    quote = None
    media: list[MediaRef] = []
    card = None
    if kind == "app.bsky.embed.record#view":
        quote = _bsky_embedded(embed["record"])
    elif kind == "app.bsky.embed.recordWithMedia#view":
        quote = _bsky_embedded(embed["record"]["record"])
        media = _bsky_images(embed["media"])
    elif kind == "app.bsky.embed.images#view":
        media = _bsky_images(embed)
    elif kind == "app.bsky.embed.external#view":
        ext = embed["external"]
        card = LinkCard(url=ext["uri"], title=ext.get("title"), description=ext.get("description"))
    links: list[str] = []
    tags: list[str] = []
    for facet in record.get("facets", []):
        for feature in facet.get("features", []):
            if feature.get("$type") == "app.bsky.richtext.facet#link":
                links.append(feature["uri"])
            elif feature.get("$type") == "app.bsky.richtext.facet#tag":
                tags.append(feature["tag"])
    links += [u for u in _links_in(record.get("text", "")) if u not in links]
    replies = [
        Reply(
            id=r["post"]["uri"],
            url=_bsky_url(r["post"]["uri"], r["post"]["author"]["handle"]),
            author=_bsky_author(r["post"]["author"]),
            text=r["post"]["record"].get("text", ""),
        )
        for r in view.get("replies", [])
    ]
    parent = (record.get("reply") or {}).get("parent") or {}
    return CollectedPost(
        platform="bluesky",
        post_id=post["uri"],
        url=_bsky_url(post["uri"], post["author"]["handle"]),
        author=_bsky_author(post["author"]),
        text=record.get("text", ""),
        platform_version_id=post.get("cid"),
        reply_to=parent.get("uri"),
        quote_of=quote,
        media=media,
        link_card=card,
        links=links,
        hashtags=tags,
        replies=replies,
    )


# --- Mastodon -------------------------------------------------------------------------------


class _Html(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.links: list[str] = []
        self._skip_link = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = dict(attrs)
        if tag in ("p", "br") and self.text:
            self.text.append("\n")
        if tag == "a" and attr.get("href"):
            classes = (attr.get("class") or "").split()
            if not {"mention", "hashtag"} & set(classes):
                self.links.append(str(attr["href"]))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _html(html: str) -> tuple[str, list[str]]:
    parser = _Html()
    parser.feed(html)
    return "".join(parser.text).strip(), parser.links


def _masto_author(account: dict[str, Any]) -> Author:
    acct = account["acct"]
    if "@" not in acct:
        acct = f"{acct}@{urlsplit(account['url']).hostname}"
    return Author(
        handle=acct,
        display_name=account.get("display_name"),
        platform_id=account.get("id"),
        profile_url=account.get("url"),
    )


def _masto_embedded(status: dict[str, Any]) -> EmbeddedPost:
    text, _ = _html(status.get("content", ""))
    return EmbeddedPost(
        url=status["url"],
        uri=status.get("uri"),
        author=_masto_author(status["account"]),
        text=text,
    )


def mastodon(
    status: dict[str, Any], *, replies: list[dict[str, Any]] | None = None
) -> CollectedPost:
    """A Mastodon status; `replies` are the descendants from /context."""
    host = urlsplit(status["url"]).hostname
    text, links = _html(status.get("content", ""))
    reblog = status.get("reblog")
    quote = status.get("quote") or {}
    quoted = quote.get("quoted_status") if quote.get("state") == "accepted" else None
    card = status.get("card")
    return CollectedPost(
        platform="mastodon",
        post_id=f"{host}/{status['id']}",
        url=status["url"],
        author=_masto_author(status["account"]),
        text="" if reblog else text,
        visibility=status.get("visibility"),
        repost_of=_masto_embedded(reblog) if reblog else None,
        quote_of=_masto_embedded(quoted) if quoted else None,
        reply_to=f"{host}/{status['in_reply_to_id']}" if status.get("in_reply_to_id") else None,
        link_card=LinkCard(url=card["url"], title=card.get("title")) if card else None,
        links=[] if reblog else links,
        hashtags=[t["name"] for t in status.get("tags", [])],
        media=[
            MediaRef(url=m["url"], role=m.get("type", "image"), alt_text=m.get("description"))
            for m in status.get("media_attachments", [])
        ],
        replies=[
            Reply(
                id=r["id"],
                url=r.get("url"),
                author=_masto_author(r["account"]),
                text=_html(r.get("content", ""))[0],
                in_reply_to_id=r.get("in_reply_to_id"),
            )
            for r in replies or []
        ],
    )


# --- feeds and YouTube ----------------------------------------------------------------------


def feed_entry(xml: str, feed_url: str) -> CollectedPost:
    parsed = feedparser.parse(xml)
    entry = parsed.entries[0]
    html = entry.content[0].value if entry.get("content") else entry.get("summary", "")
    text, links = _html(html)
    links += [u for u in _links_in(text) if u not in links]
    return CollectedPost(
        platform="feed",
        post_id=entry.id,
        url=entry.link,
        author=Author(handle=feed_url, display_name=entry.get("author"), profile_url=feed_url),
        title=entry.get("title"),
        text=text,
        links=links,
        media=[
            MediaRef(url=link.href, role="image", mime_type=link.get("type"))
            for link in entry.get("links", [])
            if link.get("rel") == "enclosure"
        ],
    )


def youtube(
    video: dict[str, Any], *, comments: list[dict[str, Any]] | None = None
) -> CollectedPost:
    """A Video resource (part=snippet) and top-level comments as {author, text}."""
    snippet = video["snippet"]
    url = f"https://www.youtube.com/watch?v={video['id']}"
    description = snippet.get("description", "")
    return CollectedPost(
        platform="youtube",
        post_id=video["id"],
        url=url,
        author=Author(
            handle=snippet.get("channelTitle", ""),
            platform_id=snippet["channelId"],
            profile_url=f"https://www.youtube.com/channel/{snippet['channelId']}",
        ),
        title=snippet.get("title"),
        text=description,
        links=_links_in(description),
        hashtags=list(snippet.get("tags", [])),
        media=[MediaRef(url=url, role="video")],
        replies=[
            Reply(id=f"c{n}", author=Author(handle=c["author"]), text=c["text"])
            for n, c in enumerate(comments or [])
        ],
    )


def build(case: dict[str, Any]) -> CollectedPost:
    """A labelled case's post: `base` (a fixture file, `pick`ed into and `patch`ed) or an
    inline platform object in `raw`, turned into a CollectedPost by its platform's shape."""
    platform = case["platform"]
    raw: Any = load_base(case["base"]) if "base" in case else case.get("raw")
    if "pick" in case:
        raw = pick(raw, case["pick"])
    if "patch" in case:
        raw = deep_merge(raw, case["patch"])
    if platform == "bluesky":
        return bluesky(raw, reason=raw.get("reason") if isinstance(raw, dict) else None)
    if platform == "mastodon":
        return mastodon(raw, replies=case.get("replies"))
    if platform == "feed":
        xml = raw if isinstance(raw, str) else _atom(raw)
        return feed_entry(xml, case.get("feed_url", "https://blog.example/feed.xml"))
    if platform == "youtube":
        return youtube(raw, comments=case.get("comments"))
    raise ValueError(f"unknown platform {platform}")


def _atom(entry: dict[str, Any]) -> str:
    """An Atom document of one entry given as {id, title, link, author, content}."""
    from xml.sax.saxutils import escape

    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<feed xmlns="http://www.w3.org/2005/Atom"><title>Blog</title>'
        "<id>urn:blog</id><updated>2026-01-16T09:00:00Z</updated>"
        f"<entry><title>{escape(entry['title'])}</title><id>{escape(entry['id'])}</id>"
        f'<link rel="alternate" href="{escape(entry["link"])}"/>'
        "<published>2026-01-15T17:00:00Z</published><updated>2026-01-16T09:00:00Z</updated>"
        f"<author><name>{escape(entry.get('author', 'Staff'))}</name></author>"
        f'<content type="html">{escape(entry["content"])}</content></entry></feed>'
    )
