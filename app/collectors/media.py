"""Media of a capture: every file named by a version fetched once, through the Fetcher
(capped, type-checked, counted against its host's rate limit), and stored by SHA-256."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.platforms.collected import (
    CollectedPost,
    MediaRef,
)
from app.platforms.fetcher import Fetcher
from app.posts.models import CapturedVersion, VersionMedia
from app.storage.base import sha256_hex

if TYPE_CHECKING:
    from app.collectors.service import CaptureContext

MEDIA_TYPES = ("image/*", "video/*", "audio/*")


def walk_media(post: CollectedPost) -> Iterator[MediaRef]:
    """Every media reference of a capture: its own, quoted/reposted, link card, replies, avatar."""
    yield from post.media
    if post.link_card and post.link_card.thumb:
        yield post.link_card.thumb
    for embedded in (post.quote_of, post.repost_of):
        if embedded is not None:
            yield from embedded.media
    for reply in post.replies:
        yield from reply.media
    if post.author.avatar_url:
        yield MediaRef(url=post.author.avatar_url, role="avatar")


@dataclass
class Downloaded:
    data: dict[str, bytes] = field(default_factory=dict)  # sha256 -> bytes
    types: dict[str, str] = field(default_factory=dict)  # sha256 -> mime type
    by_url: dict[str, str] = field(default_factory=dict)  # source URL -> sha256
    errors: list[str] = field(default_factory=list)
    requests: int = 0


def download_media(
    ctx: CaptureContext, post: CollectedPost, known: Mapping[str, str]
) -> Downloaded:
    """Fetch every media file once, capped and type-checked; URLs already archived for this
    post (Bluesky blobs by CID, Mastodon's immutable media paths) are not fetched again.
    Downloads go through the Fetcher, so they count against their host's rate limiter."""
    http = (ctx.fetcher or Fetcher.from_settings(ctx.settings)).session(ctx.client)
    got = Downloaded()
    for held in post.files:  # bytes the collector already has (a browser capture's)
        got.data[held.sha256] = held.data
        got.types[held.sha256] = held.mime_type
    by_url: dict[str, tuple[str, str]] = {}
    captures = [post, *post.history]
    for capture in captures:
        for ref in walk_media(capture):
            if ref.sha256:
                continue
            if ref.url in by_url:
                ref.sha256, ref.mime_type = by_url[ref.url][0], ref.mime_type or by_url[ref.url][1]
                continue
            if ref.url in known:
                ref.sha256 = known[ref.url]
                got.by_url[ref.url] = known[ref.url]
                continue
            try:
                fetched = http.download(
                    ref.url, max_bytes=ctx.settings.media_max_bytes, allowed_types=MEDIA_TYPES
                )
                got.requests += 1
            except Exception as exc:  # a media file that cannot be fetched must not lose the post
                got.requests += 1
                got.errors.append(f"{ref.url}: {exc}")
                continue
            if fetched.status != 200:
                got.errors.append(f"{ref.url}: HTTP {fetched.status}")
                continue
            digest = sha256_hex(fetched.content)
            mime = (fetched.content_type or ref.mime_type or "application/octet-stream").split(";")[
                0
            ]
            ref.sha256, ref.size, ref.mime_type = digest, len(fetched.content), mime
            got.data[digest] = fetched.content
            got.types[digest] = mime
            by_url[ref.url] = (digest, mime)
            got.by_url[ref.url] = digest
    if got.errors:
        post.extra["media_errors"] = got.errors
    return got


def known_media(session: Session, post_id: int) -> dict[str, str]:
    rows = session.execute(
        select(VersionMedia.source_url, VersionMedia.sha256)
        .join(CapturedVersion, CapturedVersion.id == VersionMedia.version_id)
        .where(CapturedVersion.post_id == post_id, VersionMedia.source_url.is_not(None))
    )
    return {url: sha for url, sha in rows if url}
