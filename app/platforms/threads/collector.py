"""Threads posts through the Threads API: the code in the URL is found in the account's
threads list (the id is kept in the fetch state), then the post (text, media, carousel
children, quote and repost references) and its replies through the conversation edge.

No recorded Threads post answers exist (only token exchanges): the fields read here are the
documented ones (id, text, media_type, media_url, permalink, shortcode, timestamp, username,
is_quote_post, quoted_post, reposted_post, children; replies' replied_to)."""

from __future__ import annotations

import hashlib
from typing import Any

from app.platforms.collected import (
    Author,
    CaptureTarget,
    CollectedPost,
    CollectResult,
    EmbeddedPost,
    MediaRef,
    NotVisible,
    Reply,
)
from app.platforms.common import Abort, parse_time
from app.platforms.facebook.graph import Graph, GraphCollector
from app.platforms.fetcher import FetchSession
from app.platforms.htmltext import find_hashtags, find_urls
from app.platforms.threads import urls

POST_FIELDS = (
    "id,text,media_type,media_url,thumbnail_url,permalink,shortcode,timestamp,username,"
    "is_quote_post,quoted_post,reposted_post,children{id,media_type,media_url,thumbnail_url}"
)
REPLY_FIELDS = "id,text,username,permalink,timestamp,media_type,media_url,replied_to,root_post"


def _media(item: dict[str, Any]) -> list[MediaRef]:
    kind = str(item.get("media_type") or "")
    found: list[MediaRef] = []
    if item.get("media_url"):
        role = "video" if kind == "VIDEO" else "image"
        found.append(MediaRef(url=str(item["media_url"]), role=role))
    if kind == "VIDEO" and item.get("thumbnail_url"):
        found.append(MediaRef(url=str(item["thumbnail_url"]), role="thumbnail"))
    for child in (item.get("children") or {}).get("data") or []:
        if isinstance(child, dict):
            found.extend(_media(child))
    return found


class ThreadsCollector(GraphCollector):
    platform = urls.PLATFORM_ID
    version = f"{urls.PLATFORM_ID}/1"

    def collect_with(self, target: CaptureTarget, http: FetchSession) -> CollectResult:
        graph = self.connected(target, http, "the Threads account", needs_account_id=False)
        code = target.external_id
        post_id = target.validators.get("thread_id") or self._find(graph, target, code)
        post = graph.get(post_id, {"fields": POST_FIELDS})
        replies = graph.pages(
            f"{post_id}/conversation", {"fields": REPLY_FIELDS, "reverse": "false"}
        )
        text = str(post.get("text") or "")
        username = str(post.get("username") or target.account_handle)
        return CollectedPost(
            platform=self.platform,
            post_id=post_id,
            url=str(post.get("permalink") or urls.post_url(username, code)),
            author=Author(
                handle=target.account_handle,
                platform_id=target.account_platform_id,
                profile_url=f"https://www.threads.net/@{username}",
            ),
            text=text,
            created_at=parse_time(post.get("timestamp")),
            # Threads gives no edit time: the text's hash tells versions apart.
            platform_version_id=hashlib.sha256(text.encode()).hexdigest()[:16],
            media=_media(post),
            quote_of=self._embedded(post.get("quoted_post")),
            repost_of=self._embedded(post.get("reposted_post")),
            links=find_urls(text),
            hashtags=find_hashtags(text),
            replies=[
                self._reply(r, post_id) for r in replies if isinstance(r, dict) and r.get("id")
            ],
            extra={"media_type": post.get("media_type"), "shortcode": code},
            source={f"GET /{post_id}": post, f"GET /{post_id}/conversation": replies},
            validators={"thread_id": post_id},
        )

    def _embedded(self, ref: Any) -> EmbeddedPost | None:
        if not isinstance(ref, dict) or not ref.get("id"):
            return None
        # The API names the quoted or reposted post by id only; it is kept as a reference.
        return EmbeddedPost(
            url=str(ref.get("permalink") or f"threads:{ref['id']}"),
            uri=str(ref["id"]),
            author=Author(handle=str(ref.get("username") or "unknown")),
            text=str(ref.get("text") or ""),
        )

    def _find(self, graph: Graph, target: CaptureTarget, code: str) -> str:
        owner = target.account_platform_id or "me"
        found = graph.find(
            f"{owner}/threads",
            {"fields": "id,shortcode,permalink", "limit": "100"},
            lambda item: (
                item.get("shortcode") == code or f"/post/{code}" in str(item.get("permalink") or "")
            ),
        )
        if found:
            return found
        raise Abort(
            NotVisible(
                reason=f"the post {code} is not among the connected Threads account's posts: it "
                "was deleted, or it belongs to another account"
            )
        )

    def _reply(self, reply: dict[str, Any], root: str) -> Reply:
        username = str(reply.get("username") or "threads user")
        parent = (reply.get("replied_to") or {}).get("id") if reply.get("replied_to") else None
        return Reply(
            id=str(reply["id"]),
            url=reply.get("permalink"),
            author=Author(handle=username, profile_url=f"https://www.threads.net/@{username}"),
            text=str(reply.get("text") or ""),
            created_at=parse_time(reply.get("timestamp")),
            in_reply_to_id=None if parent in (None, root) else str(parent),
            media=_media(reply),
        )
