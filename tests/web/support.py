"""Helpers shared by the page tests (TestClient) and the browser tests."""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Iterator, Sequence

from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import BaseRoute

from app.accounts import service as accounts_service
from app.audit.service import Actor
from app.auth import service as auth_service
from app.auth.models import User
from app.collectors import service as capture_service
from app.config import Settings
from app.db import Database, utcnow
from app.errors import Conflict
from app.pipeline import build_capture_context
from app.posts import service as posts_service
from app.posts.models import CapturedVersion
from app.snapshots.models import Snapshot
from app.storage.models import StoredObject
from tests.conftest import MakePerson, Person
from tests.platforms.mastodon_like import MastodonInstance

PASSWORD = "correct horse battery staple"
POST_URL = "https://bsky.app/profile/ann.bsky.social/post/3l6oveex3ii2l"
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


def employee_with_post(
    db: Database,
    make_person: MakePerson,
    handle: str = "ann.bsky.social",
    rkey: str = "3l6oveex3ii2l",
) -> tuple[Person, int]:
    """An employee with a password, a registered Bluesky account and one flagged post."""
    person = make_person()
    give_password(db, person.user)
    with db.session() as session:
        user = session.get(User, person.user.id)
        assert user is not None
        accounts_service.register_account(session, owner=user, platform="bluesky", handle=handle)
        url = f"https://bsky.app/profile/{handle}/post/{rkey}"
        post, _ = posts_service.flag_post(session, user=user, url=url, note="pool hours")
        post_id = post.id
    return person, post_id


def add_version(db: Database, post_id: int, number: int, text: str, *, pdf: bool) -> None:
    """A captured version as the capture pipeline stores it; with `pdf`, a current snapshot
    row too (the PDF bytes themselves belong to the snapshots tests)."""
    with db.session() as session:
        digest = hashlib.sha256(text.encode()).hexdigest()
        version = CapturedVersion(
            post_id=post_id,
            number=number,
            kind="capture",
            captured_at=utcnow(),
            content_hash=digest,
            source_sha256=digest,
            source_json=json.dumps({"text": text}),
            normalized={"text": text},
            text=text,
            collector="bluesky",
            collector_version="1",
        )
        session.add(version)
        session.flush()
        if pdf:
            pdf_hash = hashlib.sha256(f"pdf {post_id} {number}".encode()).hexdigest()
            session.add(
                StoredObject(sha256=pdf_hash, size=10, mime_type="application/pdf", kind="snapshot")
            )
            session.flush()
            session.add(
                Snapshot(version_id=version.id, sha256=pdf_hash, size=10, renderer_version="1")
            )


# --- a loopback Mastodon instance the app may capture from ---------------------------------

SECRET = "555-0142"
TOOT_ID = "117020586180926938"
TOOT = (
    "<p>Pool on Oak St closes in June. Questions: call " + SECRET + ". "
    "Oak St parking stays open.</p>"
)


def capturing_settings(settings: Settings, masto: MastodonInstance, **changes: object) -> Settings:
    """Settings whose capture context may reach the loopback instance (plain HTTP, private
    address), so the app's own pipeline captures from it."""
    return settings.model_copy(
        update={
            "fetch_allow_hosts": masto.netloc,
            "mastodon_plain_http_instances": masto.netloc,
            **changes,
        }
    )


def employee_with_toot(
    db: Database,
    make_person: MakePerson,
    masto: MastodonInstance,
    status_id: str = TOOT_ID,
    content: str = TOOT,
    *,
    media: int = 1,
) -> tuple[Person, int]:
    """An employee with a password, their account on the loopback instance and one flagged
    post there (not captured yet)."""
    masto.add(status_id, content, media=media)
    person = make_person()
    give_password(db, person.user)
    with db.session() as session:
        user = session.get(User, person.user.id)
        assert user is not None
        accounts_service.register_account(
            session, owner=user, platform="mastodon", handle=f"{masto.username}@{masto.netloc}"
        )
        post, _ = posts_service.flag_post(
            session, user=user, url=masto.post_url(status_id), note=None
        )
        post_id = post.id
    return person, post_id


def captured_now(db: Database, settings: Settings, post_id: int) -> None:
    """Capture the post before a visit. A live server with its scheduler on may capture it
    first (a due post is taken within a second), or be capturing it right now (a Conflict):
    either way it ends with its first version."""
    context = build_capture_context(db, settings, worker="browser-test")
    deadline = time.monotonic() + 60
    try:
        while True:
            try:
                outcome = capture_service.capture_now(context, post_id).outcome
                break
            except Conflict:
                assert time.monotonic() < deadline, "the scheduler's capture never ended"
                time.sleep(0.2)
    finally:
        context.client.close()
    assert outcome in ("new_version", "unchanged"), outcome
    with db.session() as session:
        assert session.query(CapturedVersion).filter_by(post_id=post_id).count() == 1
