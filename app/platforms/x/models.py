"""The X API's monthly read budget, counted in the database so every worker shares it."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, utcnow


class XReadMonth(Base):
    """Reads of one calendar month (UTC). `reads_used` includes the worst case of polls in
    flight, settled to what they really read when they finish, so concurrent workers can
    never together pass the budget."""

    __tablename__ = "x_read_months"

    month: Mapped[str] = mapped_column(String(7), primary_key=True)  # "2026-12"
    reads_used: Mapped[int] = mapped_column(Integer, default=0)
    first_capture_reads: Mapped[int] = mapped_column(Integer, default=0)  # part of reads_used
    requests: Mapped[int] = mapped_column(Integer, default=0)
    polls_deferred: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
