"""What fixity checks report: per object, per run, and the overview of the latest checks."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field


class FixityProblem(BaseModel):
    sha256: str
    kind: str | None = None  # what the object is (media, snapshot, ...)
    problem: str  # missing | mismatch | unreadable
    actual_sha256: str | None = None
    detail: str | None = None


class FixityReport(BaseModel):
    checked: int = 0
    ok: int = 0
    problems: list[FixityProblem] = Field(default_factory=list)

    @property
    def missing(self) -> list[FixityProblem]:
        return [p for p in self.problems if p.problem == "missing"]

    @property
    def mismatched(self) -> list[FixityProblem]:
        return [p for p in self.problems if p.problem == "mismatch"]


class FixityCheckOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    sha256: str
    checked_at: dt.datetime
    ok: bool
    problem: str | None
    actual_sha256: str | None
    detail: str | None
    kind: str | None = None


class FixitySummary(BaseModel):
    objects: int  # stored objects not destroyed
    checked: int  # of those, checked at least once
    never_checked: int
    ok: int  # latest check passed
    failing: int  # latest check failed
    last_checked_at: dt.datetime | None


class FixityOverview(BaseModel):
    summary: FixitySummary
    items: list[FixityCheckOut]  # latest check of each object, failures first
    total: int
    limit: int
    offset: int
