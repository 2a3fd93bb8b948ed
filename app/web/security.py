"""Web sessions: the signing key, the signed session cookie and its CSRF token.

The cookie is signed (itsdangerous) and carries a per-session CSRF token and, once signed
in, the key of a server-side session row (`user_sessions`, app/auth/service.py). The row is
what makes a sign-in real: signing out, a new password, deactivation or a role change end
the row, and the cookie stops working at once, also where it was copied to.
"""

from __future__ import annotations

import hmac
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from itsdangerous import BadSignature, URLSafeTimedSerializer

from app.config import Settings

COOKIE_NAME = "postvault_session"
CSRF_FIELD = "csrf_token"
SECRET_KEY_FILE = "secret_key"
_SALT = "postvault.web.session"


def secret_key_path(settings: Settings) -> Path:
    """Where a generated key is kept: beside the archive folder, never inside it, so an
    archive copied or exported elsewhere does not carry the key that signs sessions."""
    return settings.archive_dir.resolve().parent / SECRET_KEY_FILE


def load_secret_key(settings: Settings) -> str:
    """POSTVAULT_SECRET_KEY, or a key generated once into `secret_key_path` (mode 0600)
    and read back by every later start and every other process on the machine."""
    if settings.secret_key:
        return settings.secret_key
    path = secret_key_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL: when two processes start at once, one writes and the other reads its key.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(secrets.token_urlsafe(48))
            handle.flush()
            os.fsync(handle.fileno())
    for _ in range(50):
        key = path.read_text(encoding="ascii").strip()
        if key:
            return key
        # The other process created the file and has not written the key yet.
        time.sleep(0.02)
    raise RuntimeError(f"the session key file {path} is empty; delete it to make a new one")


@dataclass(frozen=True)
class WebSession:
    """What the cookie says; `user_id` is filled in from the session row, never the cookie."""

    key: str | None
    csrf: str
    user_id: int | None = None

    @classmethod
    def anonymous(cls) -> WebSession:
        return cls(key=None, csrf=secrets.token_urlsafe(32))

    @classmethod
    def signed_in(cls, user_id: int, key: str) -> WebSession:
        # A new CSRF token at sign-in, so a token seen before sign-in is worth nothing after.
        return cls(key=key, csrf=secrets.token_urlsafe(32), user_id=user_id)

    def csrf_matches(self, sent: object) -> bool:
        return isinstance(sent, str) and hmac.compare_digest(sent.encode(), self.csrf.encode())


class SessionCodec:
    def __init__(self, secret_key: str, *, max_age_seconds: int) -> None:
        self._serializer = URLSafeTimedSerializer(secret_key, salt=_SALT)
        self.max_age_seconds = max_age_seconds

    def dumps(self, session: WebSession) -> str:
        return self._serializer.dumps({"k": session.key, "c": session.csrf})

    def loads(self, cookie: str) -> WebSession | None:
        """The session in a cookie, or None when it is forged, expired or malformed."""
        try:
            data = self._serializer.loads(cookie, max_age=self.max_age_seconds)
        except BadSignature:
            return None
        if not isinstance(data, dict):
            return None
        key, csrf = data.get("k"), data.get("c")
        if not isinstance(csrf, str) or not csrf:
            return None
        if key is not None and not (isinstance(key, str) and key):
            return None
        return WebSession(key=key, csrf=csrf)
