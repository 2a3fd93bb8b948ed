from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app.bounds import DB_INT_MAX, DbId, RecordDate
from app.classification.models import Label
from app.open_records.models import RequestStatus
from app.platforms.registry import PlatformId
from app.retention.schemas import SearchCriteria

SEARCH_QUERY_MAX_LENGTH = 500
SEARCH_PAGE_MAX = 100
SEARCH_OFFSET_MAX = 100_000


class SearchQuery(BaseModel):
    """A full-text search over archived versions, with filters; also a request's saved search.

    `q` takes plain words (all must match), "quoted phrases", OR between two terms, and -word
    or -"phrase" to exclude; words are matched by stem ("closures" finds "closure"), without
    accents, and English stop words ("the", "of") are ignored outside phrases. Dates are whole
    UTC days, both ends included.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    q: str = Field(max_length=SEARCH_QUERY_MAX_LENGTH, examples=['pool closure -"swim team"'])
    employee_id: DbId | None = Field(default=None, description="The accounts' owner (user id).")
    account_id: DbId | None = None
    platform: PlatformId | None = None
    date_from: RecordDate | None = Field(
        default=None, description="Posted on or after (the platform's date, else captured)."
    )
    date_to: RecordDate | None = Field(default=None, description="Posted on or before.")
    label: Label | None = Field(default=None, description="Current classification label.")
    edited: bool | None = Field(default=None, description="The post has more than one version.")
    removed: bool | None = Field(default=None, description="The post is gone from the platform.")
    held: bool | None = Field(default=None, description="The post is under an active hold.")
    limit: int = Field(default=20, ge=1, le=SEARCH_PAGE_MAX)
    offset: int = Field(default=0, ge=0, le=SEARCH_OFFSET_MAX)


class SearchHit(BaseModel):
    """One archived version that matched; `snippet` is HTML with the matches in <mark>."""

    version_id: int
    post_id: int
    version: int
    platform: str
    url: str
    author_handle: str | None
    author_name: str | None
    created_at: dt.datetime
    captured_at: dt.datetime
    snippet: str
    rank: float


class SearchPage(BaseModel):
    total: int
    limit: int
    offset: int
    hits: list[SearchHit]


# --- Requests, responsive sets, redactions, packages -----------------------------------

TEXT_MAX = 10_000


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value.strip()


class RequestCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    requester_name: str | None = Field(
        default=None, max_length=300, description="Leave out for an anonymous requester."
    )
    requester_contact: str | None = Field(default=None, max_length=500)
    requester_committed: bool = Field(
        default=False, description="Committed or incarcerated: 90 business days after a denial."
    )
    received_on: RecordDate
    description: str = Field(min_length=1, max_length=TEXT_MAX)
    saved_searches: list[SearchCriteria] = Field(
        default_factory=list,
        max_length=50,
        description="Posts matching any of these are held at intake, before review.",
    )
    assigned_to_id: DbId | None = None

    _description = field_validator("description")(_not_blank)

    @field_validator("received_on")
    @classmethod
    def _not_in_future(cls, value: dt.date) -> dt.date:
        if value > dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1):
            raise ValueError("a request cannot be received in the future")
        return value


class RequestTransition(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: RequestStatus
    reason: str | None = Field(
        default=None, max_length=TEXT_MAX, description="Required to deny or partly deny."
    )


class RequestUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    assigned_to_id: DbId | None = None


class NoteCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: str = Field(min_length=1, max_length=TEXT_MAX)

    _body = field_validator("body")(_not_blank)


class RequestOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    number: str
    requester_name: str | None
    requester_contact: str | None
    requester_committed: bool
    received_on: RecordDate
    description: str
    saved_searches: list[dict[str, object]]
    status: str
    assigned_to_id: int | None
    created_by_id: int
    created_at: dt.datetime
    acknowledged_at: dt.datetime | None
    decided_at: dt.datetime | None
    decision_reason: str | None
    closed_at: dt.datetime | None
    age_business_days: int = 0
    due_soon: bool = False
    overdue: bool = False
    held_posts: int = 0


class NoteOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    author_id: int
    body: str
    created_at: dt.datetime


class ItemsAdd(BaseModel):
    """Add archived versions: by post ids and/or by a search (every version of each post
    unless `latest_only`)."""

    model_config = ConfigDict(extra="forbid")

    post_ids: list[DbId] = Field(default_factory=list, max_length=10_000)
    search: SearchCriteria | None = None
    latest_only: bool = False

    @model_validator(mode="after")
    def _something(self) -> ItemsAdd:
        if not self.post_ids and self.search is None:
            raise ValueError("give post_ids or a search")
        return self


class ItemRemove(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=TEXT_MAX)

    _reason = field_validator("reason")(_not_blank)


class RedactionCreate(BaseModel):
    """A text span [start, end) of the item's text, or a whole media file, and why."""

    model_config = ConfigDict(extra="forbid")

    kind: str = Field(pattern="^(text|media)$")
    start: int | None = Field(default=None, ge=0, le=DB_INT_MAX)
    end: int | None = Field(default=None, ge=1, le=DB_INT_MAX)
    media_sha256: str | None = Field(default=None, pattern="^[0-9a-f]{64}$")
    exemption: str = Field(min_length=1, max_length=2000, description="The reason, as printed.")

    _exemption = field_validator("exemption")(_not_blank)

    @model_validator(mode="after")
    def _shape(self) -> RedactionCreate:
        if self.kind == "text":
            if self.start is None or self.end is None or self.end <= self.start:
                raise ValueError("a text redaction needs start < end")
        elif not self.media_sha256:
            raise ValueError("a media redaction needs media_sha256")
        return self


class RedactionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    start: int | None
    end: int | None
    media_sha256: str | None
    exemption: str
    created_by_id: int
    created_at: dt.datetime


class ItemOut(BaseModel):
    id: int
    post_id: int
    version_id: int
    version_number: int
    platform: str
    url: str
    captured_at: dt.datetime
    text: str | None
    added_at: dt.datetime
    removed_at: dt.datetime | None
    removed_reason: str | None
    redactions: list[RedactionOut]
    archived_sha256: str | None
    redacted_sha256: str | None


class PackageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    request_id: int
    status: str
    progress: int
    total: int
    sha256: str | None
    error: str | None
    created_at: dt.datetime
    finished_at: dt.datetime | None
