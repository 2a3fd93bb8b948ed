"""Tumblr: a post and the notes it received, through the API v2 or, without a key, the blog's
RSS feed and the post page.

`target.external_id` is the post id; the blog is the account's (`target.account_handle`).

With `POSTVAULT_TUMBLR_API_KEY`, requests (the key travels as `api_key`, never shown):
- GET /v2/blog/<blog>.tumblr.com/posts?id=<id>&npf=true: the post in NPF (content blocks,
  layout, reblog trail), the blog (title, uuid, avatar);
- GET /v2/blog/<blog>.tumblr.com/notes?id=<id>&mode=conversation, when the post has notes:
  the replies and the reblogs that add a comment (pages followed by `before_timestamp`);
- GET /v2/blog/<blog>.tumblr.com/info only after a 404, to tell a deleted post (the blog is
  there) from a deleted blog.

Without a key: GET <blog URL>/rss (the newest 20 posts) and GET <blog URL>/post/<id>; the
page's 404 is a deletion (a removed post often lingers in the feed), a post no longer in the
feed is read from the page's Open Graph description. Notes are not read without a key.

Outcomes: 404 with the blog there → Deleted; the blog 404 too → AccountGone; 401 → not
visible, naming the key setting; 403 → not visible (a private or dashboard-only blog);
429 → the host is paused until `X-Ratelimit-Perhour-Reset` / `-Perday-Reset` (or
Retry-After); a malformed or truncated answer → a failed poll that says why.
"""

from __future__ import annotations

import xml.sax
from typing import Any

import feedparser
import httpx

from app.platforms.collected import (
    AccountGone,
    CaptureTarget,
    CollectedPost,
    CollectResult,
    Deleted,
    NotVisible,
    TransientFailure,
    Unchanged,
)
from app.platforms.common import Abort, json_body
from app.platforms.fetcher import Fetcher, FetchingCollector, FetchSession
from app.platforms.http import describe_url
from app.platforms.ratelimit import HostPaused, TransientHTTPError
from app.platforms.tumblr import parse
from app.platforms.tumblr.urls import DOMAIN, PLATFORM_ID, post_url

KEY_SETTING = "POSTVAULT_TUMBLR_API_KEY"
NO_KEY_NOTE = (
    f"notes (replies and reblogs with comments) are read only through the API: set {KEY_SETTING}"
)
MAX_NOTE_PAGES = 10
FEED_TYPES = "application/rss+xml, application/xml;q=0.9, text/xml;q=0.8, */*;q=0.1"


