"""RFC 3161 timestamp tokens of stored objects (snapshots, web-archive captures, ...)."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, utcnow


class TimestampStatus(enum.StrEnum):
    pending = "pending"  # asked for (or to be asked for); the TSA has not given a valid token
    stamped = "stamped"  # a verified token is stored


class TimestampToken(Base):
    """One object's trusted timestamp: the TSA's TimeStampResp over the object's SHA-256,
    stored in the archive store beside the object (`token_sha256`)."""

    __tablename__ = "timestamp_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    object_sha256: Mapped[str] = mapped_column(
        ForeignKey("stored_objects.sha256"), unique=True, index=True
    )
    object_kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[TimestampStatus] = mapped_column(String(16), default=TimestampStatus.pending)
    tsa_url: Mapped[str] = mapped_column(String(2048))
    token_sha256: Mapped[str | None] = mapped_column(ForeignKey("stored_objects.sha256"))
    gen_time: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    serial_number: Mapped[str | None] = mapped_column(String(64))
    policy: Mapped[str | None] = mapped_column(String(128))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(1000))
    requested_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    stamped_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
