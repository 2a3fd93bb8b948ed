from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.classification.models import Label

REASON_MAX_LENGTH = 4000


class OverrideCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: Label = Field(description="record, secondary_copy or transitory")
    reason: str = Field(
        max_length=REASON_MAX_LENGTH,
        description="Why the automatic decision is wrong; kept in the audit log.",
    )

    @field_validator("reason")
    @classmethod
    def _reason_given(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("a reason is required for an override")
        return value


class OverrideOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    post_id: int
    label: str
    reason: str
    officer_id: int
    created_at: dt.datetime
    revoked_at: dt.datetime | None


class ReviewItem(BaseModel):
    classification_id: int
    post_id: int
    post_url: str
    platform: str
    version_id: int
    version_number: int
    label: str
    rule_id: str
    reasons: list[str]
    confidence: float
    primary_ref: str | None
    review_details: dict[str, Any] | None
    created_at: dt.datetime


class ReviewPage(BaseModel):
    items: list[ReviewItem]
    total: int
    limit: int
    offset: int
