"""Facebook Page posts through the Graph API, with the Page token the connect flow stored.

`target.external_id` is `<page id>/<kind>/<id>`: kind `posts` (a numeric story id or a
`pfbid…`, found in the Page's feed by its permalink), `videos`, `photo`, or `short` (a
fb.watch or /share/ link, resolved through the guarded fetcher first). The post, its
attachments (photos, albums, video, links) and every comment with its replies are captured;
`updated_time` is the version id, so an edit is a new version. Code 100 with the "does not
exist" subcode is a deletion; an expired or revoked grant is "reconnect needed".
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

from app.errors import Invalid
from app.platforms.base import UrlParts
from app.platforms.collected import (
    Author,
    CaptureTarget,
    CollectedPost,
    CollectResult,
    LinkCard,
    MediaRef,
    NotVisible,
    Reply,
    TransientFailure,
)
from app.platforms.common import Abort, parse_time
from app.platforms.facebook import urls
from app.platforms.facebook.graph import Graph, GraphCollector
from app.platforms.fetcher import FetchSession
from app.platforms.htmltext import find_hashtags, find_urls

POST_FIELDS = (
    "id,message,created_time,updated_time,permalink_url,status_type,from,full_picture,"
    "attachments{media_type,type,url,title,description,media,target,subattachments}"
)
VIDEO_FIELDS = "id,description,title,created_time,updated_time,permalink_url,from,source,picture"
PHOTO_FIELDS = "id,name,created_time,updated_time,link,from,images"
COMMENT_FIELDS = "id,message,created_time,from,permalink_url,comment_count,parent{id},attachment"
MAX_REDIRECTS = 5


def _comment_ids(permalink: str) -> tuple[str | None, str | None]:
    query = parse_qs(urlsplit(permalink).query)
    comment = next(iter(query.get("comment_id", [])), None)
    reply = next(iter(query.get("reply_comment_id", [])), None)
    return comment, reply


def _media_from(attachment: dict[str, Any]) -> list[MediaRef]:
    found: list[MediaRef] = []
    media = attachment.get("media") or {}
    kind = str(attachment.get("media_type") or attachment.get("type") or "")
    if isinstance(media, dict):
        if media.get("source") and "video" in kind:
            found.append(MediaRef(url=str(media["source"]), role="video"))
        image = media.get("image") or {}
        if isinstance(image, dict) and image.get("src"):
            found.append(
                MediaRef(
                    url=str(image["src"]),
                    role="thumbnail" if "video" in kind else "image",
                    alt_text=attachment.get("description") if "photo" in kind else None,
                    width=image.get("width") if isinstance(image.get("width"), int) else None,
                    height=image.get("height") if isinstance(image.get("height"), int) else None,
                )
            )
    for child in (attachment.get("subattachments") or {}).get("data") or []:
        if isinstance(child, dict):
            found.extend(_media_from(child))
    return found


class FacebookCollector(GraphCollector):
    platform = urls.PLATFORM_ID
    version = f"{urls.PLATFORM_ID}/1"

    def collect_with(self, target: CaptureTarget, http: FetchSession) -> CollectResult:
        graph = self.connected(target, http, "the Facebook Page", needs_account_id=False)
        page_id, _, rest = target.external_id.partition("/")
        kind, _, ident = rest.partition("/")
        source: dict[str, Any] = {}
        if kind == "short":
            kind, ident = self._resolve_short(http, ident, source)
        if kind == "posts":
            object_id = self._story_id(graph, page_id, ident, target)
            fields = POST_FIELDS
        elif kind == "videos":
            object_id, fields = ident, VIDEO_FIELDS
        elif kind == "photo":
            object_id, fields = ident, PHOTO_FIELDS
        else:
            return TransientFailure(error=f"'{target.external_id}' is not a Facebook post id")
        post = graph.get(object_id, {"fields": fields})
        source[f"GET /{object_id}"] = post
        comments = graph.pages(
            f"{object_id}/comments",
            {
                "fields": COMMENT_FIELDS,
                "filter": "stream",
                "order": "chronological",
                "limit": "100",
            },
        )
        source[f"GET /{object_id}/comments"] = comments
        return self._post(post, comments, target, object_id, source)

    def _resolve_short(
        self, http: FetchSession, short: str, source: dict[str, Any]
    ) -> tuple[str, str]:
        """Follow a fb.watch or /share/ link (no redirects followed by the client: each hop
        goes through the guard) to the URL it names."""
        host, _, path = short.partition("/")
        url = f"{self.fetcher.base_url(host)}/{path}"
        hops: list[str] = []
        for _ in range(MAX_REDIRECTS):
            response = http.get(url)
            location = response.headers.get("location")
            if response.status_code not in (301, 302, 303, 307, 308) or not location:
                break
            url = urljoin(url, location)
            hops.append(url)
            try:
                ref = urls.parse_post_url(UrlParts.parse(url))
            except Invalid:
                ref = None
            if ref is not None and not ref.post_id.startswith("short/"):
                source["short link"] = hops
                kind, _, ident = ref.post_id.partition("/")
                return kind, ident
        raise Abort(
            TransientFailure(error=f"the short link {short} does not lead to a Facebook Page post")
        )

    def _story_id(self, graph: Graph, page_id: str, ident: str, target: CaptureTarget) -> str:
        if re.fullmatch(r"[0-9]+", ident):
            return f"{page_id}_{ident}"
        cached = target.validators.get("graph_id")
        if cached:
            return cached
        # A pfbid is not a Graph id: the Page's own feed names each post's permalink.
        found = graph.find(
            f"{page_id}/feed",
            {"fields": "id,permalink_url", "limit": "100"},
            lambda item: ident in str(item.get("permalink_url") or ""),
        )
        if found:
            return found
        raise Abort(
            NotVisible(
                reason=f"the post {ident} is not in the connected Page's feed: it was deleted, "
                "or it belongs to another Page or a personal profile"
            )
        )

    def _post(
        self,
        post: dict[str, Any],
        comments: list[Any],
        target: CaptureTarget,
        object_id: str,
        source: dict[str, Any],
    ) -> CollectedPost:
        text = str(post.get("message") or post.get("description") or post.get("name") or "")
        author_info: dict[str, Any] = post["from"] if isinstance(post.get("from"), dict) else {}
        media: list[MediaRef] = []
        link_card: LinkCard | None = None
        for attachment in (post.get("attachments") or {}).get("data") or []:
            if not isinstance(attachment, dict):
                continue
            kind = str(attachment.get("type") or attachment.get("media_type") or "")
            if kind in ("share", "link") and attachment.get("url"):
                link_card = LinkCard(
                    url=str(attachment["url"]),
                    title=attachment.get("title"),
                    description=attachment.get("description"),
                )
            media.extend(_media_from(attachment))
        if post.get("source"):
            media.append(MediaRef(url=str(post["source"]), role="video"))
        images = post.get("images")
        if isinstance(images, list) and images and isinstance(images[0], dict):
            media.append(MediaRef(url=str(images[0].get("source")), role="image"))
        if not media and post.get("full_picture"):
            media.append(MediaRef(url=str(post["full_picture"]), role="image"))
        permalink = str(post.get("permalink_url") or post.get("link") or target.url)
        if permalink.startswith("/"):
            permalink = f"https://www.facebook.com{permalink}"
        extra = {k: post[k] for k in ("status_type", "title") if post.get(k)}
        extra["graph_id"] = object_id
        return CollectedPost(
            platform=self.platform,
            post_id=object_id,
            url=permalink,
            author=Author(
                handle=target.account_handle,
                display_name=author_info.get("name"),
                platform_id=author_info.get("id") or target.account_platform_id,
                profile_url=urls.page_url(target.account_handle),
            ),
            text=text,
            title=post.get("title"),
            created_at=parse_time(post.get("created_time")),
            edited_at=parse_time(post.get("updated_time")),
            platform_version_id=post.get("updated_time"),
            media=media,
            link_card=link_card,
            links=find_urls(text),
            hashtags=find_hashtags(text),
            replies=[r for r in (self._reply(c) for c in comments) if r is not None],
            extra=extra,
            source=source,
            validators={"graph_id": object_id},
        )

    def _reply(self, comment: Any) -> Reply | None:
        if not isinstance(comment, dict):
            return None
        permalink = str(comment.get("permalink_url") or "")
        from_permalink, reply_id = _comment_ids(permalink)
        ident = comment.get("id") or reply_id or from_permalink
        if not ident:
            return None
        parent = (comment.get("parent") or {}).get("id") if comment.get("parent") else None
        if parent is None and reply_id is not None:
            parent = from_permalink
        who: dict[str, Any] = comment["from"] if isinstance(comment.get("from"), dict) else {}
        media: list[MediaRef] = []
        attachment = comment.get("attachment")
        if isinstance(attachment, dict):
            media = _media_from(attachment)
        return Reply(
            id=str(ident),
            url=permalink or None,
            author=Author(
                handle=str(who.get("id") or "facebook user"),
                display_name=who.get("name"),
                platform_id=who.get("id"),
            ),
            text=str(comment.get("message") or ""),
            created_at=parse_time(comment.get("created_time")),
            in_reply_to_id=str(parent) if parent else None,
            media=media,
        )
