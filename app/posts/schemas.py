from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from app.bounds import DbId, VisibleUrl

NOTE_MAX_LENGTH = 2000


class PostCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: VisibleUrl = Field(
        min_length=1,
        max_length=2048,
        examples=["https://bsky.app/profile/alice.bsky.social/post/3l6oveex3ii2l"],
    )
    note: str | None = Field(default=None, max_length=NOTE_MAX_LENGTH)
    account_id: DbId | None = Field(
        default=None, description="Which of your accounts, when the URL alone cannot say (YouTube)."
    )


class VersionSummary(BaseModel):
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
    replies_captured: bool
    diff_from_previous: str | None
    capture_run_id: int | None = None


class ClassificationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    version_number: int | None = None
    label: str
    rule_id: str
    reasons: list[str]
    primary_ref: str | None
    source: str
    needs_review: bool
    classifier_version: str
    config_hash: str
    created_at: dt.datetime


class RetentionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    series_code: str
    schedule_id: str
    schedule_version: str
    label: str
    retention: str
    due_on: dt.date | None
    due_reason: str
    disposition: str
    computed_at: dt.datetime


class HoldSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    reason: str
    authority: str
    request_id: int | None
    placed_at: dt.datetime
    released_at: dt.datetime | None


class PostOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    url: str
    platform: str
    external_id: str
    account_id: int
    flagged_by_id: int
    flagged_at: dt.datetime
    note: str | None
    status: str
    first_captured_at: dt.datetime | None
    last_captured_at: dt.datetime | None
    last_seen_at: dt.datetime | None
    removed_at: dt.datetime | None
    next_poll_at: dt.datetime | None
    failure_count: int
    last_error: str | None


class PostDetail(PostOut):
    versions: list[VersionSummary] = []
    classification: ClassificationOut | None = None
    retention: RetentionOut | None = None
    holds: list[HoldSummary] = []


class PostPage(BaseModel):
    items: list[PostOut]
    total: int
    limit: int
    offset: int
