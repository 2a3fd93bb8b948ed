"""Users and API tokens. Tokens are shown once and stored only as SHA-256."""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import re
import secrets
import threading

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from app.audit.service import Actor, record
from app.auth.models import ApiToken, LoginAttempt, Role, SessionEndReason, User, UserSession
from app.db import utcnow
from app.errors import Conflict, Invalid, NotFound, TooManyRequests

TOKEN_PREFIX = "pv_"
PASSWORD_MIN_LENGTH = 12
PASSWORD_MAX_LENGTH = 1024
LOGIN_WINDOW = dt.timedelta(minutes=15)
# Attempts are kept a day: long enough to see an attack in the table, short enough to stay small.
LOGIN_ATTEMPTS_KEPT = dt.timedelta(days=1)
EMAIL_BACKOFF_FIRST = dt.timedelta(minutes=1)
EMAIL_BACKOFF_MAX = dt.timedelta(hours=1)
SIGN_IN_FAILED = "The email address or the password is not right."
_hasher = PasswordHasher()
# Verified against when the email is unknown, so an unknown email costs as much time as a
# wrong password and the answer's timing does not tell which addresses have accounts.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))
# A token's last use is kept to the minute: enough for "is this token still used?".
TOKEN_USE_RESOLUTION = dt.timedelta(minutes=1)
# Keyed by the token's hash, not its id: ids are reused when rows are deleted.
_token_marks: dict[str, dt.datetime] = {}
_marks_lock = threading.Lock()
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
    """The active user a live token belongs to; notes the token's use (once a minute)."""
    row = session.scalar(
        select(ApiToken).where(
            ApiToken.token_hash == hash_token(token), ApiToken.revoked_at.is_(None)
        )
    )
    if row is None or not row.user.is_active:
        return None
    mark_token_used(session, row)
    return row.user


def mark_token_used(session: Session, row: ApiToken) -> None:
    """Write `last_used_at` at most once per TOKEN_USE_RESOLUTION.

    A write on every request made every read take SQLite's write lock, so concurrent
    readers queued behind each other. The process remembers when it last wrote each token
    (so a burst of requests in one minute tries once), and the UPDATE is conditional (so
    several processes write once between them).
    """
    now = utcnow()
    stale = now - TOKEN_USE_RESOLUTION
    if row.last_used_at is not None and row.last_used_at > stale:
        return
    with _marks_lock:
        marked = _token_marks.get(row.token_hash)
        if marked is not None and marked > stale:
            return
        _token_marks[row.token_hash] = now
        if len(_token_marks) > 10_000:
            _token_marks.clear()
    session.execute(
        update(ApiToken)
        .where(
            ApiToken.id == row.id,
            or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at <= stale),
        )
        .values(last_used_at=now)
        .execution_options(synchronize_session=False)
    )


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
    end_sessions(session, user_id=user.id, reason=SessionEndReason.password_changed)
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
    email_max_attempts: int = 20,
    window: dt.timedelta = LOGIN_WINDOW,
) -> User:
    """Check a web sign-in, rate-limited per (email, address), and per email from any
    address with a back-off (see `_check_email_backoff`).

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
    _check_email_backoff(session, email_key, now=now, max_attempts=email_max_attempts)
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


def _check_email_backoff(
    session: Session, email_key: str, *, now: dt.datetime, max_attempts: int
) -> None:
    """Refuse an attempt for an email address that has failed `max_attempts` times since its
    last success (within a day) from any address, until a back-off has passed since its
    last failure: one minute, doubling with each further failure, up to an hour. Guessing
    from many addresses is slowed to a few tries an hour; the owner, who knows the password,
    waits at most an hour once."""
    since = now - LOGIN_ATTEMPTS_KEPT
    last_success = session.scalar(
        select(func.max(LoginAttempt.attempted_at)).where(
            LoginAttempt.email == email_key, LoginAttempt.succeeded.is_(True)
        )
    )
    if last_success is not None and last_success > since:
        since = last_success
    count, last_failure = session.execute(
        select(func.count(), func.max(LoginAttempt.attempted_at)).where(
            LoginAttempt.email == email_key,
            LoginAttempt.succeeded.is_(False),
            LoginAttempt.attempted_at > since,
        )
    ).one()
    if count < max_attempts or last_failure is None:
        return
    if last_failure.tzinfo is None:  # SQLite aggregates come back without the column type
        last_failure = last_failure.replace(tzinfo=dt.UTC)
    backoff = min(EMAIL_BACKOFF_MAX, EMAIL_BACKOFF_FIRST * 2 ** min(count - max_attempts, 10))
    free_at = last_failure + backoff
    if now < free_at:
        minutes = max(1, math.ceil((free_at - now).total_seconds() / 60))
        raise TooManyRequests(
            "Too many failed sign-ins for this email address from several places; try again "
            f"in {minutes} minute{'s' if minutes != 1 else ''}."
        )


# --- web sessions ---------------------------------------------------------------------------


def start_session(session: Session, *, user: User, ip: str, lifetime: dt.timedelta) -> str:
    """A new web session for `user`; returns the key the cookie carries (only its hash is
    kept)."""
    key = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(
        UserSession(
            user_id=user.id,
            key_hash=hash_token(key),
            ip=ip[:64],
            created_at=now,
            expires_at=now + lifetime,
        )
    )
    # Sessions ended or expired more than a day ago are of no use; keep the table small.
    session.execute(
        delete(UserSession).where(
            UserSession.user_id == user.id, UserSession.expires_at < now - LOGIN_ATTEMPTS_KEPT
        )
    )
    session.flush()
    return key


def session_user_id(session: Session, key: str) -> int | None:
    """The active user a live session key belongs to, else None."""
    row = session.execute(
        select(UserSession.user_id)
        .join(User, User.id == UserSession.user_id)
        .where(
            UserSession.key_hash == hash_token(key),
            UserSession.ended_at.is_(None),
            UserSession.expires_at > utcnow(),
            User.is_active.is_(True),
        )
    ).first()
    return None if row is None else int(row.user_id)


def end_session(session: Session, *, key: str, actor: Actor) -> None:
    """Sign out: the session's cookie stops working, also where it was copied to."""
    row = session.scalar(
        select(UserSession).where(
            UserSession.key_hash == hash_token(key), UserSession.ended_at.is_(None)
        )
    )
    if row is None:
        return
    row.ended_at = utcnow()
    row.end_reason = SessionEndReason.signed_out
    session.flush()
    record(
        session,
        actor=actor,
        action="user.signed_out",
        object_type="user",
        object_id=row.user_id,
        details={"session_id": row.id},
    )


