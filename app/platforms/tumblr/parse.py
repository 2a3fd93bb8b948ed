"""Tumblr API v2 answers (and, without a key, the blog's RSS item or the post page) into
CollectedPost: pure functions, no I/O.

An API answer is `{"meta": {"status", "msg"}, "response": {...}, "errors": [...]}`; a post
answer's `response` holds `blog` and `posts`. A reblog's `trail` lists the posts it shares
(oldest first; in legacy answers the reblog's own item is in it too, marked
`is_current_item`): the last of them is what was reblogged, `repost_of` when the reblog adds
nothing, `quote_of` when it adds content.

Volatile, kept in `source` only (not content, so not a new version): `note_count`, the
blog's post counts and `updated`, `can_like`/`can_reblog`/`interactability_*`, `is_blazed`,
the theme.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

from app.platforms.collected import Author, CollectedPost, EmbeddedPost, MediaRef, Reply
from app.platforms.htmltext import summarise_html
from app.platforms.tumblr import npf
from app.platforms.tumblr.urls import PLATFORM_ID, blog_url, post_url

_dict, _list, _str, _int = npf._dict, npf._list, npf._str, npf._int
_POST_IN_URL = re.compile(r"/post/([0-9]{1,20})(?:[/?#]|$)")


class MalformedAnswer(ValueError):
    """The answer is JSON but not shaped like a Tumblr API answer."""


@dataclass
class Answer:
    status: int
    message: str
    response: Any
    errors: list[dict[str, Any]]


def read_answer(body: Any) -> Answer:
    if not isinstance(body, dict) or not isinstance(body.get("meta"), dict):
        raise MalformedAnswer("the answer has no `meta` object")
    meta = body["meta"]
    status = meta.get("status")
    if not isinstance(status, int):
        raise MalformedAnswer("the answer's `meta.status` is not a number")
    return Answer(
        status=status,
        message=str(meta.get("msg") or ""),
        response=body.get("response"),
        errors=[e for e in _list(body.get("errors")) if isinstance(e, dict)],
    )


def describe(answer: Answer) -> str:
    parts = [answer.message] if answer.message else []
    for error in answer.errors:
        text = _str(error.get("detail")) or _str(error.get("title"))
        if text and text not in parts:
            parts.append(text)
    return ": ".join(parts) or f"status {answer.status}"


def find_post(answer: Answer, post_id: str) -> dict[str, Any] | None:
    """The post with `post_id` in a posts answer; MalformedAnswer when `posts` is missing."""
    response = _dict(answer.response)
    posts = response.get("posts")
    if not isinstance(posts, list):
        raise MalformedAnswer("the answer's `response` has no `posts` list")
    for post in posts:
        if isinstance(post, dict) and str(post.get("id_string") or post.get("id")) == post_id:
            return post
    return None


def time_of(value: Any) -> dt.datetime | None:
    seconds = _int(value)
    return dt.datetime.fromtimestamp(seconds, dt.UTC) if seconds is not None else None


def _avatar(blog: dict[str, Any]) -> str | None:
    sizes = [a for a in _list(blog.get("avatar")) if isinstance(a, dict) and _str(a.get("url"))]
    if not sizes:
        return None
    near = min(sizes, key=lambda a: abs((_int(a.get("width")) or 0) - 128))
    return str(near["url"])


def author_of(name: str | None, blog: dict[str, Any], *, avatar: str | None = None) -> Author:
    blog_name = _str(blog.get("name")) or name or "unknown"
    return Author(
        handle=blog_name.lower(),
        display_name=_str(blog.get("title")),
        platform_id=_str(blog.get("uuid")),
        profile_url=blog_url(blog_name.lower()),
        avatar_url=avatar,
    )


def _content_of(item: dict[str, Any]) -> npf.Content:
    """NPF `content` when the item has it (a list, even empty), else its legacy HTML."""
    if isinstance(item.get("content"), list):
        return npf.from_blocks(item["content"], _list(item.get("layout")))
    if isinstance(item.get("content"), str):  # a legacy trail item
        return npf.from_html(item["content"])
    return npf.from_legacy(item)


def _shared(trail: list[dict[str, Any]], post: dict[str, Any]) -> EmbeddedPost | None:
    """What a reblog shares: the trail's last post, with the text of the whole trail."""
    if not trail:
        name = _str(post.get("reblogged_from_name"))
        pid = _str(str(post.get("reblogged_from_id") or ""))
        if not name or not pid:
            return None
        return EmbeddedPost(
            url=post_url(name.lower(), pid),
            uri=pid,
            author=author_of(name, {"uuid": post.get("reblogged_from_uuid")}),
        )
    last = trail[-1]
    blog = _dict(last.get("blog"))
    name = _str(blog.get("name")) or _str(last.get("broken_blog_name")) or "unknown"
    pid = str(_dict(last.get("post")).get("id") or "")
    texts, media = [], []
    for item in trail:
        content = _content_of(item)
        if content.text:
            texts.append(content.text)
        media.extend(content.media)
    return EmbeddedPost(
        url=post_url(name.lower(), pid) if pid else blog_url(name.lower()),
        uri=pid or None,
        author=author_of(name, blog),
        text="\n\n".join(texts),
        media=media,
    )


