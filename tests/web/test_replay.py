"""An officer opens a post captured by the browser and sees its web archive replayed (by
ReplayWeb.page, installed by scripts/install-replay) showing the post's text.

ReplayWeb.page opens its frame at its replayBase (app.http_guards.REPLAY_FRAME_PATH) as soon as
its service worker is registered, and the server or the worker answers that first load,
whichever is first: both ways are run, the second by holding the server's answer back until
the worker has claimed the frame."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Route, expect

from app.config import Settings
from app.db import Database
from app.http_guards import REPLAY_FRAME_PATH
from app.pipeline import build_capture_context
from app.storage.local import LocalStore
from app.web.evidence_pages import REPLAY_DIR
from tests.conftest import MakePerson
from tests.loopback import Loopback
from tests.platforms.web.conftest import chromium_or_skip
from tests.platforms.web.sites import POST_TEXT, SiteState, social_site
from tests.web.conftest import MakeVisitor
from tests.web.support import PASSWORD, give_password

pytestmark = pytest.mark.browser


@pytest.fixture
def site() -> Iterator[Loopback]:
    with social_site(SiteState()) as server:
        yield server


@pytest.fixture
def settings(settings: Settings, site: Loopback) -> Settings:
    return settings.model_copy(
        update={
            "fetch_allow_hosts": site.netloc,
            "fetch_plain_http_hosts": site.netloc,
            "chromium": chromium_or_skip(),
            "run_scheduler": False,
        }
    )


@pytest.mark.parametrize("frame_delay_s", [0.0, 2.0], ids=["as-it-comes", "slow-frame"])
def test_officer_replays_a_captured_post(
    frame_delay_s: float,
    client: TestClient,
    visitor: MakeVisitor,
    db: Database,
    settings: Settings,
    make_person: MakePerson,
    site: Loopback,
) -> None:
    assert (REPLAY_DIR / "ui.js").exists(), "run scripts/install-replay"
    ctx = build_capture_context(db, settings, store=LocalStore(settings.archive_dir))
    client.app.state.capture_context = lambda: ctx  # type: ignore[attr-defined]
    pat = make_person()
    r = client.post(
        "/api/v1/accounts",
        json={"platform": "web", "profile_url": f"{site.base_url}/pat.employee"},
        headers=pat.headers,
    )
    assert r.status_code in (200, 201), r.text
    r = client.post(
        "/api/v1/posts",
        json={"url": f"{site.base_url}/pat.employee/posts/1001"},
        headers=pat.headers,
    )
    post_id = r.json()["id"]
    done = client.post(f"/api/v1/posts/{post_id}/capture", headers=pat.headers).json()
    assert done["outcome"] == "new_version", done
    ctx.client.close()

    officer = make_person("records_officer")
    give_password(db, officer.user)
    rosa = visitor()
    rosa.page.set_viewport_size({"width": 1280, "height": 900})
    rosa.sign_in(officer.user.email, PASSWORD)
    # What the browser said, for the failure message: console errors and refused requests.
    said: list[str] = []
    rosa.page.on("console", lambda m: said.append(f"{m.type}: {m.text}"))
    rosa.page.on("pageerror", lambda e: said.append(f"page error: {e}"))
    rosa.page.on("requestfailed", lambda r: said.append(f"failed: {r.url} {r.failure}"))
    if frame_delay_s:

        def slow(route: Route) -> None:
            time.sleep(frame_delay_s)
            route.continue_()

        rosa.page.route(f"**{REPLAY_FRAME_PATH}?*", slow)
    rosa.go(f"/posts/{post_id}")
    download = rosa.page.get_by_role("link", name="Download WACZ of version 1")
    expect(download).to_be_visible()
    assert rosa.fetch_link(download).body()[:2] == b"PK"
    rosa.page.get_by_role("link", name="Replay the web archive of version 1").click()
    expect(
        rosa.page.get_by_role("heading", name=f"Version 1 of post {post_id}, replayed")
    ).to_be_visible()

    # ReplayWeb.page draws the archived page in nested frames; one of them shows the post.
    deadline = time.monotonic() + 60
    while True:
        shown = [f for f in rosa.page.frames if _has_text(f, POST_TEXT)]
        if shown:
            break
        if time.monotonic() > deadline:
            rosa.shoot("replay-failed")
            raise AssertionError(
                f"the replay never showed the post; frames: {[f.url for f in rosa.page.frames]}"
                f"; the browser said: {said}"
            )
        time.sleep(0.5)
    assert not [f for f in rosa.page.frames if f.url.startswith("chrome-error:")]
    # The replay frame's policy (app/web/evidence_pages.py) allows all the replay needs.
    assert not [m for m in said if "Content Security Policy" in m], said
    rosa.shoot("replay")


def _has_text(frame: object, text: str) -> bool:
    try:
        content: str = frame.content()  # type: ignore[attr-defined]
    except Exception:
        return False
    return text in content
