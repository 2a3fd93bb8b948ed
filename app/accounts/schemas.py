from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field, model_validator


class AccountCreate(BaseModel):
    """Either `platform` and `handle`, or a `profile_url` (a profile page or a blog feed)."""

    model_config = ConfigDict(extra="forbid")

    platform: str | None = Field(default=None, max_length=32, examples=["bluesky"])
    handle: str | None = Field(default=None, max_length=2048, examples=["alice.bsky.social"])
    profile_url: str | None = Field(default=None, max_length=2048)
    access_token: str | None = Field(
        default=None, max_length=512, description="Mastodon token, for instances that need one."
    )

    @model_validator(mode="after")
    def _one_form(self) -> AccountCreate:
        if self.profile_url:
            if self.platform or self.handle:
                raise ValueError("give either profile_url, or platform and handle, not both")
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
