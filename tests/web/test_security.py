"""The pages' guards: CSRF on every form, who may open what, sign-in limits, sessions."""

from __future__ import annotations

import datetime as dt
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from app.accounts.models import SocialAccount
from app.audit.models import AuditEvent
from app.audit.service import Actor
from app.auth import service as auth_service
from app.auth.models import LoginAttempt, User
from app.config import Settings
from app.db import Database
from app.errors import Invalid
from app.main import create_app
from app.posts import service as posts_service
from app.web.security import COOKIE_NAME, load_secret_key, secret_key_path
from tests.conftest import MakePerson
from tests.web.support import PASSWORD, app_routes, csrf_of, give_password, page_csrf, sign_in

_PARAM = re.compile(r"\{[^}]+\}")


def _state_changing_page_routes(client: TestClient) -> list[tuple[str, str]]:
    """Every non-GET route of the whole app outside the bearer-only JSON API."""
    found = []
    for path, route in app_routes(client.app.routes):  # type: ignore[attr-defined]
        if path.startswith("/api/"):
            continue
        for method in sorted((route.methods or set()) - {"GET", "HEAD"}):
            found.append((method, path))
    return found


def _page_get_routes(client: TestClient, prefix: str) -> list[str]:
    return [
        path
        for path, route in app_routes(client.app.routes)  # type: ignore[attr-defined]
        if path.startswith(prefix) and "GET" in (route.methods or set())
    ]


def test_every_form_rejects_a_missing_or_wrong_csrf_token(
    client: TestClient, db: Database, make_person: MakePerson
) -> None:
    admin = make_person("admin")
    give_password(db, admin.user)
    routes = _state_changing_page_routes(client)
    # The forms known today; a new one is tested by the loop below without being listed.
    assert {path for _m, path in routes} >= {
        "/login",
        "/logout",
        "/accounts",
        "/accounts/{account_id}/remove",
        "/flag",
        "/admin/users",
        "/admin/users/{user_id}/password",
        "/posts/{post_id}/capture",
        "/officer/requests",
        "/officer/requests/{request_id}/status",
        "/officer/requests/{request_id}/assign",
        "/officer/requests/{request_id}/notes",
        "/officer/requests/{request_id}/items",
        "/officer/requests/{request_id}/items/{item_id}/redact",
        "/officer/requests/{request_id}/items/{item_id}/withhold",
        "/officer/requests/{request_id}/items/{item_id}/remove",
        "/officer/requests/{request_id}/package",
    }
    # Anonymous visitors first, then a signed-in admin (who may use every form).
    for signed_in in (False, True):
        if signed_in:
            sign_in(client, admin.user.email)
        good = page_csrf(client, "/login")
        for method, path in routes:
            url = _PARAM.sub(str(admin.user.id), path)
            for form in ({}, {"csrf_token": "forged-" + good[:10]}, {"csrf_token": ""}):
                response = client.request(method, url, data=form, follow_redirects=False)
                assert response.status_code == 403, (method, url, form, response.status_code)
                assert "not sent from a PostVault page" in response.text
                assert response.headers["content-type"].startswith("text/html")
            # A JSON body cannot smuggle the token past the form check either.
            response = client.request(
                method, url, json={"csrf_token": good}, follow_redirects=False
            )
            assert response.status_code == 403, (method, url)
    # Nothing was changed by all those refused forms.
    with db.session() as session:
        assert session.scalars(select(SocialAccount)).all() == []
        assert [u.email for u in session.scalars(select(User))] == [admin.user.email]


def test_a_token_from_another_session_is_refused(
    client: TestClient, settings: Settings, db: Database, make_person: MakePerson
) -> None:
    person = make_person()
    give_password(db, person.user)
    sign_in(client, person.user.email)
    with TestClient(create_app(settings, database=db)) as other:
        foreign = page_csrf(other, "/login")
    response = client.post(
        "/accounts",
        data={"csrf_token": foreign, "platform": "bluesky", "account": "ann.bsky.social"},
        follow_redirects=False,
    )
    assert response.status_code == 403
    mine = page_csrf(client, "/accounts")
    response = client.post(
        "/accounts",
        data={"csrf_token": mine, "platform": "bluesky", "account": "ann.bsky.social"},
        follow_redirects=False,
    )
    assert response.status_code == 303


