"""Connecting a Facebook Page through a real OAuth provider on loopback, capturing with the
grant, and what happens when the grant lapses; no token is ever stored, logged or answered
in clear."""

from __future__ import annotations

import logging
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text

from app.accounts.models import SocialAccount
from app.auth.models import User
from app.collectors import service as capture_service
from app.connections.models import ConnectAttempt, ConnectionStatus, PlatformConnection
from app.db import Database
from app.pipeline import build_capture_context
from app.posts import service as posts_service
from app.posts.models import CapturedVersion, FlaggedPost, PostStatus
from tests.conftest import MakePerson
from tests.connections.conftest import PAGE_ID, PAGE_TOKEN, PFBID, STORY, MetaWorld
from tests.oidc_provider import sign_in_at_provider
from tests.web.support import give_password, page_csrf, sign_in

POST_URL = f"https://www.facebook.com/{PAGE_ID}/posts/{PFBID}"


def connect(client: TestClient, world: MetaWorld) -> str:
    """Connect, sign in at the provider, come back; the choose-a-Page page's path."""
    started = client.get("/connections/start", follow_redirects=False)
    assert started.status_code == 303, started.text
    authorization = started.headers["location"]
    query = parse_qs(urlsplit(authorization).query)
    assert authorization.startswith(world.settings.meta_oauth_url)
    assert query["code_challenge_method"] == ["S256"]
    assert query["state"][0]
    assert query["code_challenge"][0]
    back = sign_in_at_provider(authorization, login="ann")
    parts = urlsplit(back)
    came = client.get(f"{parts.path}?{parts.query}", follow_redirects=False)
    assert came.status_code == 303, came.text
    return str(came.headers["location"])


