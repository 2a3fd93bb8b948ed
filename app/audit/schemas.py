from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict


class AuditEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    occurred_at: dt.datetime
    actor_id: int | None
    actor: str
    action: str
    object_type: str
    object_id: str
    details: dict[str, Any]
    prev_hash: str
    hash: str


class AuditPage(BaseModel):
    items: list[AuditEventOut]
    total: int
    limit: int
    offset: int


class ChainReportOut(BaseModel):
    ok: bool
    events_checked: int
    first_broken_event_id: int | None
    problem: str | None
    # The chain checked against its anchors outside the database (app/anchors): how many,
    # and the one that no longer matches.
    anchors_checked: int = 0
    anchor_id: int | None = None
