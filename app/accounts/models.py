from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.auth.models import User
from app.crypto import EncryptedString
from app.db import Base, UTCDateTime, utcnow


class SocialAccount(Base):
    """A platform account an employee registered as theirs.

    `handle` is normalised per platform (Bluesky `alice.bsky.social` or a DID, Mastodon
    `user@instance`, a feed's URL, a YouTube `@handle` or channel id) and unique per platform,
    so two employees cannot claim one account.
    """

    __tablename__ = "social_accounts"
    __table_args__ = (UniqueConstraint("platform", "handle"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    platform: Mapped[str] = mapped_column(String(16))
    handle: Mapped[str] = mapped_column(String(512))
    profile_url: Mapped[str] = mapped_column(String(2048))
    # DID for Bluesky, account id for Mastodon, channel id for YouTube; learned on capture.
    platform_account_id: Mapped[str | None] = mapped_column(String(255))
    # Some Mastodon instances only answer with a token; the account can carry one. Stored
    # encrypted (app/crypto.py); the ORM reads plain text.
    access_token: Mapped[str | None] = mapped_column(EncryptedString(512))
    # The OAuth grant (app/connections) whose token captures this account, if any.
    connection_id: Mapped[int | None] = mapped_column(
        ForeignKey("platform_connections.id"), index=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    owner: Mapped[User] = relationship()
