from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, utcnow


class AuditEvent(Base):
    """An append-only, hash-chained record of a change of state.

    `hash` = SHA-256 over the previous event's hash and this event's canonical content, so an
    edited, inserted or deleted event breaks the chain at that point. `prev_hash` is unique: two
    writers can never both extend the same event.
    """

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    actor: Mapped[str] = mapped_column(String(400))
    action: Mapped[str] = mapped_column(String(64), index=True)
    object_type: Mapped[str] = mapped_column(String(64))
    object_id: Mapped[str] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditChainHead(Base):
    """The chain's newest link. Every append updates this one row, which serialises writers
    (a row lock on PostgreSQL, the write lock on SQLite) and lets verification notice events
    cut from the end of the chain."""

    __tablename__ = "audit_chain_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_event_id: Mapped[int] = mapped_column(Integer)
    last_hash: Mapped[str] = mapped_column(String(64))
    event_count: Mapped[int] = mapped_column(Integer)


class AuditAnchor(Base):
    """The chain's head as it was at `anchored_at`, kept outside the database: `object_sha256`
    is a write-once object in the archive store holding the same values (and, when a TSA is
    configured, an RFC 3161 timestamp over that object). Each anchor names the one before it,
    so an anchor row removed from the database is noticed by the next one.

    Rows are only ever inserted (on PostgreSQL a trigger refuses UPDATE, DELETE and TRUNCATE)."""

    __tablename__ = "audit_anchors"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    anchored_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_event_id: Mapped[int] = mapped_column(Integer)
    event_count: Mapped[int] = mapped_column(Integer)
    head_hash: Mapped[str] = mapped_column(String(64))
    object_sha256: Mapped[str] = mapped_column(ForeignKey("stored_objects.sha256"), unique=True)
    previous_object_sha256: Mapped[str | None] = mapped_column(String(64))
    # The `audit.anchored` event this anchor wrote (after `last_event_id`): a run that finds
    # the head at this event has nothing new to anchor.
    audit_event_id: Mapped[int | None] = mapped_column(Integer)