class TumblrCollector(FetchingCollector):
    platform = PLATFORM_ID
    version = f"{PLATFORM_ID}/1"

    def __init__(
        self,
        *,
        fetcher: Fetcher,
        api_url: str,
        api_key: str | None,
        blog_url_template: str = "https://{blog}." + DOMAIN,
    ) -> None:
        super().__init__(fetcher)
        self.api_url = api_url.rstrip("/")
        self.api_key = api_key or None
        self.blog_url_template = blog_url_template

    def collect(self, target: CaptureTarget, client: httpx.Client) -> CollectResult:
        result: CollectResult = self.fetcher.run(client, lambda http: self._collect(target, http))
        return result

    def _collect(self, target: CaptureTarget, http: FetchSession) -> CollectResult:
        post_id = target.external_id.strip()
        blog = target.account_handle.strip().lower()
        if not post_id.isdigit():
            return TransientFailure(error=f"'{post_id}' is not a Tumblr post id")
        first = target.previous_platform_version_id is None
        if self.api_key:
            return self._from_api(http, blog, post_id, first=first)
        return self._from_feed(http, blog, post_id, first=first)

    # --- the API ----------------------------------------------------------------------------

    def _api(
        self, http: FetchSession, blog: str, endpoint: str, params: dict[str, str], what: str
    ) -> tuple[httpx.Response, parse.Answer | None, Any]:
        response = http.get(
            f"{self.api_url}/v2/blog/{blog}.{DOMAIN}/{endpoint}",
            headers={"Accept": "application/json"},
            params={**params, "api_key": self.api_key or ""},
        )
        if response.status_code >= 500:
            return response, None, None
        body = json_body(response, what)
        try:
            answer = parse.read_answer(body)
        except parse.MalformedAnswer as exc:
            raise Abort(
                TransientFailure(
                    error=f"the {what} answer from the Tumblr API is not a Tumblr answer "
                    f"(HTTP {response.status_code}): {exc}"
                )
            ) from exc
        return response, answer, body

    def _from_api(
        self, http: FetchSession, blog: str, post_id: str, *, first: bool
    ) -> CollectResult:
        response, answer, body = self._api(
            http, blog, "posts", {"id": post_id, "npf": "true"}, "post"
        )
        if answer is None:
            return TransientFailure(error=f"the Tumblr API answered HTTP {response.status_code}")
        source: dict[str, Any] = {"post": body}
        if response.status_code == 404:
            return self._gone(http, blog, post_id, answer, source)
        if response.status_code == 401:
            return NotVisible(
                reason=f"Tumblr refused the API key (HTTP 401, {parse.describe(answer)}): "
                f"check {KEY_SETTING}"
            )
        if response.status_code == 403:
            return NotVisible(
                reason=f"Tumblr refused to show the post (HTTP 403, {parse.describe(answer)}): "
                "the blog is private or shown only to logged-in Tumblr users"
            )
        if response.status_code != 200:
            return TransientFailure(
                error=f"the Tumblr API answered HTTP {response.status_code}: "
                f"{parse.describe(answer)}"
            )
        try:
            raw = parse.find_post(answer, post_id)
            if raw is None:
                return TransientFailure(
                    error=f"the Tumblr API's answer does not hold post {post_id} "
                    "(and does not say it is gone)"
                )
            post = parse.build_post(raw, parse._dict(parse._dict(answer.response).get("blog")))
        except parse.MalformedAnswer as exc:
            return TransientFailure(error=f"the Tumblr API's post answer is malformed: {exc}")
        notes = raw.get("note_count")
        if isinstance(notes, int) and notes > 0:
            self._notes(http, blog, post, source, first=first)
        post.source = source
        return post

    def _gone(
        self,
        http: FetchSession,
        blog: str,
        post_id: str,
        answer: parse.Answer,
        source: dict[str, Any],
    ) -> CollectResult:
        said = parse.describe(answer)
        info, blog_answer, body = self._api(http, blog, "info", {}, "blog info")
        source["blog_info"] = body
        if info.status_code == 404:
            return AccountGone(
                reason=f"Tumblr answers 404 ({said}) for the post and for the blog {blog}: "
                "the blog was deleted or renamed",
                source=source,
            )
        if info.status_code == 200 and blog_answer is not None:
            return Deleted(
                reason=f"Tumblr answers 404 ({said}) for post {post_id}; the blog {blog} is "
                "still there: the post was deleted",
                source=source,
            )
        return TransientFailure(
            error=f"Tumblr answers 404 for post {post_id}, but whether the blog {blog} is "
            f"still there could not be read (HTTP {info.status_code})"
        )

    def _notes(
        self,
        http: FetchSession,
        blog: str,
        post: CollectedPost,
        source: dict[str, Any],
        *,
        first: bool,
    ) -> None:
        """Replies and reblogs with comments. A failure keeps a first capture (marked as
        without replies) and fails a later poll, which is retried, so a passing rate limit
        does not make a version that merely lacks its notes."""
        pages: list[Any] = []
        notes: list[Any] = []
        params: dict[str, str] = {"id": post.post_id, "mode": "conversation"}
        try:
            for _page in range(MAX_NOTE_PAGES):
                response, answer, body = self._api(http, blog, "notes", params, "notes")
                if answer is None or response.status_code != 200:
                    raise TransientHTTPError(
                        f"the notes of the post answered HTTP {response.status_code}"
                        + (f": {parse.describe(answer)}" if answer is not None else "")
                    )
                pages.append(body)
                try:
                    found, following = parse.notes_page(answer)
                except parse.MalformedAnswer as exc:
                    raise Abort(
                        TransientFailure(error=f"the notes answer is malformed: {exc}")
                    ) from exc
                notes.extend(found)
                if not following or not found:
                    break
                params = {"id": post.post_id, "mode": "conversation", **following}
            else:
                post.extra["replies_note"] = f"only the newest {len(notes)} notes were read"
        except (HostPaused, TransientHTTPError, Abort) as exc:
            if not first:
                raise
            post.replies_captured = False
            result = getattr(exc, "result", None)
            post.extra["replies_error"] = (
                getattr(result, "error", None) or getattr(result, "reason", None) or str(exc)
            )
            source["notes"] = pages
            return
        source["notes"] = pages
        post.replies = parse.replies_of(notes)

    # --- without a key: the feed and the page -----------------------------------------------

    def blog_base(self, blog: str) -> str:
        return self.blog_url_template.format(blog=blog).rstrip("/")

    def _from_feed(
        self, http: FetchSession, blog: str, post_id: str, *, first: bool
    ) -> CollectResult:
        base = self.blog_base(blog)
        feed = http.get(f"{base}/rss", headers={"Accept": FEED_TYPES})
        page = http.get(f"{base}/post/{post_id}", headers={"Accept": "text/html"})
        source: dict[str, Any] = {"feed_status": feed.status_code, "page_status": page.status_code}
        if page.status_code in (404, 410):
            if feed.status_code in (404, 410):
                return AccountGone(
                    reason=f"the blog {blog} and its post {post_id} answer HTTP "
                    f"{page.status_code}: the blog was deleted or renamed",
                    source=source,
                )
            return Deleted(
                reason=f"the post page {post_url(blog, post_id)} answers HTTP "
                f"{page.status_code}: the post was deleted",
                source=source,
            )
        if page.status_code != 200:
            return TransientFailure(
                error=f"the post page {describe_url(page.url)} answered HTTP {page.status_code}"
            )
        post: CollectedPost | None = None
        if feed.status_code == 200:
            parsed = feedparser.parse(feed.content)
            problem = parsed.get("bozo_exception")
            if isinstance(problem, xml.sax.SAXParseException | feedparser.CharacterEncodingUnknown):
                # Never a decision (not in the feed) on a document that could not be read.
                return TransientFailure(
                    error=f"the blog's feed {describe_url(feed.url)} could not be read: {problem}"
                )
            title = parsed.feed.get("title")  # the channel's title
            for entry in parsed.get("entries") or []:
                link = str(entry.get("link") or "")
                guid = str(entry.get("id") or "")
                if post_id in (parse.post_id_in(link), parse.post_id_in(guid)):
                    post = parse.from_feed_entry(entry, blog, post_id, title)
                    source["feed_item"] = {
                        k: parse._plain(entry.get(k))
                        for k in ("title", "link", "id", "published", "summary", "tags")
                    }
                    break
        if post is None and not first:
            # Blogs' feeds hold their newest posts only: a post that left the feed but whose
            # page still answers is still there, with no new text to compare.
            return Unchanged()
        if post is None:
            text = page.content.decode(page.encoding or "utf-8", errors="replace")
            post = parse.from_page(text, blog, post_id)
            source["page_meta"] = parse.page_meta(text)
            if not post.text and not post.media:
                return TransientFailure(
                    error=f"post {post_id} is not in the blog's feed and its page "
                    "carries no description to capture"
                )
        post.replies_captured = False
        post.extra["replies_note"] = NO_KEY_NOTE
        post.source = source
        return post
