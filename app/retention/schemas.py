from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app.bounds import DbId, RecordDate
from app.platforms.registry import PlatformId
from app.retention.models import HoldKind

TEXT_MAX = 4000


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    # A date-time without a zone is taken as UTC, like the posts API's filters.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


class SearchCriteria(BaseModel):
    """A saved search over flagged posts; every given criterion must hold (AND).

    Ranges include their start and exclude their end. `text` matches any version's text,
    ignoring case. Disposed posts (only a stub left) are left out unless include_disposed.
    """

    model_config = ConfigDict(extra="forbid")

    employee_id: DbId | None = Field(
        default=None, description="The user who owns the account (or flagged the post)."
    )
    account_id: DbId | None = None
    platform: PlatformId | None = None
    flagged_from: dt.datetime | None = None
    flagged_to: dt.datetime | None = None
    created_from: dt.datetime | None = Field(
        default=None, description="A version's platform creation time (else its capture)."
    )
    created_to: dt.datetime | None = None
    text: str | None = Field(default=None, min_length=1, max_length=500)
    include_disposed: bool = False

    _aware_dates = field_validator(
        "flagged_from", "flagged_to", "created_from", "created_to", mode="after"
    )(_aware)

    @model_validator(mode="after")
    def _ranges_in_order(self) -> SearchCriteria:
        for start, end in (("flagged_from", "flagged_to"), ("created_from", "created_to")):
            a, b = getattr(self, start), getattr(self, end)
            if a is not None and b is not None and b <= a:
                raise ValueError(f"{end} must be after {start}")
        return self

    @property
    def is_empty(self) -> bool:
        fields = self.model_dump(exclude={"include_disposed"}, exclude_none=True)
        return not fields

    def saved(self) -> dict[str, Any]:
        """The criteria as JSON, for Hold.scope and the audit log."""
        return self.model_dump(mode="json", exclude_none=True)


class HoldCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: HoldKind
    reason: str = Field(min_length=1, max_length=TEXT_MAX)
    authority: str = Field(
        min_length=1,
        max_length=TEXT_MAX,
        description="What requires the hold: the request, case number, audit or order.",
    )
    post_ids: list[DbId] = Field(default_factory=list, max_length=10_000)
    scope: SearchCriteria | None = None
    request_id: DbId | None = None

    @field_validator("reason", "authority")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()


class HoldRelease(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=TEXT_MAX)
    authority: str = Field(min_length=1, max_length=TEXT_MAX)
    court_order_ref: str | None = Field(
        default=None,
        max_length=TEXT_MAX,
        description="Needed when a mandamus notice was recorded on the hold (19.35(5)).",
    )

    @field_validator("reason", "authority")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()


class MandamusNotice(BaseModel):
    model_config = ConfigDict(extra="forbid")

    noticed_at: dt.datetime = Field(description="When notice of the mandamus action arrived.")
    reference: str = Field(min_length=1, max_length=TEXT_MAX, description="Case reference.")

    _aware_noticed = field_validator("noticed_at", mode="after")(_aware)


class HoldOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    reason: str
    authority: str
    request_id: int | None
    scope: dict[str, Any] | None
    placed_by_id: int
    placed_at: dt.datetime
    released_by_id: int | None
    released_at: dt.datetime | None
    release_reason: str | None
    release_authority: str | None
    mandamus_noticed_at: dt.datetime | None
    post_ids: list[int] = []


class HoldPage(BaseModel):
    items: list[HoldOut]
    total: int
    limit: int
    offset: int


class AvRelease(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=TEXT_MAX)


class AssignmentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    post_id: int
    label: str
    schedule_id: str
    schedule_version: str
    series_code: str
    retention: str
    due_on: dt.date | None
    due_reason: str
    whs_notice: str
    disposition: str
    released_by_id: int | None
    released_at: dt.datetime | None
    computed_at: dt.datetime


class SeriesOut(BaseModel):
    schedule_id: str
    schedule_version: str
    schedule_title: str
    example: bool
    code: str
    title: str
    applies_to: str
    default: bool
    chosen_for_label: bool
    retention: str
    trigger_event: str | None
    disposition: str
    whs_notice: str
    authority: list[str]


