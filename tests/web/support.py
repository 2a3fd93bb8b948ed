"""Helpers shared by the page tests (TestClient) and the browser tests."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import BaseRoute

from app.audit.service import Actor
from app.auth import service as auth_service
from app.auth.models import User
from app.db import Database

PASSWORD = "correct horse battery staple"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def give_password(db: Database, user: User, password: str = PASSWORD) -> None:
    with db.session() as session:
        row = session.get(User, user.id)
        assert row is not None
        auth_service.set_password(session, user=row, password=password, actor=Actor.system("tests"))


def csrf_of(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "the page has no CSRF field"
    return match.group(1)


def page_csrf(client: TestClient, path: str = "/login") -> str:
    response = client.get(path)
    assert response.status_code == 200, response.text
    return csrf_of(response.text)


def sign_in(client: TestClient, email: str, password: str = PASSWORD) -> None:
    token = page_csrf(client, "/login")
    response = client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": token, "next": "/"},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text


def app_routes(routes: Sequence[BaseRoute], prefix: str = "") -> Iterator[tuple[str, APIRoute]]:
    """Every endpoint of an app as (full path, route), through included routers too: FastAPI
    keeps an included router as one entry in `app.routes`, not as copies of its routes."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield prefix + route.path, route
            continue
        inner = getattr(route, "original_router", None)
        if inner is not None:
            context = getattr(route, "include_context", None)
            yield from app_routes(inner.routes, prefix + str(getattr(context, "prefix", "")))
