from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from app.accounts.models import Platform
from app.classification.models import Label

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
    employee_id: int | None = Field(default=None, description="The accounts' owner (user id).")
    account_id: int | None = None
    platform: Platform | None = None
    date_from: dt.date | None = Field(
        default=None, description="Posted on or after (the platform's date, else captured)."
    )
    date_to: dt.date | None = Field(default=None, description="Posted on or before.")
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
