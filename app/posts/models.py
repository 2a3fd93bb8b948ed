from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import SocialAccount
from app.auth.models import User
from app.db import Base, UTCDateTime, utcnow


class PostStatus(enum.StrEnum):
    waiting = "waiting"  # flagged, not captured yet
    captured = "captured"  # captured at least once, unchanged since
    edited = "edited"  # more than one distinct version
    removed = "removed"  # gone from the platform; the archive keeps it
    unavailable = "unavailable"  # private, needs a token, or the account is gone
    failing = "failing"  # repeated failures; retried later, last error shown
    reconnect_needed = "reconnect_needed"  # the connected account's grant lapsed or was revoked
    disposed = "disposed"  # destroyed by an approved disposition; only a stub remains


class VersionKind(enum.StrEnum):
    capture = "capture"  # what PostVault fetched
    history = "history"  # an earlier edit served by the platform itself (Mastodon)
    removal = "removal"  # the final version recording that the post is gone
    upload = "upload"  # evidence a person handed over (a WACZ, PDF, screenshot, original file)


class FlaggedPost(Base):
    __tablename__ = "flagged_posts"
    __table_args__ = (
        UniqueConstraint("platform", "external_id"),
        Index("ix_flagged_posts_due", "next_poll_at"),
        # The archived primary copy of a secondary copy is found by its address.
        Index("ix_flagged_posts_url", "url"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("social_accounts.id"), index=True)
    flagged_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    url: Mapped[str] = mapped_column(String(2048))
    platform: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(512))
    note: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=PostStatus.waiting)
    flagged_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    # Capture bookkeeping (collectors issue).
    first_captured_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_captured_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    removed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    next_poll_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    polls_done: Mapped[int] = mapped_column(Integer, default=0)
    failure_count: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    disposed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # What the collector asked to be sent next time (ETag, Last-Modified of a feed).
    fetch_state: Mapped[dict[str, str] | None] = mapped_column(JSON)

    account: Mapped[SocialAccount] = relationship()
    flagged_by: Mapped[User] = relationship()
    versions: Mapped[list[CapturedVersion]] = relationship(
        back_populates="post", order_by="CapturedVersion.number"
    )


class CapturedVersion(Base):
    """One distinct state of a post, numbered from 1 and never overwritten."""

    __tablename__ = "captured_versions"
    __table_args__ = (UniqueConstraint("post_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("flagged_posts.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16), default=VersionKind.capture)
    captured_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # SHA-256 over canonical JSON of the normalised content plus media hashes: the version key.
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    # SHA-256 of `source_json` (the platform's own responses, canonical JSON).
    source_sha256: Mapped[str] = mapped_column(String(64))
    source_json: Mapped[str | None] = mapped_column(Text)  # None once disposed
    normalized: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # None once disposed
    text: Mapped[str | None] = mapped_column(Text)  # plain text, for search and diffs
    author_handle: Mapped[str | None] = mapped_column(String(512))
    author_name: Mapped[str | None] = mapped_column(String(512))
    platform_created_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    platform_edited_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    platform_version_id: Mapped[str | None] = mapped_column(String(255))  # e.g. Bluesky CID
    replies_captured: Mapped[bool] = mapped_column(Boolean, default=True)
    collector: Mapped[str] = mapped_column(String(32))
    collector_version: Mapped[str] = mapped_column(String(32))
    diff_from_previous: Mapped[str | None] = mapped_column(Text)
    # Provenance: the capture run (a `capture_attempts` row: the poll, or the upload) that
    # made this version. NULL only for versions archived before runs were recorded on them.
    # (The attempt names its version too, so the key is added after both tables exist.)
    capture_run_id: Mapped[int | None] = mapped_column(
        ForeignKey("capture_attempts.id", use_alter=True), index=True
    )

    post: Mapped[FlaggedPost] = relationship(back_populates="versions")
    media: Mapped[list[VersionMedia]] = relationship(
        back_populates="version", order_by="VersionMedia.position"
    )


class VersionMedia(Base):
    """A media file of a version (its own, an avatar, a reply's), stored by SHA-256."""

    __tablename__ = "version_media"
    __table_args__ = (UniqueConstraint("version_id", "position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("captured_versions.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(ForeignKey("stored_objects.sha256"), index=True)
    role: Mapped[str] = mapped_column(String(32), default="attachment")
    source_url: Mapped[str | None] = mapped_column(String(2048))
    alt_text: Mapped[str | None] = mapped_column(Text)

    version: Mapped[CapturedVersion] = relationship(back_populates="media")
