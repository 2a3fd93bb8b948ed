"""Hazards closed (issue 13, item 13): platform access tokens encrypted at rest (also the
ones stored before), and a per-email sign-in limit with back-off from any address. The
allow-list port check is in tests/collectors/test_http.py."""

from __future__ import annotations

import datetime as dt
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from app.accounts.models import SocialAccount
from app.audit.service import Actor
from app.auth import service as auth_service
from app.auth.models import LoginAttempt, User
from app.config import Settings
from app.crypto import SecretBox, install_secrets_key, load_secrets_key, secrets_key_path
from app.db import Database
from app.errors import Invalid, TooManyRequests
from app.migrate import alembic_config
from tests.conftest import POSTGRES_URL, MakePerson, is_postgres

TOKEN = "mastodon-token-0123456789abcdef"


@pytest.fixture
def secrets_key(tmp_path: Path) -> str:
    key = Fernet.generate_key().decode()
    install_secrets_key(Settings(archive_dir=tmp_path / "archive", secrets_key=key))
    return key


def test_access_tokens_are_stored_encrypted(
    db: Database, make_person: MakePerson, secrets_key: str
) -> None:
    person = make_person()
    with db.session() as session:
        account = SocialAccount(
            owner_id=person.user.id,
            platform="mastodon",
            handle="ann@social.example",
            profile_url="https://social.example/@ann",
            access_token=TOKEN,
        )
        session.add(account)
    with db.engine.connect() as conn:
        stored = conn.execute(text("SELECT access_token FROM social_accounts")).scalar_one()
    assert TOKEN not in stored
    assert SecretBox.from_text(secrets_key).decrypt(stored) == TOKEN
    with db.session() as session:
        assert session.scalars(select(SocialAccount.access_token)).one() == TOKEN


def test_generated_secrets_key_is_kept_beside_the_archive(tmp_path: Path) -> None:
    settings = Settings(archive_dir=tmp_path / "var" / "archive")
    box = load_secrets_key(settings)
    path = secrets_key_path(settings)
    assert path == tmp_path / "var" / "secrets_key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # Read back by the next start: what one process encrypted, the next one opens.
    assert load_secrets_key(settings).decrypt(box.encrypt("x")) == "x"
    with pytest.raises(ValueError, match="Fernet"):
        SecretBox.from_text("not-a-key")


@pytest.fixture
def scratch_database(tmp_path: Path) -> Iterator[str]:
    if not is_postgres():
        yield f"sqlite:///{tmp_path / 'scratch.db'}"
        return
    name = f"pv_crypto_{uuid.uuid4().hex[:10]}"
    admin = create_engine(make_url(POSTGRES_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_the_migration_encrypts_tokens_stored_in_clear(
    scratch_database: str, secrets_key: str
) -> None:
    config = alembic_config(scratch_database)
    command.upgrade(config, "20261201_server_sessions")
    engine = create_engine(scratch_database)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO users (email, name, role, is_active, created_at) "
                    "VALUES ('ann@city.example', 'Ann', 'employee', true, CURRENT_TIMESTAMP)"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO social_accounts (owner_id, platform, handle, profile_url, "
                    "access_token, created_at) VALUES (1, 'mastodon', 'ann@social.example', "
                    f"'https://social.example/@ann', '{TOKEN}', CURRENT_TIMESTAMP)"
                )
            )
        command.upgrade(config, "head")
        with engine.connect() as conn:
            stored = conn.execute(text("SELECT access_token FROM social_accounts")).scalar_one()
        assert stored != TOKEN
        assert SecretBox.from_text(secrets_key).decrypt(stored) == TOKEN
        command.upgrade(config, "head")  # idempotent: nothing is encrypted twice
        with engine.connect() as conn:
            again = conn.execute(text("SELECT access_token FROM social_accounts")).scalar_one()
        assert again == stored
    finally:
        engine.dispose()


def test_sign_in_is_limited_per_email_from_any_address(
    db: Database, make_person: MakePerson
) -> None:
    person = make_person()
    password = "correct horse battery staple"
    with db.session() as session:
        user = session.get(User, person.user.id)
        assert user is not None
        auth_service.set_password(session, user=user, password=password, actor=Actor.system("t"))

    def attempt(ip: str, secret: str) -> None:
        # Like the web route: the attempt is saved also when the sign-in fails.
        session = db.sessionmaker()
        try:
            auth_service.sign_in(
                session,
                email=person.user.email,
                password=secret,
                ip=ip,
                max_attempts=5,
                email_max_attempts=4,
            )
        finally:
            session.commit()
            session.close()

    def shift_back(by: dt.timedelta) -> None:
        """Move every recorded attempt earlier, as time passing would."""
        with db.session() as session:
            for row in session.scalars(select(LoginAttempt)):
                row.attempted_at -= by

    # One wrong guess from each of four addresses: no address reaches its own limit.
    for n in range(4):
        with pytest.raises(Invalid):
            attempt(f"10.0.0.{n}", "wrong password guess")
    # A fifth address is refused, even with the right password: the email is backing off.
    with pytest.raises(TooManyRequests, match="several places"):
        attempt("10.0.0.99", password)

    # After the back-off (one minute after the last failure) one more try is allowed; each
    # further failure doubles the wait.
    shift_back(dt.timedelta(minutes=2))
    with pytest.raises(Invalid):
        attempt("10.0.0.100", "another wrong guess")
    shift_back(dt.timedelta(minutes=1, seconds=30))
    with pytest.raises(TooManyRequests):
        attempt("10.0.0.101", password)  # the wait is now two minutes
    shift_back(dt.timedelta(minutes=1))
    attempt("10.0.0.102", password)  # the owner gets in
