"""The collector contract: a flagged post in, a normalised capture or a typed outcome out.

Collectors are pure of the database: they take a `CaptureTarget` (plain data) and an
`httpx.Client`, so tests hand them a client pointed at a loopback server.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:  # render workers unpickle these models; they need no HTTP client library
    import httpx


class CaptureTarget(BaseModel):
    """What a collector needs to know about a flagged post (no ORM objects)."""

    model_config = ConfigDict(frozen=True)

    post_id: int
    platform: str
    external_id: (
        str  # e.g. at://alice.test/app.bsky.feed.post/3k..., mastodon.social/1170..., a URL
    )
    url: str
    account_handle: str
    account_platform_id: str | None = None  # DID, Mastodon account id, YouTube channel id
    account_profile_url: str | None = None  # a feed account: the feed's URL
    access_token: str | None = None
    # Conditional-GET state from the previous poll (feeds): {"etag": ..., "last_modified": ...}
    validators: dict[str, str] = Field(default_factory=dict)
    previous_platform_version_id: str | None = None
    previous_edited_at: dt.datetime | None = None


class Author(BaseModel):
    handle: str
    display_name: str | None = None
    platform_id: str | None = None  # DID, account id, channel id
    profile_url: str | None = None
    avatar_url: str | None = None


class MediaRef(BaseModel):
    """A media file named by the platform. `sha256` and `size` are filled once downloaded."""

    url: str
    role: Literal[
        "image", "video", "audio", "gifv", "thumbnail", "avatar", "link_thumb", "other"
    ] = "image"
    mime_type: str | None = None
    alt_text: str | None = None
    sha256: str | None = None
    size: int | None = None
    width: int | None = None
    height: int | None = None


class LinkCard(BaseModel):
    url: str
    title: str | None = None
    description: str | None = None
    thumb: MediaRef | None = None


class EmbeddedPost(BaseModel):
    """A quoted or reposted post, as context (not separately flagged)."""

    url: str
    uri: str | None = None  # at:// URI, Mastodon status URI
    author: Author
    text: str = ""
    html: str | None = None
    created_at: dt.datetime | None = None
    media: list[MediaRef] = Field(default_factory=list)


class Reply(BaseModel):
    """A reply received on the flagged post (a record received), possibly nested."""

    id: str
    url: str | None = None
    author: Author
    text: str = ""
    html: str | None = None
    created_at: dt.datetime | None = None
    in_reply_to_id: str | None = None  # the parent reply's id, or None for a direct reply
    media: list[MediaRef] = Field(default_factory=list)


class CapturedFile(BaseModel):
    """Bytes a collector already holds (a browser capture's WACZ and screenshot, the images
    it loaded), stored with the version. Never part of the version's hash: a WACZ differs on
    every capture; the images count through their MediaRef's sha256."""

    role: str  # "wacz", "screenshot", or "media" (bytes of a MediaRef with this sha256)
    mime_type: str
    sha256: str
    data: bytes


class CollectedPost(BaseModel):
    """The normalised capture of one post at one moment.

    `text` is plain text (what search and diffs use); `html` is the platform's markup, which
    is sanitised before anything renders it. `source` holds the platform's own responses, keyed
    by the request that produced them, and is archived byte-for-byte as canonical JSON.
    """

    kind: Literal["post"] = "post"
    platform: str
    post_id: str
    url: str
    author: Author
    text: str = ""
    html: str | None = None
    title: str | None = None  # YouTube videos and blog entries
    language: str | None = None
    created_at: dt.datetime | None = None
    edited_at: dt.datetime | None = None
    platform_version_id: str | None = None  # Bluesky CID, Mastodon edited_at, feed entry updated
    visibility: str | None = None  # public, unlisted, ... where the platform says
    media: list[MediaRef] = Field(default_factory=list)
    link_card: LinkCard | None = None
    reply_to: str | None = None  # URL or URI of the post this one answers
    repost_of: EmbeddedPost | None = None  # a repost/boost/reblog, nothing added
    quote_of: EmbeddedPost | None = None  # a quote post: the employee added a comment
    links: list[str] = Field(default_factory=list)  # every link in the text, in order
    hashtags: list[str] = Field(default_factory=list)
    replies: list[Reply] = Field(default_factory=list)
    replies_captured: bool = True  # False when the replies could not be fetched this time
    extra: dict[str, Any] = Field(default_factory=dict)  # platform facts worth keeping
    source: dict[str, Any] = Field(default_factory=dict)
    # Earlier versions the platform itself serves (Mastodon edit history), oldest first.
    history: list[CollectedPost] = Field(default_factory=list)
    # Conditional-GET validators to send next time (feeds).
    validators: dict[str, str] = Field(default_factory=dict)
    http_requests: int = 0
    # Excluded from every dump (normalized JSON, the content hash): stored as version files.
    files: list[CapturedFile] = Field(default_factory=list, exclude=True)


class Deleted(BaseModel):
    kind: Literal["deleted"] = "deleted"
    reason: str
    source: dict[str, Any] = Field(default_factory=dict)
    http_requests: int = 0


class AccountGone(BaseModel):
    kind: Literal["account_gone"] = "account_gone"
    reason: str
    source: dict[str, Any] = Field(default_factory=dict)
    http_requests: int = 0


class NotVisible(BaseModel):
    """Private, followers-only, or the instance needs a token."""

    kind: Literal["not_visible"] = "not_visible"
    reason: str
    # The account's connected grant (OAuth) expired or was revoked: only the employee can
    # fix it by reconnecting, so the post shows "reconnect needed", never a silent stop.
    reconnect: bool = False
    http_requests: int = 0


class RateLimited(BaseModel):
    kind: Literal["rate_limited"] = "rate_limited"
    host: str
    retry_at: dt.datetime
    reason: str = "rate limited"
    http_requests: int = 0


class TransientFailure(BaseModel):
    kind: Literal["failed"] = "failed"
    error: str
    http_requests: int = 0


class Unchanged(BaseModel):
    """A conditional GET answered 304: nothing to compare, the post is still there."""

    kind: Literal["unchanged"] = "unchanged"
    http_requests: int = 0
    # Why there was nothing to compare, shown when the post has no version yet (a post is
    # never `captured` with nothing archived).
    reason: str | None = None


CollectResult = (
    CollectedPost | Deleted | AccountGone | NotVisible | RateLimited | TransientFailure | Unchanged
)


class Collector(Protocol):
    """One per platform (app/collectors/<platform>.py), listed in registry.py."""

    platform: str
    version: str

    def collect(self, target: CaptureTarget, client: httpx.Client) -> CollectResult: ...
