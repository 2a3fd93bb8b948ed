"""Secrets at rest: platform access tokens (and, later, connected accounts' credentials)
are stored encrypted with Fernet (cryptography), never in clear.

The key is POSTVAULT_SECRETS_KEY (one or more Fernet keys, comma-separated, newest first:
add a new key in front to rotate, the older ones still decrypt), or a key generated once
into a `secrets_key` file beside the archive folder (mode 0600), like the session key. An
archive copied elsewhere does not carry the key that opens its secrets.

`EncryptedString` is the column type: models declare it and the rest of the code sees plain
text. The process's key is installed by `install_secrets_key(settings)` (create_app, the
CLI, migrations); without one, the settings from the environment are used.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import String
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from app.config import Settings, get_settings

SECRETS_KEY_FILE = "secrets_key"
# Fernet tokens start with this (version byte 0x80, base64url): how a migration tells an
# encrypted value from one stored in clear by an older version.
FERNET_PREFIX = "gAAAAA"


class SecretUnreadable(Exception):
    """A stored secret does not open with any configured key (wrong or lost key)."""


class SecretBox:
    """Encrypts and decrypts short text secrets with one or more Fernet keys."""

    def __init__(self, keys: list[bytes]) -> None:
        if not keys:
            raise ValueError("at least one Fernet key is needed")
        self._fernet = MultiFernet([Fernet(key) for key in keys])

    @classmethod
    def from_text(cls, text: str) -> SecretBox:
        keys = [part.strip().encode("ascii") for part in text.split(",") if part.strip()]
        try:
            return cls(keys)
        except (ValueError, TypeError) as exc:
            raise ValueError(
                "POSTVAULT_SECRETS_KEY must be one or more Fernet keys (32 url-safe base64 "
                "bytes each, as from Fernet.generate_key()), comma-separated"
            ) from exc

    def encrypt(self, plain: str) -> str:
        return self._fernet.encrypt(plain.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError) as exc:
            raise SecretUnreadable(
                "a stored secret does not open with POSTVAULT_SECRETS_KEY (or the generated "
                "secrets_key file); was the key changed or lost?"
            ) from exc


def secrets_key_path(settings: Settings) -> Path:
    return settings.archive_dir.resolve().parent / SECRETS_KEY_FILE


def load_secrets_key(settings: Settings) -> SecretBox:
    """The configured key, or the generated key file (made on first use, 0600)."""
    if settings.secrets_key is not None:
        return SecretBox.from_text(settings.secrets_key.get_secret_value())
    path = secrets_key_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL: when two processes start at once, one writes and the other reads its key.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(Fernet.generate_key().decode("ascii"))
            handle.flush()
            os.fsync(handle.fileno())
    for _ in range(50):
        text = path.read_text(encoding="ascii").strip()
        if text:
            return SecretBox.from_text(text)
        time.sleep(0.02)  # the other process created the file and has not written it yet
    raise RuntimeError(f"the secrets key file {path} is empty")


_installed: list[SecretBox] = []
_lock = threading.Lock()


def install_secrets_key(settings: Settings) -> SecretBox:
    """Make `settings`' key the one the column type uses in this process."""
    box = load_secrets_key(settings)
    with _lock:
        _installed[:] = [box]
    return box


def current_box() -> SecretBox:
    with _lock:
        if _installed:
            return _installed[0]
    return install_secrets_key(get_settings())


class EncryptedString(TypeDecorator[str]):
    """Text stored as a Fernet token; the ORM reads and writes plain text.

    `length` is the longest plain text; the column holds its token (about 4/3 longer plus
    ~100 characters), so the stored column is sized for that.
    """

    impl = String
    cache_ok = True

    def __init__(self, length: int) -> None:
        super().__init__(stored_length(length))

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return current_box().encrypt(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return current_box().decrypt(value)


def stored_length(plain_length: int) -> int:
    """Characters a Fernet token of `plain_length` UTF-8 characters (4 bytes each at most)
    can take: version, time stamp, IV, padded cipher text and HMAC, base64-encoded."""
    cipher = (plain_length * 4 // 16 + 1) * 16
    raw = 1 + 8 + 16 + cipher + 32
    return (raw + 2) // 3 * 4
