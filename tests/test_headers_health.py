"""Headers and health (issue 13, item 11): nosniff and frame-ancestors 'none' on every
response, /docs from the app's own assets under a CSP, Secure cookies when the public URL is
https, and /healthz naming a (nearly) full archive disk."""

from __future__ import annotations

import hashlib
import re

import httpx
from fastapi.testclient import TestClient

from app.config import Settings
from app.db import Database
from app.http_guards import REPLAY_FRAME_PATH
from app.main import create_app
from app.posts.models import CapturedVersion
from app.snapshots.models import Snapshot
from app.storage.local import LocalStore
from app.storage.models import StoredObject
from app.web.security import COOKIE_NAME
from tests.conftest import MakePerson
from tests.web.support import add_version, employee_with_post, give_password


def _framing_refused(response: httpx.Response) -> None:
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


def test_every_response_carries_nosniff_and_frame_ancestors(
    client: TestClient, db: Database, make_person: MakePerson, settings: Settings
) -> None:
    person, post_id = employee_with_post(db, make_person)
    add_version(db, post_id, 1, "pool hours", pdf=False)
    # A real snapshot PDF in the archive, served by the API.
    pdf = b"%PDF-1.7\n% a snapshot stand-in the API serves byte for byte\n%%EOF\n"
    sha = LocalStore(settings.archive_dir).put(pdf, mime_type="application/pdf")
    assert sha == hashlib.sha256(pdf).hexdigest()
    with db.session() as session:
        version = session.query(CapturedVersion).filter_by(post_id=post_id).one()
        session.add(
            StoredObject(sha256=sha, size=len(pdf), mime_type="application/pdf", kind="snapshot")
        )
        session.flush()
        session.add(
            Snapshot(version_id=version.id, sha256=sha, size=len(pdf), renderer_version="1")
        )

    responses = [
        client.get("/api/v1/me", headers=person.headers),
        client.get("/api/v1/me"),  # 401
        client.get("/api/v1/nothing-here"),  # 404
        client.get("/api/v1/posts/abc", headers=person.headers),  # 422
        client.get("/healthz"),
        client.get("/openapi.json"),
        client.get("/static/style.css"),
        client.get("/login"),
        client.get(f"/api/v1/posts/{post_id}/versions/1/snapshot.pdf", headers=person.headers),
    ]
    for response in responses:
        _framing_refused(response)
    assert responses[-1].status_code == 200
    assert responses[-1].content == pdf
    # The pages keep their own, stricter policy.
    assert "script-src 'self'" in responses[7].headers["content-security-policy"]


def test_docs_are_served_from_the_app_under_a_csp(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "<script>" not in page.text  # no inline script: the start-up code is a file
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources
    for source in sources:
        assert source.startswith("/"), f"/docs loads {source} from elsewhere"
        asset = client.get(source)
        assert asset.status_code == 200, source
        assert asset.content
    redoc = client.get("/redoc")
    assert redoc.status_code == 200
    for source in re.findall(r'(?:src|href)="([^"]+)"', redoc.text):
        assert source.startswith("/")
        assert client.get(source).status_code == 200


def test_cookies_are_secure_when_the_public_url_is_https(
    settings: Settings, db: Database, make_person: MakePerson
) -> None:
    person = make_person()
    give_password(db, person.user)
    for public_url, secure in (("https://archive.city.example", True), (None, False)):
        app = create_app(settings.model_copy(update={"public_url": public_url}), database=db)
        # The proxy speaks plain HTTP to PostVault; only the public URL says https.
        with TestClient(app, base_url="http://testserver") as client:
            cookie = client.get("/login").headers["set-cookie"]
        assert cookie.startswith(f"{COOKIE_NAME}=")
        assert ("; Secure" in cookie) is secure, cookie


def test_healthz_reports_a_nearly_full_archive_disk(settings: Settings, db: Database) -> None:
    roomy = create_app(settings.model_copy(update={"archive_disk_min_free_mb": 0}), database=db)
    with TestClient(roomy) as client:
        health = client.get("/healthz")
    assert health.status_code == 200
    assert health.json()["archive_disk"] == "ok"
    # A threshold above any disk's size: the disk counts as nearly full.
    cramped = create_app(
        settings.model_copy(update={"archive_disk_min_free_mb": 10**12}), database=db
    )
    with TestClient(cramped) as client:
        health = client.get("/healthz")
    assert health.status_code == 503
    body = health.json()
    assert body["status"] == "failing"
    assert body["archive_disk"].startswith("nearly full: ")
    assert "MB free" in body["archive_disk"]


def test_only_the_replay_frame_may_be_framed_and_only_by_this_origin(
    client: TestClient, db: Database, make_person: MakePerson
) -> None:
    """ReplayWeb.page's frame (its replayBase, which the server answers until ReplayWeb.page's
    service worker does) may be framed by PostVault's own pages; nothing else may, the
    replay's scripts, other paths under it and the replay page included."""
    person, post_id = employee_with_post(db, make_person)
    query = "?source=%2Fapi%2Fv1%2Fposts%2F1%2Fversions%2F1%2Fcapture.wacz&embed=replayonly"
    frame = client.get(f"{REPLAY_FRAME_PATH}{query}", headers={"sec-fetch-dest": "iframe"})
    assert frame.status_code == 200
    assert frame.headers["content-type"].startswith("text/html")
    assert frame.headers["x-frame-options"] == "SAMEORIGIN"
    assert frame.headers["x-content-type-options"] == "nosniff"
    # Framed by this origin only; ReplayWeb.page's own script, nothing inline, nothing else.
    directives = [d.strip() for d in frame.headers["content-security-policy"].split(";")]
    assert [d for d in directives if d.startswith("frame-ancestors")] == ["frame-ancestors 'self'"]
    assert "default-src 'self'" in directives
    assert "script-src 'self'" in directives
    assert "object-src 'none'" in directives
    assert re.findall(r"<script[^>]*>", frame.text) == ['<script src="ui.js">']
    assert frame.headers["cache-control"] == "no-store"
    assert "service-worker-allowed" not in frame.headers

    # Only as a frame: opened in a tab (or followed as a link) it is refused.
    tab = client.get(f"{REPLAY_FRAME_PATH}{query}", headers={"sec-fetch-dest": "document"})
    assert tab.status_code == 404
    assert "open the replay from a post's page" in tab.json()["detail"]
    assert "<replay-app-main>" not in tab.text

    others = [
        client.get(f"{REPLAY_FRAME_PATH}ui.js"),
        client.get(f"{REPLAY_FRAME_PATH}sw.js?serveIndex=1"),
        client.get(f"{REPLAY_FRAME_PATH}index.html"),
        client.get(f"{REPLAY_FRAME_PATH}w/id-1/mp_/https://example.org/"),
        client.get(f"{REPLAY_FRAME_PATH}..%2F..%2Flogin"),
        client.get(REPLAY_FRAME_PATH.rstrip("/"), follow_redirects=False),
        client.get("/static/style.css"),
        client.get("/login"),
        client.get(f"/posts/{post_id}/versions/1/replay"),
        client.get(f"/api/v1/posts/{post_id}/versions/1/capture.wacz", headers=person.headers),
    ]
    for response in others:
        assert response.headers["x-frame-options"] == "DENY", response.url
        _framing_refused(response)
        assert "frame-ancestors 'self'" not in response.headers["content-security-policy"]
        assert "service-worker-allowed" not in response.headers
