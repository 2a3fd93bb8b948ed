"""Web sessions are server-side rows (issue 13, item 4): a copied cookie stops working on
sign-out, a new password, deactivation and a role change."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.audit.service import Actor
from app.auth import service as auth_service
from app.auth.models import User, UserSession
from app.db import Database
from app.web.security import COOKIE_NAME
from tests.conftest import MakePerson
from tests.web.support import give_password, page_csrf, sign_in


def _copied_cookie_works(client: TestClient, cookie: str) -> bool:
    """Does the cookie, replayed from elsewhere, still open a signed-in page?"""
    with TestClient(client.app, raise_server_exceptions=False) as other:
        other.cookies.set(COOKIE_NAME, cookie)
        status: int = other.get("/flag", follow_redirects=False).status_code
        return status == 200


def test_sign_out_ends_the_session_for_a_copied_cookie(
    client: TestClient, db: Database, make_person: MakePerson
) -> None:
    person = make_person()
    give_password(db, person.user)
    sign_in(client, person.user.email)
    cookie = client.cookies[COOKIE_NAME]
    assert _copied_cookie_works(client, cookie)
    token = page_csrf(client, "/flag")
    response = client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303
    assert not _copied_cookie_works(client, cookie)
    with db.session() as session:
        row = session.scalars(select(UserSession)).one()
        assert row.end_reason == "signed_out"
        assert row.ended_at is not None
        # Only a hash of the key is stored; the cookie itself is not in the table.
        assert row.key_hash not in cookie
        actions = list(session.scalars(select(AuditEvent.action)))
    assert "user.signed_out" in actions


def _ends_sessions(
    client: TestClient, db: Database, make_person: MakePerson, change: Callable[[User], None]
) -> str | None:
    person = make_person()
    give_password(db, person.user)
    sign_in(client, person.user.email)
    cookie = client.cookies[COOKIE_NAME]
    assert _copied_cookie_works(client, cookie)
    with db.session() as session:
        user = session.get(User, person.user.id)
        assert user is not None
        change(user)
    assert not _copied_cookie_works(client, cookie)
    with db.session() as session:
        return session.scalars(select(UserSession.end_reason)).one()


def test_a_new_password_ends_sessions(
    client: TestClient, db: Database, make_person: MakePerson
) -> None:
    def change(user: User) -> None:
        with db.session() as session:
            row = session.get(User, user.id)
            assert row is not None
            auth_service.set_password(
                session, user=row, password="an entirely new password", actor=Actor.system("t")
            )

    assert _ends_sessions(client, db, make_person, change) == "password_changed"


def test_deactivation_ends_sessions(
    client: TestClient, db: Database, make_person: MakePerson
) -> None:
    def change(user: User) -> None:
        with db.session() as session:
            row = session.get(User, user.id)
            assert row is not None
            assert auth_service.deactivate_user(session, user=row, actor=Actor.system("t"))

    assert _ends_sessions(client, db, make_person, change) == "deactivated"


def test_a_role_change_ends_sessions(
    client: TestClient, db: Database, make_person: MakePerson
) -> None:
    def change(user: User) -> None:
        with db.session() as session:
            row = session.get(User, user.id)
            assert row is not None
            assert auth_service.set_role(
                session, user=row, role="records_officer", actor=Actor.system("t")
            )

    assert _ends_sessions(client, db, make_person, change) == "role_changed"