class BatchApprove(BaseModel):
    model_config = ConfigDict(extra="forbid")

    authority: str = Field(min_length=1, max_length=TEXT_MAX)
    whs_notice_on: RecordDate | None = Field(
        default=None,
        description="The day written notice went to the Wisconsin Historical Society; needed "
        "when the batch holds a series whose whs_notice is required.",
    )


class WhsReply(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reference: str = Field(min_length=1, max_length=TEXT_MAX)


class BatchCancel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=TEXT_MAX)


class ItemOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    post_id: int
    status: str
    skip_reason: str | None
    series_code: str
    due_on: dt.date | None
    stub: dict[str, Any] | None
    destroyed_at: dt.datetime | None


class RequestItemOut(BaseModel):
    """The files of one closed records request in a destruction batch."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    request_id: int
    status: str
    skip_reason: str | None
    series_code: str
    due_on: dt.date | None
    stub: dict[str, Any] | None
    destroyed_at: dt.datetime | None


class BatchOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    status: str
    kind: str = "destruction"
    proposed_at: dt.datetime
    proposed_by_id: int | None = None
    approved_by_id: int | None
    approved_at: dt.datetime | None
    authority: str | None
    whs_notice_on: dt.date | None
    whs_reply_ref: str | None
    started_at: dt.datetime | None
    completed_at: dt.datetime | None
    certificate_sha256: str | None
    error: str | None = None
    package_sha256: str | None = None
    package_size: int | None = None
    receipt_reference: str | None = None
    receipt_received_on: dt.date | None = None
    receipt_received_by: str | None = None
    receipt_notes: str | None = None
    receipt_recorded_by_id: int | None = None
    receipt_recorded_at: dt.datetime | None = None
    item_count: int = 0
    whs_series: list[str] = []
    runnable_on: dt.date | None = None
    blocked_because: str | None = None
    warnings: list[str] = []


class AttemptOut(BaseModel):
    """One try at running a batch."""

    model_config = ConfigDict(from_attributes=True)

    number: int
    actor: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    outcome: str
    error: str | None


class BatchDetail(BatchOut):
    items: list[ItemOut] = []
    request_items: list[RequestItemOut] = []
    attempts: list[AttemptOut] = []


class BatchPage(BaseModel):
    items: list[BatchOut]
    total: int
    limit: int
    offset: int


class RunOut(BaseModel):
    batch_id: int
    status: str
    destroyed: list[int]
    skipped: dict[int, str]
    certificate_sha256: str | None
    error: str | None = None
    kind: str = "destruction"
    exported: list[int] = []
    package_sha256: str | None = None
    request_files_destroyed: list[int] = []


class TransferReceipt(BaseModel):
    """The state archives' confirmation that they received a transfer package."""

    model_config = ConfigDict(extra="forbid")

    reference: str = Field(
        min_length=1, max_length=TEXT_MAX, description="The archives' receipt or accession number."
    )
    received_on: RecordDate = Field(description="The day the archives received the package.")
    received_by: str = Field(
        min_length=1, max_length=TEXT_MAX, description="Who at the archives confirmed it."
    )
    package_sha256: str = Field(
        pattern="^[0-9a-f]{64}$",
        description="The SHA-256 of the package as the archives received it: it must be the "
        "package's own, so a damaged or different file is never confirmed.",
    )
    notes: str | None = Field(default=None, max_length=TEXT_MAX)

    @field_validator("reference", "received_by")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()


class ReviewDecide(BaseModel):
    """A records officer's decision on a post of a `review` series."""

    model_config = ConfigDict(extra="forbid")

    outcome: Literal["retain", "destroy"]
    reason: str = Field(min_length=1, max_length=TEXT_MAX)
    retain_until: RecordDate | None = Field(
        default=None, description="With retain: the day it comes back for review."
    )


class ReviewLineOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    post_id: int
    series_code: str
    schedule_id: str
    schedule_version: str
    due_on: dt.date
    due_reason: str
    state: str
    held_by: list[str]
    decision: str | None
    decision_reason: str | None
    retain_until: dt.date | None
    decided_by_id: int | None
    decided_at: dt.datetime | None
    in_batch: int | None


class ReviewDecisionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    post_id: int
    assignment_id: int
    outcome: str
    reason: str
    retain_until: dt.date | None
    decided_by_id: int
    decided_at: dt.datetime
