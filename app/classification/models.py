from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, utcnow


class Label(enum.StrEnum):
    record = "record"
    secondary_copy = "secondary_copy"
    transitory = "transitory"


class Classification(Base):
    """The decision for one version: label, rule, reasons; the latest one is current."""

    __tablename__ = "classifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("captured_versions.id"), index=True)
    label: Mapped[str] = mapped_column(String(32))
    rule_id: Mapped[str] = mapped_column(String(64))
    reasons: Mapped[list[str]] = mapped_column(JSON)
    primary_ref: Mapped[str | None] = mapped_column(String(2048))
    primary_version_id: Mapped[int | None] = mapped_column(ForeignKey("captured_versions.id"))
    confidence: Mapped[float] = mapped_column(Float, default=1.0)
    needs_review: Mapped[bool] = mapped_column(Boolean, default=False)
    review_details: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    source: Mapped[str] = mapped_column(String(16), default="rules")  # rules | override
    classifier_version: Mapped[str] = mapped_column(String(32))
    config_hash: Mapped[str] = mapped_column(String(64))
    is_current: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ClassificationOverride(Base):
    """A records officer's decision for a post; it outranks the rules until revoked."""

    __tablename__ = "classification_overrides"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("flagged_posts.id"), index=True)
    label: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    officer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class ContentFingerprint(Base):
    """The cross-post index entry of one captured version: the hash of its normalised text.

    Cross-post checks look up `exact_hash` and the LSH band keys in
    `content_fingerprint_bands`, never the archive itself. Disposition deletes both rows with
    the version (see `app.classification.crosspost.forget_version`).
    """

    __tablename__ = "content_fingerprints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("captured_versions.id"), unique=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("flagged_posts.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("social_accounts.id"), index=True)
    platform: Mapped[str] = mapped_column(String(16))
    account_handle: Mapped[str] = mapped_column(String(512))
    url: Mapped[str] = mapped_column(String(2048))
    algorithm: Mapped[str] = mapped_column(String(32))
    exact_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    normalized_text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ContentFingerprintBand(Base):
    """One MinHash LSH band key of a fingerprint; the primary key leads with the key, so a
    lookup by band is an index range scan."""

    __tablename__ = "content_fingerprint_bands"

    band_key: Mapped[str] = mapped_column(String(32), primary_key=True)
    fingerprint_id: Mapped[int] = mapped_column(
        ForeignKey("content_fingerprints.id", ondelete="CASCADE"), primary_key=True, index=True
    )
