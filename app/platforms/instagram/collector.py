"""Instagram media through the Graph API: the shortcode is found in the account's media list
(paginated; the id is kept in the post's fetch state after the first capture), then the
media, its carousel children and its comments with their replies are read. A caption edit is
a new version (the caption is the version id's content); a media id that no longer answers
is a deletion."""

from __future__ import annotations

import hashlib
from typing import Any

from app.platforms.collected import (
    Author,
    CaptureTarget,
    CollectedPost,
    CollectResult,
    Deleted,
    MediaRef,
    NotVisible,
    Reply,
)
from app.platforms.common import Abort, parse_time
from app.platforms.facebook.graph import Graph, GraphCollector, graph_error, outcome_for
from app.platforms.fetcher import FetchSession
from app.platforms.htmltext import find_hashtags, find_urls
from app.platforms.instagram import urls

MEDIA_FIELDS = (
    "id,caption,media_type,media_url,thumbnail_url,permalink,shortcode,timestamp,username,"
    "comments_count,like_count"
)
CHILD_FIELDS = "id,media_type,media_url,thumbnail_url,permalink,shortcode,timestamp"
COMMENT_FIELDS = "id,text,timestamp,username,like_count,replies{id,text,timestamp,username}"


def _media(item: dict[str, Any]) -> list[MediaRef]:
    kind = str(item.get("media_type") or "")
    found: list[MediaRef] = []
    if item.get("media_url"):
        found.append(
            MediaRef(url=str(item["media_url"]), role="video" if kind == "VIDEO" else "image")
        )
    if kind == "VIDEO" and item.get("thumbnail_url"):
        found.append(MediaRef(url=str(item["thumbnail_url"]), role="thumbnail"))
    return found


class InstagramCollector(GraphCollector):
    platform = urls.PLATFORM_ID
    version = f"{urls.PLATFORM_ID}/1"

    def collect_with(self, target: CaptureTarget, http: FetchSession) -> CollectResult:
        graph = self.connected(target, http, "the Instagram account", needs_account_id=True)
        shortcode = target.external_id
        media_id = target.validators.get("media_id") or self._find(graph, target, shortcode)
        status, item, url = graph.call(media_id, {"fields": MEDIA_FIELDS})
        if status != 200:
            error = graph_error(status, item)
            if status in (400, 404) and error.code == 100:
                # A media id PostVault found before that no longer answers: it was deleted.
                return Deleted(
                    reason=f"Instagram no longer answers for media {media_id}: {error.message}",
                    source={"error": {"code": error.code, "message": error.message}},
                )
            return outcome_for(error, url, http)
        source: dict[str, Any] = {f"GET /{media_id}": item}
        media = _media(item)
        if item.get("media_type") == "CAROUSEL_ALBUM":
            children = graph.pages(f"{media_id}/children", {"fields": CHILD_FIELDS})
            source[f"GET /{media_id}/children"] = children
            media = [m for child in children if isinstance(child, dict) for m in _media(child)]
        comments = graph.pages(f"{media_id}/comments", {"fields": COMMENT_FIELDS})
        source[f"GET /{media_id}/comments"] = comments
        replies: list[Reply] = []
        for comment in comments:
            if not isinstance(comment, dict) or not comment.get("id"):
                continue
            replies.append(self._reply(comment, None))
            nested = (comment.get("replies") or {}).get("data")
            if nested is None:
                nested = graph.pages(
                    f"{comment['id']}/replies", {"fields": "id,text,timestamp,username"}
                )
                source[f"GET /{comment['id']}/replies"] = nested
            replies.extend(
                self._reply(r, str(comment["id"]))
                for r in nested
                if isinstance(r, dict) and r.get("id")
            )
        caption = str(item.get("caption") or "")
        return CollectedPost(
            platform=self.platform,
            post_id=media_id,
            url=str(item.get("permalink") or urls.post_url(shortcode)),
            author=Author(
                handle=target.account_handle,
                platform_id=target.account_platform_id,
                profile_url=f"https://www.instagram.com/{target.account_handle}/",
            ),
            text=caption,
            created_at=parse_time(item.get("timestamp")),
            # Instagram gives no edit time: the caption's hash tells versions apart.
            platform_version_id=hashlib.sha256(caption.encode()).hexdigest()[:16],
            media=media,
            links=find_urls(caption),
            hashtags=find_hashtags(caption),
            replies=replies,
            extra={"media_type": item.get("media_type"), "shortcode": shortcode},
            source=source,
            validators={"media_id": media_id},
        )

    def _find(self, graph: Graph, target: CaptureTarget, shortcode: str) -> str:
        found = graph.find(
            f"{target.account_platform_id}/media",
            {"fields": "id,shortcode,permalink", "limit": "100"},
            lambda item: (
                item.get("shortcode") == shortcode
                or f"/{shortcode}/" in str(item.get("permalink") or "")
            ),
        )
        if found:
            return found
        raise Abort(
            NotVisible(
                reason=f"the post {shortcode} is not in the connected Instagram account's media: "
                "it was deleted, or it belongs to another account"
            )
        )

    def _reply(self, comment: dict[str, Any], parent: str | None) -> Reply:
        username = str(comment.get("username") or "instagram user")
        return Reply(
            id=str(comment["id"]),
            author=Author(handle=username, profile_url=f"https://www.instagram.com/{username}/"),
            text=str(comment.get("text") or ""),
            created_at=parse_time(comment.get("timestamp")),
            in_reply_to_id=parent,
        )
