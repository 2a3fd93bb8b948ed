from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, utcnow


class VersionUpload(Base):
    """Where an uploaded version came from: who handed it over, when, what it is, what made
    it (when the file says), and the uploader's own one-line statement."""

    __tablename__ = "version_uploads"

    version_id: Mapped[int] = mapped_column(ForeignKey("captured_versions.id"), primary_key=True)
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    uploaded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(16))  # wacz | pdf | screenshot | original
    sha256: Mapped[str] = mapped_column(ForeignKey("stored_objects.sha256"), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    mime_type: Mapped[str] = mapped_column(String(128))
    filename: Mapped[str | None] = mapped_column(String(255))
    tool: Mapped[str | None] = mapped_column(String(255))  # e.g. "ArchiveWeb.page 0.11.2"
    statement: Mapped[str] = mapped_column(Text)
