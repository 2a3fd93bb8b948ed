from __future__ import annotations

import datetime as dt
import enum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, utcnow


class RequestStatus(enum.StrEnum):
    received = "received"
    acknowledged = "acknowledged"
    in_progress = "in_progress"
    granted = "granted"
    partly_denied = "partly_denied"
    denied = "denied"
    closed = "closed"


class PackageStatus(enum.StrEnum):
    """A response package: queued → running → done, or failed (a new package is queued)."""

    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"


class RedactionKind(enum.StrEnum):
    text = "text"  # a span of one text field, replaced everywhere it occurs
    media = "media"  # a media file withheld whole
    region = "region"  # a rectangle of an image blacked out (the pixels replaced)


class RecordsRequest(Base):
    __tablename__ = "records_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    requester_name: Mapped[str | None] = mapped_column(String(300))  # may be anonymous
    requester_contact: Mapped[str | None] = mapped_column(String(500))
    requester_committed: Mapped[bool] = mapped_column(Boolean, default=False)
    # When the request arrived (19.35(4)(a): "as soon as practicable" runs from here). A
    # request logged with only its day is stored at the start of that day in the city's time
    # zone, with `received_time_known` false, so its local day (what business days count
    # from) is exact and no hour is invented.
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    received_time_known: Mapped[bool] = mapped_column(Boolean, default=True)
    description: Mapped[str] = mapped_column(Text)
    saved_searches: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), default=RequestStatus.received)
    assigned_to_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    decision_reason: Mapped[str | None] = mapped_column(Text)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    @property
    def received_on(self) -> dt.date:
        """The local day the request arrived (POSTVAULT_RETENTION_TIMEZONE)."""
        return received_day(self.received_at)

    @received_on.setter
    def received_on(self, day: dt.date) -> None:
        """Log the request by its day only: the start of that local day, time not known."""
        self.received_at = start_of_day(day)
        self.received_time_known = False


def _zone() -> ZoneInfo:
    from app.config import get_settings

    return ZoneInfo(get_settings().retention_timezone)


def start_of_day(day: dt.date, timezone: str | None = None) -> dt.datetime:
    """Midnight at the start of `day` in the city's time zone, as a UTC datetime."""
    zone = ZoneInfo(timezone) if timezone else _zone()
    return dt.datetime.combine(day, dt.time(0), tzinfo=zone).astimezone(dt.UTC)


def received_day(value: dt.datetime, timezone: str | None = None) -> dt.date:
    """The city's local day of a moment."""
    zone = ZoneInfo(timezone) if timezone else _zone()
    return value.astimezone(zone).date()


class LetterKind(enum.StrEnum):
    """Letters to the requester, made and kept as PDF/A: the acknowledgment at intake and,
    after a denial in whole or in part, the written denial of 19.35(4)(b)."""

    acknowledgment = "acknowledgment"
    denial = "denial"


class RequestLetter(Base):
    """A letter made for a request (PDF/A-3b in the archive store); one of each kind."""

    __tablename__ = "request_letters"
    __table_args__ = (UniqueConstraint("request_id", "kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("records_requests.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # a LetterKind
    sha256: Mapped[str] = mapped_column(ForeignKey("stored_objects.sha256"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class RequestNote(Base):
    __tablename__ = "request_notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("records_requests.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class RequestItem(Base):
    """One archived version in a request's responsive set."""

    __tablename__ = "request_items"
    __table_args__ = (UniqueConstraint("request_id", "version_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("records_requests.id"), index=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("captured_versions.id"), index=True)
    added_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    added_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    removed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    removed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    removed_reason: Mapped[str | None] = mapped_column(Text)
    redacted_sha256: Mapped[str | None] = mapped_column(ForeignKey("stored_objects.sha256"))


class Redaction(Base):
    __tablename__ = "redactions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("request_items.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # a RedactionKind
    # text: which field of the item ("text" or None: the post's text; "replies.<id>.text",
    # "author.handle", "media.<n>.alt_text", ... see redaction.text_fields) and the span
    # [start, end) of that field's value.
    field: Mapped[str | None] = mapped_column(String(300))
    start: Mapped[int | None] = mapped_column(Integer)
    end: Mapped[int | None] = mapped_column(Integer)
    # media: the file withheld whole; region: the image whose pixels in `box` are blacked out.
    media_sha256: Mapped[str | None] = mapped_column(String(64))
    # region: x, y, width, height in the upright picture's pixels
    box: Mapped[dict[str, int] | None] = mapped_column(JSON)
    exemption: Mapped[str] = mapped_column(Text)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ResponsePackage(Base):
    __tablename__ = "response_packages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("records_requests.id"), index=True)
    status: Mapped[str] = mapped_column(String(16))  # a PackageStatus
    progress: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)
    sha256: Mapped[str | None] = mapped_column(ForeignKey("stored_objects.sha256"))
    error: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # The process making it renews the lease (app/leases.py); one that died lets it run out
    # and the recovery job resumes the package. `attempts` counts the runs started.
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
