"""A connection is one OAuth grant an employee made; the Pages and Instagram accounts it
covers are social accounts pointing at it (`social_accounts.connection_id`)."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.auth.models import User
from app.crypto import EncryptedString
from app.db import Base, UTCDateTime, utcnow


class ConnectionStatus(enum.StrEnum):
    active = "active"
    reconnect_needed = "reconnect_needed"  # expired or revoked: the employee must reconnect
    disconnected = "disconnected"  # the employee disconnected; the token is deleted


class PlatformConnection(Base):
    __tablename__ = "platform_connections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    platform: Mapped[str] = mapped_column(String(16))  # the platform the grant was made to
    status: Mapped[str] = mapped_column(String(16), default=ConnectionStatus.active)
    external_user_id: Mapped[str | None] = mapped_column(String(64))
    display_name: Mapped[str | None] = mapped_column(String(255))
    # The long-lived user token, encrypted at rest (app/crypto.py); None once disconnected.
    access_token: Mapped[str | None] = mapped_column(EncryptedString(2048))
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    refreshed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(1024))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    owner: Mapped[User] = relationship()


class ConnectAttempt(Base):
    """A connect flow in progress: the `state` (hashed) and the PKCE verifier (encrypted)
    the callback must match. Deleted when the callback comes back or after ATTEMPT_TTL."""

    __tablename__ = "connect_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    platform: Mapped[str] = mapped_column(String(16))
    state_hash: Mapped[str] = mapped_column(String(64), unique=True)
    code_verifier: Mapped[str] = mapped_column(EncryptedString(512))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
