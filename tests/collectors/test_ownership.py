"""Issue 13 items 3 and 6: flags never leak another employee's post, a captured post must be
by the account it is flagged under, and nothing is ever `captured` with no version archived.
Real Mastodon-shaped and blog servers on loopback, the app's own capture pipeline."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.accounts.models import SocialAccount
from app.audit.models import AuditEvent
from app.collectors.service import CaptureContext
from app.config import Settings
from app.db import Database
from app.pipeline import build_capture_context
from app.posts.models import CapturedVersion
from app.storage.local import LocalStore
from tests.conftest import MakePerson, Person
from tests.loopback import Loopback, Reply, serve
from tests.platforms.mastodon_like import MastodonInstance, mastodon_instance

STATUS_ID = "117020586180926938"
ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>Parks Department blog</title>
  <id>urn:uuid:60a76c80-d399-11d9-b91c-0003939e0af6</id>
  <updated>2026-06-02T09:00:00Z</updated>
  <link href="{base}/"/>
  <entry>
    <title>Pool closure in June</title>
    <id>tag:parks.example.gov,2026:post-7</id>
    <link rel="alternate" href="{base}/2026/06/pool-closure"/>
    <published>2026-06-01T17:00:00Z</published>
    <updated>2026-06-02T09:00:00Z</updated>
    <author><name>Pat Parks</name></author>
    <content type="html">&lt;p&gt;The Oak St pool closure lasts all of June.&lt;/p&gt;</content>
  </entry>
</feed>
"""


@pytest.fixture
def masto() -> Iterator[MastodonInstance]:
    with mastodon_instance() as instance:
        yield instance


@pytest.fixture
def blog() -> Iterator[Loopback]:
    box: list[Loopback] = []

    def handler(_method: str, path: str, _headers: dict[str, str], _body: bytes) -> Reply:
        base = box[0].base_url
        if path in ("/feed.xml", "/other-feed.xml"):
            return Reply(
                200, ATOM.format(base=base).encode(), {"Content-Type": "application/atom+xml"}
            )
        if path.startswith("/2026/"):  # every entry's page answers, in the feed or not
            return Reply(200, b"<html><body>An entry</body></html>", {"Content-Type": "text/html"})
        return Reply(404, b"not found")

    with serve(handler) as loopback:
        box.append(loopback)
        yield loopback


@pytest.fixture
def api(
    client: TestClient, db: Database, settings: Settings, masto: MastodonInstance, blog: Loopback
) -> Iterator[TestClient]:
    hosts = f"{masto.netloc},{blog.netloc}"
    configured = settings.model_copy(
        update={
            "fetch_allow_hosts": hosts,
            "mastodon_plain_http_instances": masto.netloc,
            "fetch_plain_http_hosts": blog.netloc,  # the blog's accounts are http:// URLs
        }
    )
    context: CaptureContext = build_capture_context(
        db, configured, store=LocalStore(settings.archive_dir), worker="ownership"
    )
    client.app.state.capture_context = lambda: context  # type: ignore[attr-defined]
    client.app.state.settings = configured  # type: ignore[attr-defined]  # plain-HTTP hosts
    yield client
    context.client.close()


def ok(response: httpx.Response) -> Any:
    assert 200 <= response.status_code < 300, response.text
    return response.json()


def register(api: TestClient, who: Person, **body: str) -> None:
    ok(api.post("/api/v1/accounts", json=body, headers=who.headers))


def flag(api: TestClient, who: Person, url: str, note: str | None = None) -> httpx.Response:
    response: httpx.Response = api.post(
        "/api/v1/posts", json={"url": url, "note": note}, headers=who.headers
    )
    return response


def versions_of(db: Database, post_id: int) -> int:
    with db.session() as session:
        return (
            session.scalar(
                select(func.count())
                .select_from(CapturedVersion)
                .where(CapturedVersion.post_id == post_id)
            )
            or 0
        )


