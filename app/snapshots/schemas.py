"""What a snapshot shows (the renderer's input) and what the snapshot API answers."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from app.platforms.collected import CollectedPost


class MediaFile(BaseModel):
    """An original media file of the version, byte-for-byte as the archive holds it."""

    sha256: str
    mime_type: str
    data: bytes
    role: str = "image"
    alt_text: str | None = None
    source_url: str | None = None
    # Whose file it is: "post", "reply:<reply id>", "quote", "repost", "link_card", "avatar".
    owner: str = "post"


class FileReference(BaseModel):
    """A file of the version named in the snapshot by its hash only (a WACZ over
    POSTVAULT_WEB_WACZ_EMBED_MAX_BYTES, audio or video over POSTVAULT_AUDIO_EMBED_MAX_BYTES):
    the archive keeps it beside the PDF."""

    sha256: str
    mime_type: str
    size: int
    role: str
    source_url: str | None = None


class ClassificationInfo(BaseModel):
    label: str
    rule_id: str
    reasons: list[str] = Field(default_factory=list)
    source: str = "rules"  # rules | override


class RetentionInfo(BaseModel):
    series_code: str
    schedule_id: str | None = None
    retention: str | None = None
    due_on: dt.date | None = None
    due_reason: str | None = None


class SnapshotView(BaseModel):
    """Everything one snapshot page shows and embeds; plain data, so it crosses processes."""

    model_config = ConfigDict(frozen=True)

    post: CollectedPost
    platform: str
    post_url: str
    post_id: str  # the platform's id for the post (external id)
    version_number: int
    version_count: int
    version_kind: str = "capture"  # capture | history | removal
    notice: str | None = None  # e.g. why a removal version shows the last content seen
    captured_at: dt.datetime
    diff_from_previous: str | None = None
    collector: str
    collector_version: str
    classification: ClassificationInfo | None = None
    retention: RetentionInfo | None = None
    source_json: bytes
    source_sha256: str
    media: list[MediaFile] = Field(default_factory=list)
    referenced_files: list[FileReference] = Field(default_factory=list)


class SnapshotOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    version_id: int
    sha256: str
    size: int
    renderer_version: str
    is_current: bool
    created_at: dt.datetime