def build_post(post: dict[str, Any], blog_info: dict[str, Any] | None = None) -> CollectedPost:
    """One post of a posts answer (NPF or legacy) as a CollectedPost."""
    post_id = str(post.get("id_string") or post.get("id") or "")
    if not post_id.isdigit():
        raise MalformedAnswer("a post in the answer has no id")
    blog = {**_dict(blog_info), **_dict(post.get("blog"))}
    name = (_str(post.get("blog_name")) or _str(blog.get("name")) or "unknown").lower()
    author = author_of(name, blog, avatar=_avatar(_dict(blog_info)))
    trail = [
        t for t in _list(post.get("trail")) if isinstance(t, dict) and not t.get("is_current_item")
    ]
    if isinstance(post.get("content"), list):
        own = npf.from_blocks(post["content"], _list(post.get("layout")))
    elif trail and isinstance(_dict(post.get("reblog")).get("comment"), str):
        own = npf.from_html(post["reblog"]["comment"])  # legacy: the reblogger's own comment
    else:
        own = npf.from_legacy(post)
    is_reblog = bool(trail) or bool(post.get("reblogged_from_id") or post.get("parent_post_url"))
    shared = _shared(trail, post) if is_reblog else None
    extra: dict[str, Any] = {}
    for key in ("slug", "short_url", "state", "type", "original_type", "post_author", "format"):
        if _str(post.get(key)):
            extra[key] = post[key]
    if _str(post.get("post_url")):
        extra["post_url"] = post["post_url"]
    if own.notes:
        extra["media_notes"] = own.notes
    if own.ask:
        extra["ask"] = own.ask
    if shared is not None:
        extra["reblog_of"] = shared.url
        if _str(post.get("reblogged_root_url")):
            extra["reblogged_root_url"] = post["reblogged_root_url"]
    adds = bool(own.text.strip()) or bool(own.media)
    tags = [str(t) for t in _list(post.get("tags")) if isinstance(t, str) and t]
    return CollectedPost(
        platform=PLATFORM_ID,
        post_id=post_id,
        url=post_url(name, post_id),
        author=author,
        text=own.text,
        html=own.html or None,
        title=_str(post.get("title")),
        created_at=time_of(post.get("timestamp")),
        visibility="public" if post.get("state") in (None, "published") else str(post["state"]),
        media=own.media,
        link_card=own.link_card,
        repost_of=shared if shared is not None and not adds else None,
        quote_of=shared if shared is not None and adds else None,
        links=own.links,
        hashtags=list(dict.fromkeys(tags)),
        extra=extra,
        platform_version_id=content_digest(own, tags, shared),
    )


def content_digest(own: npf.Content, tags: list[str], shared: EmbeddedPost | None) -> str:
    """Tumblr serves no version id for a post: a digest of what it says stands for one (an
    edit changes it; the note count and the like do not)."""
    facts = {
        "text": own.text,
        "html": own.html,
        "media": [m.url for m in own.media],
        "tags": tags,
        "shared": [shared.url, shared.text] if shared else None,
    }
    encoded = json.dumps(facts, sort_keys=True, ensure_ascii=False).encode()
    return hashlib.sha256(encoded).hexdigest()[:16]


