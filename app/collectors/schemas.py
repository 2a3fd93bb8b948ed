from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict


class MediaOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    position: int
    sha256: str
    role: str
    source_url: str | None
    alt_text: str | None


class VersionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    number: int
    kind: str
    captured_at: dt.datetime
    content_hash: str
    source_sha256: str
    platform_created_at: dt.datetime | None
    platform_edited_at: dt.datetime | None
    platform_version_id: str | None
    text: str | None
    author_handle: str | None
    replies_captured: bool
    collector: str
    collector_version: str
    # The capture run that made the version (poll or upload); null for older versions.
    capture_run_id: int | None
    diff_from_previous: str | None
    media: list[MediaOut]


class CaptureOut(BaseModel):
    post_id: int
    outcome: str
    versions_added: list[int]
    detail: str | None
    http_requests: int
