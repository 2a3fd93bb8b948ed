from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, utcnow


class CaptureAttempt(Base):
    """One poll of one post. (post, poll_slot) is unique, so a poll is written once even
    when two workers race or a killed worker's claim is taken over."""

    __tablename__ = "capture_attempts"
    __table_args__ = (UniqueConstraint("post_id", "poll_slot"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("flagged_posts.id"), index=True)
    poll_slot: Mapped[str] = mapped_column(String(64))
    worker: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str | None] = mapped_column(String(32))
    version_id: Mapped[int | None] = mapped_column(ForeignKey("captured_versions.id"))
    http_requests: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
