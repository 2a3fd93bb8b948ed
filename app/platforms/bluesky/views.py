"""Reading AppView answers (post views, embeds, thread replies) into the capture's shapes."""

from __future__ import annotations

from typing import Any

from app.platforms.bluesky.atproto import (
    _authority_of,
    _dict,
    _int,
    _list,
    _rkey_of,
    _str,
    _text,
    post_web_url,
)
from app.platforms.bluesky.text import rich_text
from app.platforms.collected import Author, EmbeddedPost, MediaRef, Reply
from app.platforms.common import parse_time


def _first(value: Any) -> Any:
    items = _list(value)
    return items[0] if items else None


def _author_from_view(view: dict[str, Any]) -> Author:
    handle = _str(view.get("handle")) or _str(view.get("did")) or ""
    return Author(
        handle=handle,
        display_name=_str(view.get("displayName")),
        platform_id=_str(view.get("did")),
        profile_url=f"https://bsky.app/profile/{handle}" if handle else None,
        avatar_url=_str(view.get("avatar")),
    )


def _view_media(view: Any) -> list[MediaRef]:
    """Media named by an AppView embed view (its own image URLs)."""
    view = _dict(view)
    kind = view.get("$type")
    if kind == "app.bsky.embed.recordWithMedia#view":
        return _view_media(view.get("media"))
    media: list[MediaRef] = []
    if kind == "app.bsky.embed.images#view":
        for image in _list(view.get("images")):
            image = _dict(image)
            url = _str(image.get("fullsize")) or _str(image.get("thumb"))
            if url is None:
                continue
            ratio = _dict(image.get("aspectRatio"))
            media.append(
                MediaRef(
                    url=url,
                    role="image",
                    alt_text=_str(image.get("alt")),
                    width=_int(ratio.get("width")),
                    height=_int(ratio.get("height")),
                )
            )
    elif kind == "app.bsky.embed.video#view":
        # The video itself is an HLS playlist, not one file; its poster frame is kept.
        thumbnail = _str(view.get("thumbnail"))
        if thumbnail is not None:
            media.append(MediaRef(url=thumbnail, role="thumbnail", alt_text=_str(view.get("alt"))))
    return media


def _embedded_from_view(view: dict[str, Any], record: Any, embed_view: Any) -> EmbeddedPost:
    record = _dict(record)
    uri = _str(view.get("uri")) or ""
    author = _author_from_view(_dict(view.get("author")))
    text = _text(record.get("text"))
    return EmbeddedPost(
        url=post_web_url(author.handle or _authority_of(uri), _rkey_of(uri)),
        uri=uri or None,
        author=author,
        text=text,
        html=rich_text(text, record.get("facets")).html,
        created_at=parse_time(record.get("createdAt")),
        media=_view_media(embed_view),
    )


def _bare_embedded(uri: str) -> EmbeddedPost:
    authority = _authority_of(uri)
    return EmbeddedPost(
        url=post_web_url(authority, _rkey_of(uri)),
        uri=uri or None,
        author=Author(
            handle=authority,
            platform_id=authority if authority.startswith("did:") else None,
            profile_url=f"https://bsky.app/profile/{authority}",
        ),
    )


def _walk_replies(
    nodes: list[Any], parent_uri: str | None, out: list[Reply], skipped: list[str]
) -> None:
    """Flatten the AppView's reply tree; `in_reply_to_id` threads it again (None for a
    direct reply to the flagged post)."""
    for node in nodes:
        node = _dict(node)
        post = node.get("post")
        if not isinstance(post, dict) or not _str(post.get("uri")):
            # notFoundPost / blockedPost: say that a reply exists but is not shown.
            skipped.append(_str(node.get("uri")) or str(node.get("$type") or "unknown"))
            continue
        uri: str = post["uri"]
        record = _dict(post.get("record"))
        author = _author_from_view(_dict(post.get("author")))
        text = _text(record.get("text"))
        out.append(
            Reply(
                id=uri,
                url=post_web_url(author.handle or _authority_of(uri), _rkey_of(uri)),
                author=author,
                text=text,
                html=rich_text(text, record.get("facets")).html,
                created_at=parse_time(record.get("createdAt")),
                in_reply_to_id=parent_uri,
                media=_view_media(post.get("embed")),
            )
        )
        _walk_replies(_list(node.get("replies")), uri, out, skipped)
