from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from app.auth.models import Role


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    name: str
    role: str
    is_active: bool
    created_at: dt.datetime


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(min_length=3, max_length=320)
    name: str = Field(min_length=1, max_length=200)
    role: Role = Role.employee


class UserCreated(UserOut):
    token: str = Field(description="The user's first API token; shown once.")


class TokenOut(BaseModel):
    """An API token as listed: never the token itself (only its hash is stored)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    user_id: int
    label: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None = Field(
        description="When it was last used, to the minute; null when never."
    )
    revoked_at: dt.datetime | None


class RoleChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role
