from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from app.bounds import DB_INT_MAX, EARLIEST_DATE, LATEST_DATE, DbId, RecordDate
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


def _received(value: Any) -> Any:
    """A day ("2026-11-20") stays a date; anything longer is read as a time, which must carry
    its UTC offset ("2026-11-20T14:05:00-06:00" or "...Z")."""
    if isinstance(value, str):
        text = value.strip()
        try:
            parsed: dt.date = (
                dt.date.fromisoformat(text) if len(text) == 10 else dt.datetime.fromisoformat(text)
            )
        except ValueError:
            raise ValueError(
                "give the time as 2026-11-20T14:05:00-06:00, or the day alone as 2026-11-20"
            ) from None
        value = parsed
    if isinstance(value, dt.datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(
                "the time needs its UTC offset (2026-11-20T14:05:00-06:00 or ...Z), "
                "or give the day alone"
            )
        day = value.date()
    elif isinstance(value, dt.date):
        day = value
    else:
        raise ValueError("give a time (2026-11-20T14:05:00-06:00) or a day (2026-11-20)")
    if not EARLIEST_DATE <= day <= LATEST_DATE:
        raise ValueError(f"give a year between {EARLIEST_DATE.year} and {LATEST_DATE.year}")
    if day > dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1):
        raise ValueError("a request cannot be received in the future")
    return value


ReceivedAt = Annotated[
    dt.datetime | dt.date,
    BeforeValidator(_received),
    Field(
        description="When the request arrived: a time with its UTC offset "
        "(2026-11-20T14:05:00-06:00), or the day alone (2026-11-20: the start of that day in "
        "the city's time zone, the hour marked unknown). Business days count from its local day.",
        examples=["2026-11-20T14:05:00-06:00", "2026-11-20"],
    ),
]
NOTHING_HELD_SENTENCE = (
    "no saved search was given, so no post is held for this request yet (Wis. Stat. 19.35(5)); "
    'add a saved search (saved_searches: [{"text": "pool closure"}]) to hold what it matches '
    "now, or set confirm_nothing_held to true to log the request without holds and add posts "
    "later with POST /api/v1/requests/{id}/items, which holds them as they are added"
)


class RequestCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    requester_name: str | None = Field(
        default=None, max_length=300, description="Leave out for an anonymous requester."
    )
    requester_contact: str | None = Field(default=None, max_length=500)
    requester_committed: bool = Field(
        default=False, description="Committed or incarcerated: 90 business days after a denial."
    )
    received_at: ReceivedAt | None = None
    received_on: RecordDate | None = Field(
        default=None,
        description="Deprecated: the day alone; give received_at (a day is accepted there too).",
    )
    description: str = Field(min_length=1, max_length=TEXT_MAX)
    saved_searches: list[SearchCriteria] = Field(
        default_factory=list,
        max_length=50,
        description="Posts matching any of these are held at intake, before review.",
    )
    confirm_nothing_held: bool = Field(
        default=False,
        description="Required (true) when no saved search is given: the officer confirms that "
        "no post is held for the request yet; posts added to its set later are held then.",
    )
    assigned_to_id: DbId | None = None

    _description = field_validator("description")(_not_blank)

    @field_validator("received_on")
    @classmethod
    def _not_in_future(cls, value: dt.date | None) -> dt.date | None:
        if value is not None and value > dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1):
            raise ValueError("a request cannot be received in the future")
        return value

    @model_validator(mode="after")
    def _when_and_holds(self) -> RequestCreate:
        if self.received_at is None and self.received_on is None:
            raise ValueError("received_at is required: when the request arrived")
        if self.received_at is not None and self.received_on is not None:
            raise ValueError("give received_at only (received_on is its deprecated name)")
        if not self.saved_searches and not self.confirm_nothing_held:
            raise PydanticCustomError("nothing_held", NOTHING_HELD_SENTENCE)
        return self

    @property
    def received(self) -> dt.datetime | dt.date:
        value = self.received_at if self.received_at is not None else self.received_on
        assert value is not None  # the validator above
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
    received_at: dt.datetime
    received_time_known: bool = Field(
        description="False when the request was logged by its day only (received_at is then "
        "the start of that local day)."
    )
    received_on: RecordDate = Field(description="The local day it arrived.")
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


class LetterOut(BaseModel):
    """A letter to the requester (PDF/A), downloadable at `download`."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    sha256: str
    created_at: dt.datetime
    download: str = ""


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


class Box(BaseModel):
    """A rectangle of an image, in the original image's pixels (x, y: its top-left corner)."""

    model_config = ConfigDict(extra="forbid")

    x: int = Field(ge=0, le=1_000_000)
    y: int = Field(ge=0, le=1_000_000)
    width: int = Field(ge=1, le=1_000_000)
    height: int = Field(ge=1, le=1_000_000)


class RedactionCreate(BaseModel):
    """What to separate from the released copy (Wis. Stat. 19.36(6)), and why:

    - `text`: the span [start, end) of one text field of the item, `field` naming it (leave it
      out for the post's own text; see `GET …/items/{item_id}/fields` for every field: replies,
      author names and handles, alt text, link cards, web-capture text). The span's text is
      taken out wherever it occurs in the copy.
    - `media`: a media file (`media_sha256`) withheld whole.
    - `region`: a rectangle (`box`) of an image (`media_sha256`) blacked out: its pixels are
      replaced and the image re-encoded without its metadata.
    """

    model_config = ConfigDict(extra="forbid")

    kind: str = Field(pattern="^(text|media|region)$")
    field: str | None = Field(default=None, min_length=1, max_length=300)
    start: int | None = Field(default=None, ge=0, le=DB_INT_MAX)
    end: int | None = Field(default=None, ge=1, le=DB_INT_MAX)
    media_sha256: str | None = Field(default=None, pattern="^[0-9a-f]{64}$")
    box: Box | None = None
    exemption: str = Field(min_length=1, max_length=2000, description="The reason, as printed.")

    _exemption = field_validator("exemption")(_not_blank)

    @model_validator(mode="after")
    def _shape(self) -> RedactionCreate:
        if self.kind == "text":
            if self.start is None or self.end is None or self.end <= self.start:
                raise ValueError("a text redaction needs start < end")
            if self.media_sha256 or self.box:
                raise ValueError("a text redaction takes field, start and end, not a file")
        else:
            if not self.media_sha256:
                raise ValueError(f"a {self.kind} redaction needs media_sha256")
            if self.kind == "region" and self.box is None:
                raise ValueError("a region redaction needs box: x, y, width and height in pixels")
            if self.kind == "media" and self.box is not None:
                raise ValueError("a media redaction withholds the whole file: leave out box")
            if self.field or self.start is not None or self.end is not None:
                raise ValueError(f"a {self.kind} redaction takes a file, not field or a span")
        return self


class RedactionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    field: str | None
    start: int | None
    end: int | None
    media_sha256: str | None
    box: dict[str, int] | None
    exemption: str
    created_by_id: int
    created_at: dt.datetime


class ItemField(BaseModel):
    """One text field of an item a text redaction can name."""

    field: str
    text: str


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
