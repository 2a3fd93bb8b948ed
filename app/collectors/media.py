"""Media of a capture: every file named by a version fetched once, through the Fetcher
(capped, type-checked, counted against its host's rate limit), and stored by SHA-256."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from app.platforms.collected import (
    CollectedPost,
    MediaRef,
)
from app.platforms.fetcher import Fetcher, FetchSession
from app.platforms.http import ResponseTooLarge
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


# Files of these roles can be large (a podcast episode's audio): streamed to a spool file
# with their SHA-256 and stored from it, never held in memory.
STREAMED_ROLES = frozenset({"audio", "video"})
CAP_SETTING = "POSTVAULT_MAX_MEDIA_BYTES"


@dataclass
class Downloaded:
    data: dict[str, bytes] = field(default_factory=dict)  # sha256 -> bytes
    spooled: dict[str, Path] = field(default_factory=dict)  # sha256 -> streamed file
    types: dict[str, str] = field(default_factory=dict)  # sha256 -> mime type
    by_url: dict[str, str] = field(default_factory=dict)  # source URL -> sha256
    errors: list[str] = field(default_factory=list)
    requests: int = 0

    def discard_spooled(self) -> None:
        """Remove the spool files (after their bytes are stored, or when nothing was)."""
        for path in self.spooled.values():
            path.unlink(missing_ok=True)
        self.spooled.clear()


def _stream(
    http: FetchSession, ref: MediaRef, cap: int, spool_dir: Path
) -> tuple[int, str | None, str, Path | None]:
    """(status, sha256, mime, spool file) of a media file streamed to disk."""
    spool_dir.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix="media.", dir=spool_dir)
    path = Path(name)
    try:
        with os.fdopen(fd, "wb") as handle:
            streamed = http.download_to(ref.url, handle, max_bytes=cap, allowed_types=MEDIA_TYPES)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    if streamed.sha256 is None:
        path.unlink(missing_ok=True)
        return streamed.status, None, "", None
    ref.size = streamed.size
    return streamed.status, streamed.sha256, streamed.content_type, path


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
    too_large: list[str] = []
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
            cap = ctx.settings.media_cap
            spool: Path | None = None
            try:
                got.requests += 1
                if ref.role in STREAMED_ROLES:
                    status, digest, mime, spool = _stream(
                        http, ref, cap, ctx.settings.archive_dir / "spool"
                    )
                    content = b""
                else:
                    fetched = http.download(ref.url, max_bytes=cap, allowed_types=MEDIA_TYPES)
                    status, content, mime = fetched.status, fetched.content, fetched.content_type
                    digest = sha256_hex(content)
            except ResponseTooLarge:
                too_large.append(
                    f"the {ref.role} file {ref.url} is larger than {CAP_SETTING} "
                    f"({cap} bytes): this version is captured without it"
                )
                continue
            except Exception as exc:  # a media file that cannot be fetched must not lose the post
                got.errors.append(f"{ref.url}: {exc}")
                continue
            if status != 200 or digest is None:
                got.errors.append(f"{ref.url}: HTTP {status}")
                continue
            mime = (mime or ref.mime_type or "application/octet-stream").split(";")[0]
            ref.sha256, ref.mime_type = digest, mime
            if spool is not None:
                if digest in got.spooled:
                    spool.unlink(missing_ok=True)
                else:
                    got.spooled[digest] = spool
            else:
                ref.size = len(content)
                got.data[digest] = content
            got.types[digest] = mime
            by_url[ref.url] = (digest, mime)
            got.by_url[ref.url] = digest
    if got.errors:
        post.extra["media_errors"] = got.errors
    if too_large:
        # Content: the version says which file it lacks, and why.
        post.extra["media_not_archived"] = too_large
    return got


# Built once (its compiled form is cached): every capture reads it.
_KNOWN_MEDIA = (
    select(VersionMedia.source_url, VersionMedia.sha256)
    .join(CapturedVersion, CapturedVersion.id == VersionMedia.version_id)
    .where(CapturedVersion.post_id == bindparam("post_id"), VersionMedia.source_url.is_not(None))
)


def known_media(session: Session, post_id: int) -> dict[str, str]:
    rows = session.execute(_KNOWN_MEDIA, {"post_id": post_id})
    return {url: sha for url, sha in rows if url}
