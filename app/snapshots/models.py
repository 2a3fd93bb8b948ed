from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, utcnow


class Snapshot(Base):
    """A PDF/A-3b rendering of one captured version; re-renders add rows, never replace."""

    __tablename__ = "snapshots"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("captured_versions.id"), index=True)
    sha256: Mapped[str] = mapped_column(ForeignKey("stored_objects.sha256"), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    renderer_version: Mapped[str] = mapped_column(String(32))
    is_current: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Characters no installed font could draw ("U+1F68D"), as the PDF's XMP lists them;
    # None for snapshots made before PostVault checked.
    missing_glyph_count: Mapped[int | None] = mapped_column(Integer, nullable=True)
    missing_glyphs: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
