"""The YouTube Data API quota used per day, counted in the database so every worker shares it."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, utcnow


class YouTubeQuotaDay(Base):
    """Quota units spent on one of YouTube's quota days (they reset at midnight Pacific)."""

    __tablename__ = "youtube_quota_days"

    day: Mapped[str] = mapped_column(String(10), primary_key=True)  # "2026-12-01", Pacific
    units: Mapped[int] = mapped_column(Integer, default=0)
    calls: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
