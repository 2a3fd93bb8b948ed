"""The reading room: every item released in a granted request, and nothing else.

An item is in the room only when all of these hold: its request was granted in whole or in
part; a package was made after that decision and no fee awaits prepayment (the requester can
download it); the item was in the set when that package was made and is still in it; the
officer did not withhold it from the room; and its released file exists (the redacted copy
when anything of it is redacted, else its archived snapshot). Searching reads the released
(redacted) text only, so a redacted word finds nothing.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.service import Actor, record
from app.auth.models import User
from app.errors import Conflict, NotFound
from app.open_records.models import RecordsRequest, Redaction, RequestItem, RequestStatus
from app.open_records.redaction import (
    archived_snapshot_sha256,
    marker,
    post_of,
    redact_text,
    secrets_of,
)
from app.open_records.requests import get_item, redactions_of
from app.open_records.separation import POST_TEXT
from app.platforms.registry import registry
from app.posts.models import CapturedVersion
from app.public import service
from app.public.fees import estimate_of
from app.public.models import ReadingRoomWithholding
from app.storage.base import ArchiveStore
from app.storage.models import StoredObject

PAGE_SIZE = 20
QUERY_MAX = 200


@dataclass(frozen=True)
class Entry:
    item_id: int
    request_id: int
    request_number: str
    released_on: dt.date
    platform: str
    posted_at: dt.datetime
    text: str
    redacted: bool
    reasons: tuple[str, ...]
    sha256: str


def released_text(version: CapturedVersion, redactions: Sequence[Redaction]) -> str:
    """The item's text as released: its own redacted spans replaced by their reasons, then
    every string redacted in any field of the item (a reply, a name, alt text) taken out
    wherever it occurs in the text too, whatever its case."""
    text = version.text or ""
    own = [r for r in redactions if r.field in (None, POST_TEXT)]
    secrets = [secret for secret, _ in secrets_of(post_of(version), text, redactions)]
    out = redact_text(text, own)
    for secret in sorted(set(secrets), key=len, reverse=True):
        out = re.sub(re.escape(secret), marker("redacted"), out, flags=re.IGNORECASE)
    return out


def _released_on(session: Session, request: RecordsRequest) -> tuple[dt.datetime, dt.date] | None:
    """When the request's package was made available, and the package's cut-off time."""
    package = service.released_package(session, request)
    if package is None or not service.was_granted(session, request):
        return None
    moments = [package.finished_at or package.created_at]
    if request.decided_at is not None:
        moments.append(request.decided_at)
    estimate = estimate_of(session, request.id)
    if estimate is not None and estimate.settled_at is not None:
        moments.append(estimate.settled_at)
    return package.created_at, max(moments).astimezone(dt.UTC).date()


def _entries_of(session: Session, request: RecordsRequest) -> list[Entry]:
    released = _released_on(session, request)
    if released is None:
        return []
    cutoff, released_on = released
    withheld = set(
        session.scalars(
            select(ReadingRoomWithholding.item_id)
            .join(RequestItem, RequestItem.id == ReadingRoomWithholding.item_id)
            .where(RequestItem.request_id == request.id)
        )
    )
    entries: list[Entry] = []
    items = session.scalars(
        select(RequestItem)
        .where(RequestItem.request_id == request.id, RequestItem.removed_at.is_(None))
        .order_by(RequestItem.id)
    )
    for item in items:
        if item.id in withheld or item.added_at > cutoff:
            continue
        version = session.get(CapturedVersion, item.version_id)
        if version is None or version.text is None and version.source_json is None:
            continue  # disposed: only a stub remains
        redactions = redactions_of(session, item.id)
        if redactions:
            sha = item.redacted_sha256
        else:
            sha = archived_snapshot_sha256(session, version.id)
        if sha is None:
            continue  # no released file (a redaction made after the package, not yet copied)
        stored = session.get(StoredObject, sha)
        if stored is not None and stored.destroyed_at is not None:
            continue  # destroyed at the end of the request files' series: no released file

        entries.append(
            Entry(
                item_id=item.id,
                request_id=request.id,
                request_number=request.number,
                released_on=released_on,
                platform=version.post.platform,
                posted_at=version.platform_created_at or version.captured_at,
                text=released_text(version, redactions),
                redacted=bool(redactions),
                reasons=tuple(sorted({r.exemption for r in redactions})),
                sha256=sha,
            )
        )
    return entries


def _granted_requests(session: Session) -> list[RecordsRequest]:
    statuses = [*service.GRANTED, RequestStatus.closed.value]
    return list(
        session.scalars(
            select(RecordsRequest)
            .where(RecordsRequest.status.in_(statuses), RecordsRequest.decided_at.is_not(None))
            .order_by(RecordsRequest.id.desc())
        )
    )


@dataclass(frozen=True)
class Query:
    words: tuple[str, ...] = ()
    platform: str | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None

    @property
    def is_empty(self) -> bool:
        return not (self.words or self.platform or self.date_from or self.date_to)

    def matches(self, entry: Entry) -> bool:
        if self.platform and entry.platform != self.platform:
            return False
        posted = entry.posted_at.astimezone(dt.UTC).date()
        if self.date_from and posted < self.date_from:
            return False
        if self.date_to and posted > self.date_to:
            return False
        text = entry.text.casefold()
        return all(word in text for word in self.words)


def read_query(q: str, platform: str, date_from: str, date_to: str) -> tuple[Query, dict[str, str]]:
    errors: dict[str, str] = {}
    if len(q) > QUERY_MAX:
        errors["q"] = f"Search for at most {QUERY_MAX} characters."
    words = tuple(w.casefold() for w in q.split())[:20]
    dates: list[dt.date | None] = []
    for field, raw in (("date_from", date_from), ("date_to", date_to)):
        value = None
        if raw.strip():
            try:
                value = dt.date.fromisoformat(raw.strip())
            except ValueError:
                errors[field] = "Give the date as year-month-day, for example 2026-11-20."
        dates.append(value)
    chosen = platform.strip() or None
    if chosen and chosen not in registry:
        errors["platform"] = "Choose a platform from the list."
    if errors:
        return Query(), errors
    return Query(words, chosen, dates[0], dates[1]), {}


def search(session: Session, query: Query, *, page: int = 1) -> tuple[list[Entry], int]:
    """Released entries matching the query, newest release first; (page, total)."""
    found = [
        entry
        for request in _granted_requests(session)
        for entry in _entries_of(session, request)
        if query.matches(entry)
    ]
    found.sort(key=lambda e: (e.released_on, e.item_id), reverse=True)
    start = (page - 1) * PAGE_SIZE
    return found[start : start + PAGE_SIZE], len(found)


def entry(session: Session, item_id: int) -> Entry:
    """One released entry; anything else (unreleased, withheld, unknown) is not found."""
    item = session.get(RequestItem, item_id)
    if item is not None:
        request = session.get(RecordsRequest, item.request_id)
        if request is not None:
            for candidate in _entries_of(session, request):
                if candidate.item_id == item_id:
                    return candidate
    raise NotFound(f"there is no released item {item_id} in the reading room")


def read_pdf(session: Session, *, store: ArchiveStore, item_id: int) -> tuple[Entry, bytes]:
    found = entry(session, item_id)
    data = store.get(found.sha256)  # verified against its hash on read
    record(
        session,
        actor=service.PORTAL_ACTOR,
        action="reading_room.item_downloaded",
        object_type="records_request",
        object_id=found.request_id,
        details={"item_id": item_id, "sha256": found.sha256},
    )
    return found, data


# --- the officer's choice per item ------------------------------------------------------------


def is_withheld(session: Session, item_id: int) -> bool:
    return session.get(ReadingRoomWithholding, item_id) is not None


def set_published(
    session: Session, *, officer: User, request_id: int, item_id: int, published: bool
) -> None:
    """Publish (the default) or withhold one item of a request from the reading room."""
    item = get_item(session, request_id=request_id, item_id=item_id)
    row = session.get(ReadingRoomWithholding, item.id)
    if published == (row is None):
        state = "published in" if published else "withheld from"
        raise Conflict(f"item {item.id} is already {state} the reading room")
    if published:
        assert row is not None
        session.delete(row)
    else:
        session.add(ReadingRoomWithholding(item_id=item.id, withheld_by_id=officer.id))
    session.flush()
    record(
        session,
        actor=Actor.of(officer),
        action="reading_room.published" if published else "reading_room.withheld",
        object_type="records_request",
        object_id=request_id,
        details={"item_id": item.id, "version_id": item.version_id},
    )