def test_connect_choose_a_page_capture_and_no_token_in_clear(
    meta_client: TestClient,
    meta_world: MetaWorld,
    db: Database,
    make_person: MakePerson,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    person = make_person()
    give_password(db, person.user)
    sign_in(meta_client, person.user.email)

    choose = connect(meta_client, meta_world)
    page = meta_client.get(choose)
    assert page.status_code == 200
    assert "MyLife" in page.text
    assert "mylife.city" in page.text
    token = page_csrf(meta_client, choose)
    chosen = meta_client.post(f"{choose}/pages", data={"csrf_token": token, "page_id": PAGE_ID})
    assert "The account is connected." in chosen.text
    assert "valid until" in chosen.text

    with db.session() as session:
        accounts = session.scalars(select(SocialAccount).order_by(SocialAccount.id)).all()
        assert [a.platform_account_id for a in accounts] == [PAGE_ID, "17841407673135339"]
        assert all(a.access_token == PAGE_TOKEN for a in accounts)
        user = session.get(User, person.user.id)
        assert user is not None
        post, _ = posts_service.flag_post(session, user=user, url=POST_URL, note=None)
        post_id = post.id
        session.commit()

    context = build_capture_context(db, meta_world.settings, worker="meta-test")
    try:
        report = capture_service.capture_now(context, post_id)
    finally:
        context.client.close()
    assert report.outcome == "new_version", report
    with db.session() as session:
        version = session.scalars(
            select(CapturedVersion).where(CapturedVersion.post_id == post_id)
        ).one()
        assert (version.text or "").startswith("Singaporean logistics company")
        assert len(version.media) >= 1
        assert session.get(FlaggedPost, post_id).status == PostStatus.captured  # type: ignore[union-attr]

    # The post page says whose grant captured it and until when it is valid.
    shown = meta_client.get(f"/posts/{post_id}")
    assert "Captured with the grant of" in shown.text
    assert "valid until" in shown.text

    # No token in clear: the database, the audit log, the API, the logs.
    long_lived = meta_world.graph.long_lived
    with db.engine.connect() as raw:
        for table in (
            "platform_connections",
            "social_accounts",
            "audit_events",
            "connect_attempts",
        ):
            dump = " ".join(str(row) for row in raw.execute(text(f"SELECT * FROM {table}")))
            assert long_lived not in dump, table
            assert PAGE_TOKEN not in dump, table
    for path in ("/api/v1/accounts", f"/api/v1/posts/{post_id}", "/accounts"):
        answer = meta_client.get(path)
        assert long_lived not in answer.text, path
        assert PAGE_TOKEN not in answer.text, path
    assert long_lived not in caplog.text
    assert "client_secret" not in caplog.text
    assert "fb_exchange_token=" not in caplog.text  # the short-lived token stays out too
    assert PAGE_TOKEN not in caplog.text


@pytest.mark.usefixtures("meta_world")
def test_a_wrong_state_is_refused_and_nothing_is_stored(
    meta_client: TestClient, db: Database, make_person: MakePerson
) -> None:
    person = make_person()
    give_password(db, person.user)
    sign_in(meta_client, person.user.email)
    started = meta_client.get("/connections/start", follow_redirects=False)
    back = urlsplit(sign_in_at_provider(started.headers["location"], login="ann"))
    query = parse_qs(back.query)
    forged = meta_client.get(
        "/connections/callback", params={"code": query["code"][0], "state": "forged-state"}
    )
    assert forged.status_code == 422
    assert "does not match a connection you started" in forged.text
    with db.session() as session:
        assert session.scalars(select(PlatformConnection)).all() == []
        assert session.scalars(select(SocialAccount)).all() == []
        assert len(session.scalars(select(ConnectAttempt)).all()) == 1  # the real one waits


def _connected_post(
    meta_client: TestClient, meta_world: MetaWorld, db: Database, make_person: MakePerson
) -> int:
    person = make_person()
    give_password(db, person.user)
    sign_in(meta_client, person.user.email)
    choose = connect(meta_client, meta_world)
    token = page_csrf(meta_client, choose)
    meta_client.post(f"{choose}/pages", data={"csrf_token": token, "page_id": PAGE_ID})
    with db.session() as session:
        user = session.get(User, person.user.id)
        assert user is not None
        post, _ = posts_service.flag_post(
            session, user=user, url=f"https://www.facebook.com/{PAGE_ID}/posts/{STORY}", note=None
        )
        session.commit()
        return post.id


@pytest.mark.parametrize("how", ["expired", "revoked"])
def test_a_lapsed_grant_turns_posts_to_reconnect_needed(
    how: str,
    meta_client: TestClient,
    meta_world: MetaWorld,
    db: Database,
    make_person: MakePerson,
) -> None:
    post_id = _connected_post(meta_client, meta_world, db, make_person)
    if how == "expired":
        meta_world.graph.expired.add(PAGE_TOKEN)
    else:
        meta_world.graph.tokens.discard(PAGE_TOKEN)
    context = build_capture_context(db, meta_world.settings, worker="meta-test")
    try:
        report = capture_service.capture_now(context, post_id)
    finally:
        context.client.close()
    assert report.outcome == "not_visible", report
    with db.session() as session:
        post = session.get(FlaggedPost, post_id)
        assert post is not None
        assert post.status == PostStatus.reconnect_needed
        connection = session.scalars(select(PlatformConnection)).one()
        assert connection.status == ConnectionStatus.reconnect_needed
    page = meta_client.get("/accounts")
    assert "Reconnect needed" in page.text
    assert "Reconnect Facebook / Instagram / Threads" in page.text
    assert "Reconnect needed" in meta_client.get(f"/posts/{post_id}").text


def test_disconnecting_deletes_the_tokens_and_keeps_the_accounts(
    meta_client: TestClient, meta_world: MetaWorld, db: Database, make_person: MakePerson
) -> None:
    _connected_post(meta_client, meta_world, db, make_person)
    with db.session() as session:
        connection_id = session.scalars(select(PlatformConnection.id)).one()
    token = page_csrf(meta_client, "/accounts")
    done = meta_client.post(f"/connections/{connection_id}/disconnect", data={"csrf_token": token})
    assert "the token is deleted" in done.text
    with db.session() as session:
        connection = session.get(PlatformConnection, connection_id)
        assert connection is not None
        assert connection.access_token is None
        assert connection.status == ConnectionStatus.disconnected
        assert all(a.access_token is None for a in session.scalars(select(SocialAccount)))


def test_connecting_threads_registers_the_profile_with_its_refreshable_token(
    meta_client: TestClient, meta_world: MetaWorld, db: Database, make_person: MakePerson
) -> None:
    """The Threads grant: the provider issues the code; the Threads API (replayed) makes the
    token long-lived and names the profile, which is registered at once."""
    meta_world.graph.objects["me"] = {"id": "12345678", "username": "cityofexample"}
    person = make_person()
    give_password(db, person.user)
    sign_in(meta_client, person.user.email)
    started = meta_client.get("/connections/start?platform=threads", follow_redirects=False)
    authorization = started.headers["location"]
    assert "threads_basic" in parse_qs(urlsplit(authorization).query)["scope"][0]
    back = urlsplit(sign_in_at_provider(authorization, login="ann"))
    came = meta_client.get(f"{back.path}?{back.query}")
    assert "The account is connected." in came.text
    with db.session() as session:
        connection = session.scalars(select(PlatformConnection)).one()
        assert connection.platform == "threads"
        assert connection.access_token == meta_world.graph.threads_long_lived
        assert connection.expires_at is not None
        account = session.scalars(select(SocialAccount)).one()
        assert (account.platform, account.handle) == ("threads", "cityofexample")
        assert account.connection_id == connection.id
