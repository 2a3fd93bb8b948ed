from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.platforms.openapi import PLATFORM_ENUM_MARK
from app.platforms.registry import registry


class AccountCreate(BaseModel):
    """`platform` and `handle`; or a `profile_url` (a profile page or a blog feed), with
    `platform` when the URL alone cannot tell (a self-hosted site)."""

    model_config = ConfigDict(extra="forbid")

    platform: str | None = Field(
        default=None,
        max_length=32,
        examples=[registry.ids()[0]],
        json_schema_extra=PLATFORM_ENUM_MARK,
    )
    handle: str | None = Field(default=None, max_length=2048, examples=["alice.bsky.social"])
    profile_url: str | None = Field(default=None, max_length=2048)
    access_token: str | None = Field(
        default=None, max_length=512, description="Mastodon token, for instances that need one."
    )

    @model_validator(mode="after")
    def _one_form(self) -> AccountCreate:
        if self.profile_url:
            if self.handle:
                raise ValueError(
                    "give either profile_url (and platform if you like), or platform and "
                    "handle, not both"
                )
        elif not (self.platform and self.handle):
            raise ValueError("give platform and handle, or profile_url")
        return self


class AccountOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    owner_id: int
    platform: str
    handle: str
    profile_url: str
    platform_account_id: str | None
    created_at: dt.datetime
