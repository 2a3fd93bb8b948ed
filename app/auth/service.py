"""Users and API tokens. Tokens are shown once and stored only as SHA-256."""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import re
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from app.audit.service import Actor, record
from app.auth.models import ApiToken, LoginAttempt, Role, User
from app.db import utcnow
from app.errors import Conflict, Invalid, NotFound, TooManyRequests

TOKEN_PREFIX = "pv_"
PASSWORD_MIN_LENGTH = 12
PASSWORD_MAX_LENGTH = 1024
LOGIN_WINDOW = dt.timedelta(minutes=15)
# Attempts are kept a day: long enough to see an attack in the table, short enough to stay small.
LOGIN_ATTEMPTS_KEPT = dt.timedelta(days=1)
SIGN_IN_FAILED = "The email address or the password is not right."
_hasher = PasswordHasher()
# Verified against when the email is unknown, so an unknown email costs as much time as a
# wrong password and the answer's timing does not tell which addresses have accounts.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))
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


def check_password(password: str) -> None:
    """The rules a new password must meet; raises Invalid naming the first one it breaks."""
    if len(password) < PASSWORD_MIN_LENGTH:
        raise Invalid(f"a password needs at least {PASSWORD_MIN_LENGTH} characters")
    if len(password) > PASSWORD_MAX_LENGTH:
        raise Invalid(f"a password has at most {PASSWORD_MAX_LENGTH} characters")
    if not password.strip():
        raise Invalid("a password cannot be only spaces")


def set_password(session: Session, *, user: User, password: str, actor: Actor) -> None:
    """Give `user` a new web sign-in password (argon2id); sessions signed in before end."""
    check_password(password)
    user.password_hash = _hasher.hash(password)
    session.flush()
    record(
        session,
        actor=actor,
        action="user.password_set",
        object_type="user",
        object_id=user.id,
        details={"email": user.email},
    )


def verify_password(session: Session, *, email: str, password: str) -> User | None:
    """The active user with this email and password, else None (in the same time either way)."""
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    stored = user.password_hash if user is not None and user.is_active else None
    try:
        _hasher.verify(stored or _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    return user if stored else None


def sign_in(
    session: Session,
    *,
    email: str,
    password: str,
    ip: str,
    max_attempts: int,
    window: dt.timedelta = LOGIN_WINDOW,
) -> User:
    """Check a web sign-in, rate-limited per (email, address).

    Each attempt is written before the answer and a failure raises, so the caller must commit
    also when this raises (the web route does), or failures would not count. After
    `max_attempts` failures within `window` since the last success, attempts are refused
    without checking the password until the oldest of those failures leaves the window.
    """
    email_key = email.strip().lower()[:320]
    ip_key = ip[:64]
    now = utcnow()
    session.execute(
        delete(LoginAttempt).where(LoginAttempt.attempted_at < now - LOGIN_ATTEMPTS_KEPT)
    )
    since = now - window
    last_success = session.scalar(
        select(func.max(LoginAttempt.attempted_at)).where(
            LoginAttempt.email == email_key,
            LoginAttempt.ip == ip_key,
            LoginAttempt.succeeded.is_(True),
        )
    )
    if last_success is not None and last_success > since:
        since = last_success
    failures = list(
        session.scalars(
            select(LoginAttempt.attempted_at)
            .where(
                LoginAttempt.email == email_key,
                LoginAttempt.ip == ip_key,
                LoginAttempt.succeeded.is_(False),
                LoginAttempt.attempted_at > since,
            )
            .order_by(LoginAttempt.attempted_at.desc())
            .limit(max_attempts)
        )
    )
    if len(failures) >= max_attempts:
        free_at = failures[-1] + window
        minutes = max(1, math.ceil((free_at - now).total_seconds() / 60))
        raise TooManyRequests(
            f"Too many failed sign-ins for this email address; try again in {minutes} "
            f"minute{'s' if minutes != 1 else ''}."
        )
    user = verify_password(session, email=email_key, password=password)
    session.add(
        LoginAttempt(email=email_key, ip=ip_key, attempted_at=now, succeeded=user is not None)
    )
    session.flush()
    if user is None:
        raise Invalid(SIGN_IN_FAILED)
    record(
        session,
        actor=Actor.of(user),
        action="user.signed_in",
        object_type="user",
        object_id=user.id,
        details={"ip": ip_key},
    )
    return user


def password_fingerprint(password_hash: str | None) -> str:
    """A short digest of the password hash: a session carries it, so setting a new password
    ends every session signed in with the old one."""
    return hashlib.sha256((password_hash or "").encode("utf-8")).hexdigest()[:16]