def test_employee_cannot_open_another_employees_post_or_officer_pages(
    client: TestClient, db: Database, make_person: MakePerson
) -> None:
    ann, bob = make_person(), make_person()
    officer = make_person("records_officer")
    for person in (ann, bob, officer):
        give_password(db, person.user)
    with db.session() as session:
        owner = session.get(User, bob.user.id)
        assert owner is not None
        from app.accounts import service as accounts_service

        accounts_service.register_account(
            session, owner=owner, platform="bluesky", handle="bob.bsky.social"
        )
        post, _ = posts_service.flag_post(
            session,
            user=owner,
            url="https://bsky.app/profile/bob.bsky.social/post/3l6oveex3ii2l",
            note=None,
        )
        post_id = post.id

    officer_pages = _page_get_routes(client, "/officer")
    admin_pages = _page_get_routes(client, "/admin")
    assert "/officer" in officer_pages
    assert "/admin/users" in admin_pages

    sign_in(client, ann.user.email)
    response = client.get(f"/posts/{post_id}")
    assert response.status_code == 404
    assert "bob.bsky.social" not in response.text
    # The API's snapshot link is refused the same way (the post is not Ann's).
    assert client.get(f"/api/v1/posts/{post_id}").status_code == 404
    for path in officer_pages + admin_pages:
        response = client.get(_PARAM.sub("1", path), follow_redirects=False)
        assert response.status_code == 403, path
        assert "for records officers" in response.text or "for administrators" in response.text

    sign_in(client, bob.user.email)
    assert client.get(f"/posts/{post_id}").status_code == 200
    assert client.get("/officer").status_code == 403

    sign_in(client, officer.user.email)
    assert client.get(f"/posts/{post_id}").status_code == 200
    for path in officer_pages:
        if "{" not in path:  # pages of one request: tests/web/test_request_pages.py
            assert client.get(path).status_code == 200, path
    for path in admin_pages:
        assert client.get(path).status_code == 403, path


def test_pages_need_sign_in_and_come_back_after_it(
    client: TestClient, db: Database, make_person: MakePerson
) -> None:
    person = make_person()
    give_password(db, person.user)
    target = "/flag?text=Look+https%3A%2F%2Fbsky.app%2Fprofile%2Fa.bsky.social%2Fpost%2F3l6"
    response = client.get(target, follow_redirects=False)
    assert response.status_code == 303
    login_at = response.headers["location"]
    assert login_at.startswith("/login?next=")
    page = client.get(login_at)
    token = csrf_of(page.text)
    response = client.post(
        "/login",
        data={
            "email": person.user.email.upper(),
            "password": PASSWORD,
            "csrf_token": token,
            "next": target,
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == target
    # Never redirected off the site after sign-in.
    for evil in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        sign_in_page = client.get(f"/login?next={evil}", follow_redirects=False)
        assert sign_in_page.headers["location"] == "/"


def test_session_cookie_is_signed_httponly_and_lax_and_api_stays_bearer_only(
    client: TestClient, db: Database, make_person: MakePerson
) -> None:
    person = make_person()
    give_password(db, person.user)
    token = page_csrf(client, "/login")
    response = client.post(
        "/login",
        data={"email": person.user.email, "password": PASSWORD, "csrf_token": token},
        follow_redirects=False,
    )
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE_NAME}=")
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Path=/" in cookie
    # Reading through the API with the cookie works (PDF links on the pages need it)...
    me = client.get("/api/v1/me")
    assert me.status_code == 200
    assert me.json()["email"] == person.user.email
    # ...changing anything through the API with only the cookie does not.
    response = client.post(
        "/api/v1/accounts", json={"platform": "bluesky", "handle": "a.bsky.social"}
    )
    assert response.status_code == 401
    # A tampered cookie is no session at all.
    value = client.cookies[COOKIE_NAME]
    client.cookies.set(COOKIE_NAME, value[:-2] + ("AA" if not value.endswith("AA") else "BB"))
    assert client.get("/api/v1/me").status_code == 401
    assert client.get("/flag", follow_redirects=False).status_code == 303


def test_sign_out_ends_the_session(
    client: TestClient, db: Database, make_person: MakePerson
) -> None:
    person = make_person()
    give_password(db, person.user)
    sign_in(client, person.user.email)
    token = page_csrf(client, "/flag")
    response = client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert response.headers["location"] == "/login?signed_out=1"
    assert client.get("/flag", follow_redirects=False).status_code == 303
    assert client.get("/api/v1/me").status_code == 401


def test_a_new_password_or_deactivation_ends_existing_sessions(
    client: TestClient, db: Database, make_person: MakePerson
) -> None:
    person = make_person()
    give_password(db, person.user)
    sign_in(client, person.user.email)
    assert client.get("/flag").status_code == 200
    give_password(db, person.user, "another long password")
    assert client.get("/flag", follow_redirects=False).status_code == 303
    sign_in(client, person.user.email, "another long password")
    assert client.get("/flag").status_code == 200
    with db.session() as session:
        session.execute(update(User).where(User.id == person.user.id).values(is_active=False))
    assert client.get("/flag", follow_redirects=False).status_code == 303
    assert client.get("/api/v1/me").status_code == 401


@pytest.fixture
def limited_client(settings: Settings, db: Database) -> Iterator[TestClient]:
    app = create_app(settings.model_copy(update={"login_max_attempts": 3}), database=db)
    with TestClient(app) as test_client:
        yield test_client


def _try(client: TestClient, email: str, password: str) -> tuple[int, str]:
    token = page_csrf(client, "/login")
    response = client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": token},
        follow_redirects=False,
    )
    return response.status_code, response.text