def _plain(value: Any) -> Any:
    """A feedparser value as plain JSON (its dicts are subclasses, its times structs)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


# --- notes: replies and reblogs with comments ---------------------------------------------------


def replies_of(notes: list[Any]) -> list[Reply]:
    """Replies (`type: reply`) and reblogs that add a comment, oldest first."""
    replies: list[Reply] = []
    for note in notes:
        if not isinstance(note, dict):
            continue
        kind = note.get("type")
        name = (_str(note.get("blog_name")) or "unknown").lower()
        who = Author(
            handle=name,
            platform_id=_str(note.get("blog_uuid")),
            profile_url=blog_url(name),
            avatar_url=_str(note.get("avatar_url"))
            if isinstance(note.get("avatar_url"), str)
            else None,
        )
        when = time_of(note.get("timestamp"))
        if kind == "reply" and isinstance(note.get("reply_text"), str):
            stamp = _int(note.get("timestamp")) or 0
            replies.append(
                Reply(
                    id=f"reply:{note.get('blog_uuid') or name}:{stamp}",
                    url=None,
                    author=who,
                    text=note["reply_text"],
                    created_at=when,
                )
            )
        elif kind == "reblog" and (_str(note.get("added_text")) or _str(note.get("reblog_text"))):
            pid = str(note.get("post_id") or "")
            replies.append(
                Reply(
                    id=f"reblog:{pid or name}",
                    url=post_url(name, pid) if pid else None,
                    author=who,
                    text=str(note.get("added_text") or note.get("reblog_text")),
                    created_at=when,
                )
            )
    replies.sort(key=lambda r: (r.created_at or dt.datetime.min.replace(tzinfo=dt.UTC), r.id))
    return replies


def notes_page(answer: Answer) -> tuple[list[Any], dict[str, str] | None]:
    """A notes answer's notes and the query of its next page (None on the last)."""
    response = answer.response
    if not isinstance(response, dict) or not isinstance(response.get("notes"), list):
        raise MalformedAnswer("the notes answer has no `response.notes` list")
    nxt = _dict(_dict(_dict(response.get("_links")).get("next")).get("query_params"))
    query = {str(k): str(v) for k, v in nxt.items() if k not in ("api_key",)}
    return response["notes"], query or None


# --- without a key: the RSS item and the post page --------------------------------------------------


def post_id_in(url: str) -> str | None:
    match = _POST_IN_URL.search(url)
    return match.group(1) if match else None


def from_feed_entry(entry: Any, blog: str, post_id: str, feed_title: str | None) -> CollectedPost:
    """An item of `<blog>.tumblr.com/rss` (as feedparser reads it)."""
    markup = str(entry.get("summary") or entry.get("description") or "")
    content = npf.from_html(markup)
    published = entry.get("published_parsed")
    created = None
    if published:  # feedparser's struct_time is UTC
        year, month, day, hour, minute, second = (int(x) for x in published[:6])
        created = dt.datetime(year, month, day, hour, minute, second, tzinfo=dt.UTC)
    tags = [str(t.get("term")) for t in entry.get("tags") or [] if t.get("term")]
    title = _str(entry.get("title"))
    return CollectedPost(
        platform=PLATFORM_ID,
        post_id=post_id,
        url=post_url(blog, post_id),
        author=Author(handle=blog, display_name=feed_title, profile_url=blog_url(blog)),
        text=content.text,
        html=markup or None,
        # Tumblr's RSS titles an untitled post with the start of its text: not a title.
        title=title if title and not content.text.startswith(title.rstrip(".…")) else None,
        created_at=created,
        visibility="public",
        media=content.media,
        links=content.links,
        hashtags=list(dict.fromkeys(tags)),
        extra={"captured_from": "RSS feed", "post_url": str(entry.get("link") or "")},
        platform_version_id=content_digest(content, tags, None),
    )


class _Meta(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.meta: dict[str, list[str]] = {}
        self.title = ""
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "meta":
            key = values.get("property") or values.get("name")
            if key and values.get("content"):
                self.meta.setdefault(key.lower(), []).append(values["content"])
        elif tag == "title":
            self._in_title = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data


def page_meta(markup: str) -> dict[str, list[str]]:
    parser = _Meta()
    parser.feed(markup)
    parser.close()
    return parser.meta


def from_page(markup: str, blog: str, post_id: str) -> CollectedPost:
    """The post page's Open Graph description and images: what a post no longer in the
    blog's feed shows without a key."""
    meta = page_meta(markup)
    description = (meta.get("og:description") or meta.get("description") or [""])[0]
    text = summarise_html(description).text
    images = [MediaRef(url=u, role="image") for u in dict.fromkeys(meta.get("og:image", []))]
    tags = [t for t in meta.get("article:tag", []) if t]
    published = meta.get("article:published_time")
    created = None
    if published:
        try:
            created = dt.datetime.fromisoformat(published[0].replace("Z", "+00:00"))
        except ValueError:
            created = None
    return CollectedPost(
        platform=PLATFORM_ID,
        post_id=post_id,
        url=post_url(blog, post_id),
        author=Author(handle=blog, profile_url=blog_url(blog)),
        text=text,
        created_at=created,
        visibility="public",
        media=images,
        hashtags=list(dict.fromkeys(tags)),
        extra={
            "captured_from": "post page (Open Graph description: may be shortened)",
            "post_url": post_url(blog, post_id),
        },
        platform_version_id=f"page:{hashlib.sha256(description.encode()).hexdigest()[:16]}",
    )