def end_sessions(session: Session, *, user_id: int, reason: SessionEndReason) -> int:
    """End every live session of a user; returns how many were ended."""
    ended = session.execute(
        update(UserSession)
        .where(UserSession.user_id == user_id, UserSession.ended_at.is_(None))
        .values(ended_at=utcnow(), end_reason=reason.value)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(ended, "rowcount", 0) or 0)


# --- deactivation, roles, tokens -------------------------------------------------------------


def deactivate_user(session: Session, *, user: User, actor: Actor) -> bool:
    """The user can no longer sign in or use any token; what they flagged stays archived.
    Returns False when they were already deactivated (nothing is written then)."""
    if not user.is_active:
        return False
    user.is_active = False
    session.flush()
    sessions = end_sessions(session, user_id=user.id, reason=SessionEndReason.deactivated)
    record(
        session,
        actor=actor,
        action="user.deactivated",
        object_type="user",
        object_id=user.id,
        details={"email": user.email, "sessions_ended": sessions},
    )
    return True


def set_role(session: Session, *, user: User, role: str, actor: Actor) -> bool:
    """Give `user` another role; their web sessions end, so pages show the new role's view
    from a fresh sign-in. Returns False when the role is unchanged."""
    if role not in {r.value for r in Role}:
        raise Invalid(f"unknown role '{role}': use one of {', '.join(r.value for r in Role)}")
    if user.role == role:
        return False
    before = user.role
    user.role = role
    session.flush()
    sessions = end_sessions(session, user_id=user.id, reason=SessionEndReason.role_changed)
    record(
        session,
        actor=actor,
        action="user.role_changed",
        object_type="user",
        object_id=user.id,
        details={"email": user.email, "from": before, "to": role, "sessions_ended": sessions},
    )
    return True


def list_tokens(session: Session, *, user: User) -> list[ApiToken]:
    return list(
        session.scalars(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id))
    )


def get_token(session: Session, token_id: int) -> ApiToken:
    row = session.get(ApiToken, token_id)
    if row is None:
        raise NotFound(f"no API token {token_id}")
    return row


def revoke_token(session: Session, *, token: ApiToken, actor: Actor) -> bool:
    """The token stops working at once. Returns False when it was already revoked."""
    if token.revoked_at is not None:
        return False
    token.revoked_at = utcnow()
    session.flush()
    record(
        session,
        actor=actor,
        action="token.revoked",
        object_type="user",
        object_id=token.user_id,
        details={"token_id": token.id, "label": token.label},
    )
    return True