def test_a_flag_for_another_employees_post_reveals_nothing_of_it(
    api: TestClient, make_person: MakePerson, masto: MastodonInstance, blog: Loopback
) -> None:
    ann, bob = make_person(), make_person()
    masto.add(STATUS_ID, "<p>Pool closes in June.</p>")
    register(api, ann, platform="mastodon", handle=f"parks@{masto.netloc}")
    register(api, ann, profile_url=f"{blog.base_url}/feed.xml")
    toot = ok(flag(api, ann, masto.post_url(STATUS_ID), note="Ann's private note"))
    entry_url = f"{blog.base_url}/2026/06/pool-closure"
    entry = ok(flag(api, ann, entry_url, note="Ann's other note"))

    # Bob: his own Mastodon account on the same instance, and another feed on the same site.
    register(api, bob, platform="mastodon", handle=f"bob@{masto.netloc}")
    register(api, bob, profile_url=f"{blog.base_url}/other-feed.xml")
    for url in (f"https://{masto.netloc}/@bob/{STATUS_ID}", entry_url):
        refused = flag(api, bob, url)
        assert refused.status_code == 409, refused.text
        assert refused.json() == {"detail": "this post is already archived for another account"}
        for leaked in ("Ann", str(toot["id"]), str(entry["id"]), "note", "flagged_by"):
            assert leaked not in refused.text
    # Ann flagging her own post again still gets it back.
    assert flag(api, ann, masto.post_url(STATUS_ID)).status_code == 200


def test_a_status_by_someone_else_is_a_capture_outcome_not_an_archive(
    api: TestClient, db: Database, make_person: MakePerson, masto: MastodonInstance
) -> None:
    """Bob names a colleague's status under his own account (status ids are global to an
    instance): the capture finds the author is not Bob's account and archives nothing."""
    bob = make_person()
    officer = make_person("records_officer")
    masto.add(STATUS_ID, "<p>Written by parks, not by bob.</p>")
    register(api, bob, platform="mastodon", handle=f"bob@{masto.netloc}")
    post = ok(flag(api, bob, f"https://{masto.netloc}/@bob/{STATUS_ID}"))
    captured = ok(api.post(f"/api/v1/posts/{post['id']}/capture", headers=bob.headers))
    assert captured["outcome"] == "author_mismatch"
    assert "the post is by parks@" in captured["detail"]
    assert versions_of(db, post["id"]) == 0

    seen = ok(api.get(f"/api/v1/posts/{post['id']}", headers=officer.headers))
    assert seen["status"] == "unavailable"
    assert "not by the registered account" in seen["last_error"]
    assert seen["versions"] == []
    with db.session() as session:
        assert session.scalar(
            select(AuditEvent.action).where(
                AuditEvent.object_type == "post",
                AuditEvent.object_id == str(post["id"]),
                AuditEvent.action == "capture.author_mismatch",
            )
        )
    # Bob's account did not learn the colleague's account id from the status.
    with db.session() as session:
        ids = session.scalars(
            select(SocialAccount.platform_account_id).where(SocialAccount.owner_id == bob.user.id)
        )
        assert list(ids) == [None]


def test_a_feed_post_not_in_the_feed_is_never_captured_with_nothing(
    api: TestClient, db: Database, make_person: MakePerson, blog: Loopback
) -> None:
    ann = make_person()
    register(api, ann, profile_url=f"{blog.base_url}/feed.xml")
    post = ok(flag(api, ann, f"{blog.base_url}/2026/07/not-in-the-feed"))
    captured = ok(api.post(f"/api/v1/posts/{post['id']}/capture", headers=ann.headers))
    assert captured["outcome"] == "not_captured"
    assert "not in the feed" in captured["detail"]
    seen = ok(api.get(f"/api/v1/posts/{post['id']}", headers=ann.headers))
    assert seen["status"] == "unavailable"
    assert "not in the feed" in seen["last_error"]
    assert versions_of(db, post["id"]) == 0
    # The entry the feed lists is captured as before.
    listed = ok(flag(api, ann, f"{blog.base_url}/2026/06/pool-closure"))
    assert (
        ok(api.post(f"/api/v1/posts/{listed['id']}/capture", headers=ann.headers))["outcome"]
        == "new_version"
    )
