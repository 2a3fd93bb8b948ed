"""Test fixtures on real parts: a real SQLite file, or the PostgreSQL named by
POSTVAULT_TEST_DATABASE_URL (a database the suite may wipe; .ci/run makes a fresh one)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.audit.service import Actor
from app.auth import service as auth_service
from app.auth.models import User
from app.config import Settings
from app.db import Base, Database
from app.main import create_app
from app.migrate import upgrade_to_head

POSTGRES_URL = os.environ.get("POSTVAULT_TEST_DATABASE_URL", "")


def is_postgres() -> bool:
    return POSTGRES_URL.startswith("postgresql")


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    if is_postgres():
        url = POSTGRES_URL
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'postvault-test.db'}"
    upgrade_to_head(url)
    return url


@pytest.fixture(scope="session")
def _session_db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    yield database
    database.dispose()


def wipe(database: Database) -> None:
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with database.engine.begin() as conn:
        if database.is_sqlite:
            # Versions and capture attempts name each other: checked at commit, when both
            # tables are empty.
            conn.execute(text("PRAGMA defer_foreign_keys = ON"))
            for name in tables:
                conn.execute(text(f'DELETE FROM "{name}"'))
        else:
            # The audit tables refuse TRUNCATE (migration anchor_0001) except in a session
            # that replicates (a superuser's), for this transaction only.
            conn.execute(text("SET LOCAL session_replication_role = replica"))
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))


def tamper_with_audit(session: Session) -> None:
    """Tests that play someone rewriting the audit log straight in the database: on
    PostgreSQL that takes a superuser's session that skips the append-only trigger (for the
    session's current transaction only)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL session_replication_role = replica"))


@pytest.fixture
def db(_session_db: Database) -> Database:
    wipe(_session_db)
    return _session_db


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=database_url, archive_dir=tmp_path / "archive")


@pytest.fixture
def client(settings: Settings, db: Database) -> Iterator[TestClient]:
    app = create_app(settings, database=db)
    server_errors: list[str] = []

    def _no_500(response: httpx.Response) -> None:
        if response.status_code >= 500 and response.request.url.path != "/healthz":
            server_errors.append(f"{response.request.method} {response.request.url.path}")

    with TestClient(app, raise_server_exceptions=False) as test_client:
        test_client.event_hooks = {"request": [], "response": [_no_500]}
        yield test_client
    # No request in the suite may end in a 500.
    assert server_errors == [], f"requests answered with a server error: {server_errors}"


@dataclass
class Person:
    user: User
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


MakePerson = Callable[..., Person]


@pytest.fixture
def make_person(db: Database) -> MakePerson:
    counter = iter(range(1, 10_000))

    def make(role: str = "employee", email: str | None = None) -> Person:
        n = next(counter)
        with db.session() as session:
            user = auth_service.create_user(
                session,
                email=email or f"{role}{n}@city.example",
                name=f"{role.title()} {n}",
                role=role,
                actor=Actor.system("tests"),
            )
            token = auth_service.issue_token(session, user=user, actor=Actor.system("tests"))
        return Person(user, token)

    return make
