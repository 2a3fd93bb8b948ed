"""A loopback Tumblr (API v2 and the blogs' own sites) built from tests/fixtures/tumblr/.

It serves what the Tumblr collector asks for:
- GET /v2/blog/<blog>.tumblr.com/posts?id=<id>&npf=true&api_key=…: the recorded posts. The
  recordings are legacy-shape answers (HTML `body`, photos, `data-npf` video figures); with
  `npf=true` the server answers in NPF, the content blocks derived from the recorded HTML
  (every `<p>` a text block, every `<img>` an image block with its srcset sizes, every
  `data-npf` figure the block it carries), the rest of the post as recorded. Without
  `npf=true` it answers the recording itself;
- GET /v2/blog/<blog>.tumblr.com/notes?id=&mode=conversation (`before_timestamp` pages of
  `notes_page_size`), GET /v2/blog/<blog>.tumblr.com/info;
- a deleted post: 404 `{"meta": {"status": 404, "msg": "Not Found"}, "response": [],
  "errors": [...]}` (Tumblr's error envelope); a deleted blog: the same for its info;
  a wrong key: 401; the `X-Ratelimit-Perhour-*` / `-Perday-*` headers (reset in seconds)
  on every API answer and a 429 "Limit Exceeded" once the hour's requests are used up;
- /blogs/<blog>/rss (RSS 2.0, the newest 20 posts, as Tumblr's feeds) and
  /blogs/<blog>/post/<id>[/slug] (a page with Open Graph tags; 404 once deleted);
- `script[route]`: answers served first, in order (429s, 5xx, truncated bodies);
- media hosts (64.media.tumblr.com, va.media.tumblr.com, static.tumblr.com) rewritten to
  /<host>/... on this server, answering small JPEG / MP4 bodies.
Notes answers, errors, feeds and pages were not recorded: they are built in Tumblr's
documented shapes.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import html
import io
import json
import re
import threading
from collections.abc import Callable
from email.utils import format_datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.collectors.servers import Answer, LoopbackServer, Request
from tests.platforms.x.server import tiny_mp4

__all__ = ["TumblrApi", "load", "tiny_jpeg", "tiny_mp4", "to_npf"]

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "tumblr"
KEY = "test-consumer-key"
MEDIA_HOSTS = ("64.media.tumblr.com", "va.media.tumblr.com", "static.tumblr.com")
_API = re.compile(r"^/v2/blog/([a-z0-9-]+)\.tumblr\.com/(posts|notes|info)$")
_SITE = re.compile(r"^/blogs/([a-z0-9-]+)/(rss|post/([0-9]+)(?:/[^/]*)?)$")
VIDEO_ID, PHOTO_ID = "659136253352083456", "177199286249"
PAGE_IDS = ("788338580402716673", "786711218467536896")
BLOG = "mooserific"


def tiny_jpeg(route: str) -> bytes:
    """A 4×4 JPEG whose colour comes from its path: every file of a post is distinct."""
    from PIL import Image

    digest = hashlib.sha256(route.encode()).digest()
    out = io.BytesIO()
    Image.new("RGB", (4, 4), (digest[0], digest[1], digest[2])).save(out, format="JPEG")
    return out.getvalue()


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    return data


class _Blocks(HTMLParser):
    """Legacy post HTML → NPF content blocks (what Tumblr's NPF answer holds for it)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[dict[str, Any]] = []
        self._text: list[str] | None = None
        self._npf_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if self._npf_depth:
            self._npf_depth += tag == "figure"
            return
        if tag == "figure" and values.get("data-npf"):
            self.blocks.append(json.loads(values["data-npf"]))
            self._npf_depth = 1
        elif tag == "p":
            self._text = []
        elif tag == "img" and values.get("src"):
            orig_w = int(values.get("data-orig-width") or 0) or 1
            orig_h = int(values.get("data-orig-height") or 0) or 1
            media: list[dict[str, Any]] = []
            for candidate in values.get("srcset", "").split(","):
                bits = candidate.strip().split()
                if len(bits) == 2 and bits[1][:-1].isdigit():
                    width = int(bits[1][:-1])
                    media.append(
                        {
                            "url": bits[0],
                            "type": "image/jpeg",
                            "width": width,
                            "height": round(width * orig_h / orig_w),
                        }
                    )
            media = media or [{"url": values["src"], "type": "image/jpeg"}]
            media.sort(key=lambda m: -int(str(m.get("width") or 0)))
            self.blocks.append({"type": "image", "media": media})

    def handle_endtag(self, tag: str) -> None:
        if self._npf_depth:
            self._npf_depth -= tag == "figure"
            return
        if tag == "p" and self._text is not None:
            text = "".join(self._text).strip()
            if text:
                self.blocks.append({"type": "text", "text": text})
            self._text = None

    def handle_data(self, data: str) -> None:
        if self._text is not None and not self._npf_depth:
            self._text.append(data)


def to_npf(post: dict[str, Any]) -> dict[str, Any]:
    """A recorded legacy post as Tumblr's `npf=true` answer has it."""
    npf = {
        k: copy.deepcopy(v)
        for k, v in post.items()
        if k not in ("body", "caption", "photos", "photoset_layout", "reblog", "trail", "title")
    }
    parser = _Blocks()
    blocks: list[dict[str, Any]] = []
    for photo in post.get("photos") or []:
        sizes = [photo["original_size"], *photo.get("alt_sizes", [])[1:]]
        blocks.append({"type": "image", "media": [dict(s, type="image/jpeg") for s in sizes]})
    parser.feed(post.get("body") or post.get("caption") or "")
    parser.close()
    npf["content"] = blocks + parser.blocks
    npf["layout"] = []
    npf["trail"] = []
    npf["type"] = "blocks"
    npf["original_type"] = post.get("type")
    return npf


class TumblrApi:
    """The loopback Tumblr; `with TumblrApi() as api:` serves it on 127.0.0.1:<free port>."""

    def __init__(
        self,
        *,
        now: dt.datetime = dt.datetime(2025, 7, 7, 12, tzinfo=dt.UTC),
        per_hour: int = 1000,
        per_day: int = 5000,
    ) -> None:
        self.now = now
        self.clock: Callable[[], dt.datetime] = lambda: self.now
        self.key: str | None = KEY
        self.posts: dict[str, dict[str, Any]] = {}  # id → the post, NPF
        self.legacy: dict[str, dict[str, Any]] = {}  # id → the recorded post
        self.blogs: dict[str, dict[str, Any]] = {}
        self.notes: dict[str, list[dict[str, Any]]] = {}
        self.likes: dict[str, int] = {}
        self.deleted: set[str] = set()
        self.deleted_blogs: set[str] = set()
        self.script: dict[str, list[Answer]] = {}
        self.notes_page_size = 20
        self.limits = {"hour": per_hour, "day": per_day}
        self._used = {"hour": 0, "day": 0}
        self._reset: dict[str, dt.datetime] = {}
        self.api_requests = 0
        self.media_requests = 0
        self._lock = threading.Lock()
        self._next_id = 790000000000000000
        self.server = LoopbackServer(self._app)

    # --- setup ------------------------------------------------------------------------------

    def load_recording(self, name: str) -> list[str]:
        """Add the blog and every post of a recorded answer; their ids."""
        body = load(name)["body"]["response"]
        blog = copy.deepcopy(body.get("blog") or {})
        ids = []
        for post in body["posts"]:
            name_ = post["blog_name"]
            self.blogs.setdefault(name_, blog or copy.deepcopy(post["blog"]))
            self.legacy[post["id_string"]] = copy.deepcopy(post)
            self.posts[post["id_string"]] = to_npf(post)
            ids.append(post["id_string"])
        return ids

    def load_all(self) -> None:
        for name in (
            "mooserific_posts_page_npf",
            "mooserific_post_npf_video",
            "mooserific_post_legacy_photo",
        ):
            self.load_recording(name)

    def new_id(self) -> str:
        with self._lock:
            self._next_id += 1
            return str(self._next_id)

    def add_blog(self, name: str, title: str | None = None) -> None:
        self.blogs[name] = {
            "name": name,
            "title": title or name,
            "uuid": f"t:{name}-uuid",
            "url": f"https://{name}.tumblr.com/",
            "updated": int(self.now.timestamp()),
            "posts": 0,
            "avatar": [
                {
                    "width": 128,
                    "height": 128,
                    "url": f"https://64.media.tumblr.com/avatar_{name}_128.png",
                }
            ],
        }

    def add_post(
        self,
        blog: str,
        text: str,
        *,
        images: int = 0,
        tags: list[str] | None = None,
        post_id: str | None = None,
    ) -> str:
        post_id = post_id or self.new_id()
        content: list[dict[str, Any]] = [{"type": "text", "text": text}]
        for n in range(images):
            content.append(
                {
                    "type": "image",
                    "alt_text": "the agenda",
                    "media": [
                        {
                            "url": f"https://64.media.tumblr.com/{post_id}/{n}/s1280x1920/a.jpg",
                            "type": "image/jpeg",
                            "width": 1280,
                            "height": 960,
                        },
                        {
                            "url": f"https://64.media.tumblr.com/{post_id}/{n}/s640x960/a.jpg",
                            "type": "image/jpeg",
                            "width": 640,
                            "height": 480,
                        },
                    ],
                }
            )
        info = self.blogs[blog]
        self.posts[post_id] = {
            "object_type": "post",
            "type": "blocks",
            "original_type": "regular",
            "id": int(post_id),
            "id_string": post_id,
            "blog_name": blog,
            "blog": {k: info[k] for k in ("name", "title", "uuid", "url", "updated")},
            "post_url": f"https://{blog}.tumblr.com/post/{post_id}/post",
            "slug": "post",
            "timestamp": int(self.now.timestamp()),
            "date": self.now.strftime("%Y-%m-%d %H:%M:%S GMT"),
            "state": "published",
            "tags": tags or [],
            "short_url": f"https://tmblr.co/{post_id}",
            "summary": text[:50],
            "note_count": 0,
            "content": content,
            "layout": [],
            "trail": [],
        }
        return post_id

    def add_reblog(self, blog: str, of: str, *, comment: str | None = None) -> str:
        """`blog` reblogs post `of` (with a comment of its own, or nothing added)."""
        original = self.posts[of]
        post_id = self.add_post(blog, comment or "")
        post = self.posts[post_id]
        if not comment:
            post["content"] = []
        source_blog = self.blogs[original["blog_name"]]
        post["trail"] = [
            *copy.deepcopy(original.get("trail") or []),
            {
                "post": {"id": original["id_string"]},
                "blog": {k: source_blog[k] for k in ("name", "uuid", "url")},
                "content": copy.deepcopy(original["content"]),
                "layout": copy.deepcopy(original.get("layout") or []),
            },
        ]
        post["reblogged_from_id"] = original["id_string"]
        post["reblogged_from_name"] = original["blog_name"]
        post["parent_post_url"] = original["post_url"]
        return post_id

    def reply(self, post_id: str, blog: str, text: str) -> None:
        """A reply note, in the shape of the notes endpoint's `type: reply`."""
        self.now += dt.timedelta(seconds=1)
        self.notes.setdefault(post_id, []).append(
            {
                "type": "reply",
                "timestamp": int(self.now.timestamp()),
                "blog_name": blog,
                "blog_uuid": f"t:{blog}-uuid",
                "blog_url": f"https://{blog}.tumblr.com/",
                "followed": False,
                "avatar_shape": "square",
                "reply_text": text,
                "formatting": [],
                "can_block": False,
            }
        )

    def reblog_note(self, post_id: str, blog: str, added_text: str, reblog_id: str) -> None:
        self.now += dt.timedelta(seconds=1)
        self.notes.setdefault(post_id, []).append(
            {
                "type": "reblog",
                "timestamp": int(self.now.timestamp()),
                "blog_name": blog,
                "blog_uuid": f"t:{blog}-uuid",
                "blog_url": f"https://{blog}.tumblr.com/",
                "followed": False,
                "post_id": reblog_id,
                "reblog_parent_blog_name": self.posts[post_id]["blog_name"],
                "added_text": added_text,
            }
        )

    def like(self, post_id: str, count: int = 1) -> None:
        self.likes[post_id] = self.likes.get(post_id, 0) + count

    def edit(self, post_id: str, text: str) -> None:
        """Change the post's first text block (Tumblr keeps the id and serves no history)."""
        for block in self.posts[post_id]["content"]:
            if block.get("type") == "text":
                block["text"] = text
                return
        self.posts[post_id]["content"].insert(0, {"type": "text", "text": text})

    def delete(self, post_id: str) -> None:
        self.deleted.add(post_id)

    # --- serving ----------------------------------------------------------------------------

    def _rewrite(self, text: str) -> bytes:
        for host in MEDIA_HOSTS:
            text = text.replace(f"https://{host}/", f"{self.server.base_url}/{host}/")
        return text.encode()

    def _limit(self) -> tuple[bool, list[tuple[str, str]]]:
        now = self.clock()
        headers: list[tuple[str, str]] = []
        allowed = True
        with self._lock:
            for window, length in (("hour", 3600), ("day", 86400)):
                reset = self._reset.get(window)
                if reset is None or now >= reset:
                    reset = now + dt.timedelta(seconds=length)
                    self._reset[window] = reset
                    self._used[window] = 0
                self._used[window] += 1
                limit = self.limits[window]
                allowed = allowed and self._used[window] <= limit
                headers += [
                    (f"X-Ratelimit-Per{window}-Limit", str(limit)),
                    (f"X-Ratelimit-Per{window}-Remaining", str(max(0, limit - self._used[window]))),
                    (f"X-Ratelimit-Per{window}-Reset", str(int((reset - now).total_seconds()))),
                ]
        return allowed, headers

    def exhaust(self, window: str = "hour") -> None:
        """Use up a window (the next API request is a 429)."""
        self._limit()
        with self._lock:
            self._used[window] = self.limits[window]

    def reset_at(self, window: str = "hour") -> dt.datetime:
        return self._reset[window]

    def _json(
        self, status: int, response: Any, headers: list[tuple[str, str]], **more: Any
    ) -> Answer:
        msg = {200: "OK", 401: "Unauthorized", 404: "Not Found", 429: "Limit Exceeded"}[status]
        body: dict[str, Any] = {"meta": {"status": status, "msg": msg}, "response": response}
        body.update(more)
        return Answer(
            status,
            [("Content-Type", "application/json; charset=utf-8"), *headers],
            self._rewrite(json.dumps(body)),
        )

    def _not_found(self, headers: list[tuple[str, str]]) -> Answer:
        return self._json(
            404, [], headers, errors=[{"title": "Not Found", "code": 0, "detail": "Not Found"}]
        )

    def _served_post(self, post_id: str, npf: bool) -> dict[str, Any]:
        post = copy.deepcopy(
            self.posts[post_id] if npf or post_id not in self.legacy else self.legacy[post_id]
        )
        post["note_count"] = len(self.notes.get(post_id, [])) + self.likes.get(post_id, 0)
        return post

    def _api(self, request: Request, blog: str, endpoint: str) -> Answer:
        self.api_requests += 1
        allowed, headers = self._limit()
        if not allowed:
            return self._json(
                429,
                [],
                headers,
                errors=[{"title": "Limit Exceeded", "code": 0, "detail": "Limit Exceeded"}],
            )
        query = {k: v[0] for k, v in parse_qs(urlsplit(request.path).query).items()}
        if self.key is not None and query.get("api_key") != self.key:
            return self._json(
                401,
                [],
                headers,
                errors=[{"title": "Unauthorized", "code": 1016, "detail": "Unauthorized"}],
            )
        if blog in self.deleted_blogs or blog not in self.blogs:
            return self._not_found(headers)
        if endpoint == "info":
            return self._json(200, {"blog": self.blogs[blog]}, headers)
        post_id = query.get("id", "")
        if (
            post_id not in self.posts
            or post_id in self.deleted
            or self.posts[post_id]["blog_name"] != blog
        ):
            return self._not_found(headers)
        if endpoint == "posts":
            post = self._served_post(post_id, query.get("npf") == "true")
            return self._json(
                200, {"blog": self.blogs[blog], "posts": [post], "total_posts": 1}, headers
            )
        notes = sorted(self.notes.get(post_id, []), key=lambda n: -n["timestamp"])
        before = int(query.get("before_timestamp") or 0)
        if before:
            notes = [n for n in notes if n["timestamp"] < before]
        page = notes[: self.notes_page_size]
        response: dict[str, Any] = {
            "notes": page,
            "rollup_notes": [],
            "total_notes": len(self.notes.get(post_id, [])) + self.likes.get(post_id, 0),
            "total_likes": self.likes.get(post_id, 0),
            "total_reblogs": sum(1 for n in self.notes.get(post_id, []) if n["type"] == "reblog"),
        }
        if len(notes) > len(page):
            last = page[-1]["timestamp"]
            response["_links"] = {
                "next": {
                    "href": f"/v2/blog/{blog}.tumblr.com/notes?id={post_id}&mode=conversation&before_timestamp={last}",
                    "method": "GET",
                    "query_params": {
                        "id": post_id,
                        "mode": "conversation",
                        "before_timestamp": str(last),
                    },
                }
            }
        return self._json(200, response, headers)

    def _text_of(self, post: dict[str, Any]) -> str:
        parts = []
        for block in post.get("content") or []:
            if block.get("type") == "text":
                parts.append(f"<p>{html.escape(block['text'])}</p>")
            elif block.get("type") == "image":
                parts.append(f'<img src="{block["media"][0]["url"]}"/>')
            elif block.get("type") == "video":
                parts.append(
                    f'<video><source src="{block["media"]["url"]}" type="video/mp4"></video>'
                )
        return "".join(parts)

    def _rss(self, blog: str) -> Answer:
        if blog in self.deleted_blogs or blog not in self.blogs:
            return Answer(404, [("Content-Type", "text/html")], b"<h1>Not found</h1>")
        mine = sorted(
            (p for i, p in self.posts.items() if p["blog_name"] == blog and i not in self.deleted),
            key=lambda p: -p["timestamp"],
        )[:20]
        items = []
        for post in mine:
            when = dt.datetime.fromtimestamp(post["timestamp"], dt.UTC)
            link = f"https://{blog}.tumblr.com/post/{post['id_string']}/{post.get('slug') or ''}"
            tags = "".join(f"<category>{html.escape(t)}</category>" for t in post.get("tags") or [])
            items.append(
                f"<item><title>{html.escape(post.get('summary') or '')}</title>"
                f"<description>{html.escape(self._text_of(post))}</description>"
                f"<link>{link}</link><guid>{link}</guid>"
                f"<pubDate>{format_datetime(when)}</pubDate>{tags}</item>"
            )
        title = html.escape(self.blogs[blog].get("title") or blog)
        xml = (
            '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
            f"<title>{title}</title><link>https://{blog}.tumblr.com/</link>"
            f"<description>{title}</description>{''.join(items)}</channel></rss>"
        )
        return Answer(
            200, [("Content-Type", "application/rss+xml; charset=utf-8")], self._rewrite(xml)
        )

    def _page(self, blog: str, post_id: str) -> Answer:
        post = self.posts.get(post_id)
        if (
            post is None
            or post_id in self.deleted
            or blog in self.deleted_blogs
            or post["blog_name"] != blog
        ):
            return Answer(404, [("Content-Type", "text/html")], b"<h1>Not found</h1>")
        texts = [b["text"] for b in post.get("content") or [] if b.get("type") == "text"]
        images = [
            b["media"][0]["url"] for b in post.get("content") or [] if b.get("type") == "image"
        ]
        meta = [f'<meta property="og:description" content="{html.escape(" ".join(texts))}">']
        meta += [f'<meta property="og:image" content="{html.escape(u)}">' for u in images]
        meta += [
            f'<meta property="article:tag" content="{html.escape(t)}">'
            for t in post.get("tags") or []
        ]
        page = f"<html><head><title>{blog}</title>{''.join(meta)}</head><body>{self._text_of(post)}</body></html>"
        return Answer(200, [("Content-Type", "text/html; charset=utf-8")], self._rewrite(page))

    def _app(self, request: Request) -> Answer:
        queued = self.script.get(request.route)
        if queued:
            return queued.pop(0)
        for host in MEDIA_HOSTS:
            if request.route.startswith(f"/{host}/"):
                self.media_requests += 1
                if request.route.endswith(".mp4"):
                    return Answer(200, [("Content-Type", "video/mp4")], tiny_mp4())
                return Answer(200, [("Content-Type", "image/jpeg")], tiny_jpeg(request.route))
        match = _API.match(request.route)
        if match:
            return self._api(request, match.group(1), match.group(2))
        site = _SITE.match(request.route)
        if site:
            if site.group(2) == "rss":
                return self._rss(site.group(1))
            return self._page(site.group(1), site.group(3))
        return Answer(404, [("Content-Type", "text/plain")], b"not found")

    @property
    def host(self) -> str:
        return self.server.host

    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def blog_url_template(self) -> str:
        return f"{self.server.base_url}/blogs/{{blog}}"

    def __enter__(self) -> TumblrApi:
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()
