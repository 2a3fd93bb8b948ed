"""Email notices: what was (or will be) sent to whom, and how each person wants them."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, utcnow


class NoticeKind(enum.StrEnum):
    capture_failing = "capture_failing"  # a post's capture has failed for a day
    reconnect_needed = "reconnect_needed"  # the grant that captured it expired or was revoked
    post_removed = "post_removed"  # the post was removed from its platform
    request_due_soon = "request_due_soon"
    request_overdue = "request_overdue"
    disposition_waiting = "disposition_waiting"  # a proposed batch waits for approval
    whs_reply_due = "whs_reply_due"  # the 60 days after the WHS notice have passed
    fixity_failed = "fixity_failed"
    approval_expiring = "approval_expiring"  # a schedule's approval lapses within 12 months
    approval_expired = "approval_expired"  # it lapsed: disposition of its series is blocked


class NoticeStatus(enum.StrEnum):
    pending = "pending"
    sent = "sent"
    failed = "failed"  # gave up after the last retry


class Delivery(enum.StrEnum):
    immediate = "immediate"
    daily_digest = "daily_digest"


class Notice(Base):
    """One notice for one person. (recipient, kind, subject_key) is unique, so a condition
    found again by the next scan is not noticed twice."""

    __tablename__ = "notices"
    __table_args__ = (UniqueConstraint("recipient_id", "kind", "subject_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    subject_key: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=NoticeStatus.pending, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)


class NoticePreference(Base):
    __tablename__ = "notice_preferences"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    delivery: Mapped[str] = mapped_column(String(16), default=Delivery.immediate)
    last_digest_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
