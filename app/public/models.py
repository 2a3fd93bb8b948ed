"""Tables of the public portal: how a portal request is tracked (the hashed token), the
per-address attempts that limit abuse, the officer's messages to the requester, the fee
estimate (Wis. Stat. 19.35(3)) and the items an officer keeps out of the reading room."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, utcnow


class PortalRequest(Base):
    """A request that came in through the portal (a request without a row was logged by an
    officer). Only the SHA-256 of the tracking token is kept: the token is shown once."""

    __tablename__ = "portal_requests"

    request_id: Mapped[int] = mapped_column(ForeignKey("records_requests.id"), primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    address_key: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class AttemptKind(enum.StrEnum):
    request = "request"  # a request filed (or refused by the honeypot)
    track = "track"  # a tracking form sent, or a tracking link that matched nothing
    search = "search"  # a reading-room search


class PortalAttempt(Base):
    """One counted use of a portal form from one address (kept as a keyed hash, never the
    address itself). In the database, so every process counts the same."""

    __tablename__ = "portal_attempts"
    __table_args__ = (Index("ix_portal_attempts_kind_key_at", "kind", "address_key", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    address_key: Mapped[str] = mapped_column(String(64))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class PortalMessage(Base):
    """A message from a records officer to the requester, shown on the tracking page (and
    emailed when the requester gave an email address and SMTP is set)."""

    __tablename__ = "portal_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("records_requests.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    emailed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    email_error: Mapped[str | None] = mapped_column(Text)


class FeeStatus(enum.StrEnum):
    """no_prepayment: at or under the threshold, release is not held; awaiting_payment: over
    it, release waits until the officer marks it paid or waived."""

    no_prepayment = "no_prepayment"
    awaiting_payment = "awaiting_payment"
    paid = "paid"
    waived = "waived"


class FeeEstimate(Base):
    """The fee estimate of one request (one current estimate; every change is audited)."""

    __tablename__ = "fee_estimates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("records_requests.id"), unique=True)
    pages: Mapped[int] = mapped_column(Integer, default=0)
    files: Mapped[int] = mapped_column(Integer, default=0)
    location_minutes: Mapped[int] = mapped_column(Integer, default=0)
    mailed: Mapped[bool] = mapped_column(Boolean, default=False)
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    total_cents: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(20))  # a FeeStatus
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    settled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    settled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class ReadingRoomWithholding(Base):
    """A released item the officer keeps out of the public reading room (default: published)."""

    __tablename__ = "reading_room_withholdings"

    item_id: Mapped[int] = mapped_column(ForeignKey("request_items.id"), primary_key=True)
    withheld_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    withheld_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
