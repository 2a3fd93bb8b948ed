"""Users and API tokens. Tokens are shown once and stored only as SHA-256."""

from __future__ import annotations

import hashlib
import re
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.service import Actor, record
from app.auth.models import ApiToken, Role, User
from app.db import utcnow
from app.errors import Conflict, Invalid, NotFound

TOKEN_PREFIX = "pv_"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def normalise_email(email: str) -> str:
    email = email.strip().lower()
    if not _EMAIL.match(email) or len(email) > 320:
        raise Invalid(f"'{email}' is not an email address")
    return email


def create_user(session: Session, *, email: str, name: str, role: str, actor: Actor) -> User:
    email = normalise_email(email)
    if role not in {r.value for r in Role}:
        raise Invalid(f"unknown role '{role}': use one of {', '.join(r.value for r in Role)}")
    name = name.strip()
    if not name:
        raise Invalid("a user needs a name")
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict(f"a user with email {email} already exists")
    user = User(email=email, name=name, role=role, is_active=True)
    session.add(user)
    session.flush()
    record(
        session,
        actor=actor,
        action="user.created",
        object_type="user",
        object_id=user.id,
        details={"email": email, "role": role},
    )
    return user


def get_user_by_email(session: Session, email: str) -> User:
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise NotFound(f"no user with email {email.strip().lower()}")
    return user


def issue_token(session: Session, *, user: User, actor: Actor, label: str = "") -> str:
    """Create a token for `user` and return it; only its hash is kept."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, token_hash=hash_token(token), label=label)
    session.add(row)
    session.flush()
    record(
        session,
        actor=actor,
        action="token.issued",
        object_type="user",
        object_id=user.id,
        details={"token_id": row.id, "label": label},
    )
    return token


def user_for_token(session: Session, token: str) -> User | None:
    row = session.scalar(
        select(ApiToken).where(
            ApiToken.token_hash == hash_token(token), ApiToken.revoked_at.is_(None)
        )
    )
    if row is None or not row.user.is_active:
        return None
    row.last_used_at = utcnow()
    return row.user


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.id)))
