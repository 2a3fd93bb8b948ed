from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, utcnow


class StoredObject(Base):
    """An object in the archive store, content-addressed by its SHA-256.

    The row says what should exist, so a fixity check can tell a missing object from one that
    was never there; `destroyed_at` is set only by an approved disposition.
    """

    __tablename__ = "stored_objects"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    mime_type: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(32))  # media | snapshot | certificate | package ...
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    destroyed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class FixityCheck(Base):
    __tablename__ = "fixity_checks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(ForeignKey("stored_objects.sha256"), index=True)
    checked_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    ok: Mapped[bool] = mapped_column(Boolean)
    problem: Mapped[str | None] = mapped_column(String(32))  # missing | mismatch | unreadable
    actual_sha256: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(Text)