def test_sign_in_is_rate_limited_per_email_and_address(
    limited_client: TestClient, db: Database, make_person: MakePerson
) -> None:
    person = make_person()
    other = make_person()
    give_password(db, person.user)
    give_password(db, other.user)
    email = person.user.email
    for _ in range(3):
        status, text = _try(limited_client, email, "wrong password!")
        assert status == 422
        assert "The email address or the password is not right." in text
        assert 'id="password-error"' in text
    # Locked: even the right password is refused, with a sentence saying when to retry.
    status, text = _try(limited_client, email, PASSWORD)
    assert status == 429
    assert "Too many failed sign-ins for this email address; try again in 15 minutes." in text
    # Another email from the same address is not locked out.
    assert _try(limited_client, other.user.email, PASSWORD)[0] == 303
    # An unknown email fails the same way as a wrong password, and is limited the same way.
    for _ in range(3):
        assert _try(limited_client, "nobody@city.example", PASSWORD)[0] == 422
    assert _try(limited_client, "nobody@city.example", PASSWORD)[0] == 429

    # Fifteen minutes later the lock is gone.
    with db.session() as session:
        for attempt in session.scalars(select(LoginAttempt)):
            attempt.attempted_at -= dt.timedelta(minutes=16)
    assert _try(limited_client, email, PASSWORD)[0] == 303
    # A success starts the count again: two new failures do not lock.
    for _ in range(2):
        assert _try(limited_client, email, "wrong password!")[0] == 422
    assert _try(limited_client, email, PASSWORD)[0] == 303
    with db.session() as session:
        actions = session.scalars(select(AuditEvent.action)).all()
    assert actions.count("user.signed_in") == 3


def test_secret_key_is_generated_once_with_private_permissions(tmp_path: Path) -> None:
    settings = Settings(
        database_url="sqlite:///unused.db", archive_dir=tmp_path / "data" / "archive"
    )
    key = load_secret_key(settings)
    path = secret_key_path(settings)
    assert path == tmp_path / "data" / "secret_key"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert len(key) >= 40
    assert load_secret_key(settings) == key
    assert load_secret_key(settings.model_copy(update={"secret_key": "from-env"})) == "from-env"


def test_unknown_user_and_password_rules(db: Database, make_person: MakePerson) -> None:
    person = make_person()
    with db.session() as session:
        user = session.get(User, person.user.id)
        assert user is not None
        # No password yet: cannot sign in with anything.
        assert auth_service.verify_password(session, email=user.email, password="") is None
        with pytest.raises(Invalid, match="at least 12 characters"):
            auth_service.set_password(session, user=user, password="short", actor=Actor.system("t"))
        with pytest.raises(Invalid, match="only spaces"):
            auth_service.set_password(
                session, user=user, password=" " * 12, actor=Actor.system("t")
            )
        auth_service.set_password(session, user=user, password=PASSWORD, actor=Actor.system("t"))
        assert user.password_hash is not None
        assert user.password_hash.startswith("$argon2id$")
        assert auth_service.verify_password(session, email=user.email, password=PASSWORD) is user
        assert auth_service.verify_password(session, email=user.email, password="x" * 12) is None
