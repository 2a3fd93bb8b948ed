"""MediaWiki end to end through the API and the capture pipeline: register a user page, flag
revisions of a real MediaWiki 1.39 (refused when they are another user's), capture them with
their file, then see page deletion and revision deletion become removal versions; and a
truncated answer from the replayed wiki that loses nothing archived."""

from __future__ import annotations

import hashlib
import io
import uuid
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from app.collectors.service import CaptureContext
from app.config import Settings
from app.db import Database
from app.pipeline import build_capture_context
from app.platforms.mediawiki import PLATFORM
from app.storage.local import LocalStore
from tests.conftest import MakePerson, Person
from tests.loopback import Reply
from tests.platforms.mediawiki.replay import REVISION, ReplayWiki, replay_wiki
from tests.platforms.mediawiki.wiki import Wiki

ApiFor = Callable[[str], TestClient]


def png(seed: int) -> bytes:
    from PIL import Image

    image = Image.new("RGB", (5, 5), (seed % 256, 200, 30))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def wiki_settings(settings: Settings, netloc: str) -> Settings:
    return settings.model_copy(
        update={"fetch_allow_hosts": netloc, "fetch_plain_http_hosts": netloc}
    )


def capture_context(db: Database, settings: Settings) -> CaptureContext:
    context = build_capture_context(
        db, settings, store=LocalStore(settings.archive_dir), worker="test-worker"
    )
    return context


@pytest.fixture
def api_for(client: TestClient, db: Database, settings: Settings) -> Iterator[ApiFor]:
    contexts: list[CaptureContext] = []

    def make(netloc: str) -> TestClient:
        allowed = wiki_settings(settings, netloc)
        client.app.state.settings = allowed  # type: ignore[attr-defined]
        context = capture_context(db, allowed)
        contexts.append(context)
        client.app.state.capture_context = lambda: context  # type: ignore[attr-defined]
        return client

    yield make
    for context in contexts:
        context.client.close()


def register(api: TestClient, who: Person, user_page: str) -> None:
    r = api.post(
        "/api/v1/accounts",
        json={"platform": PLATFORM.id, "profile_url": user_page},
        headers=who.headers,
    )
    assert r.status_code in (200, 201), r.text


def flag(api: TestClient, who: Person, url: str) -> tuple[int, dict[str, object]]:
    r = api.post("/api/v1/posts", json={"url": url}, headers=who.headers)
    data: dict[str, object] = r.json()
    return r.status_code, data


def capture(api: TestClient, who: Person, post_id: object) -> dict[str, object]:
    r = api.post(f"/api/v1/posts/{post_id}/capture", headers=who.headers)
    assert r.status_code == 200, r.text
    data: dict[str, object] = r.json()
    return data


@pytest.mark.mediawiki
def test_flag_capture_and_removals_on_a_real_wiki(
    api_for: ApiFor,
    make_person: MakePerson,
    wiki: Wiki,
    settings: Settings,
) -> None:
    api: TestClient = api_for(wiki.netloc)
    ann = make_person()
    register(api, ann, wiki.page_url("User:Alice"))
    alice, bob = wiki.user("Alice"), wiki.user("Bob")
    title = f"Council minutes {uuid.uuid4().hex[:8]}"
    slug = title.replace(" ", "_")
    file_name = f"Seal-{uuid.uuid4().hex[:8]}.png"
    image = png(7)
    alice.upload(file_name, image)
    first = alice.edit(title, "Minutes, draft.", "draft")
    mine = alice.edit(title, f"Minutes, approved.\n\n[[File:{file_name}]]", "approved")
    theirs = bob.edit(title, "Minutes, approved (typo fixed).", "typo")

    status, refused = flag(
        api, ann, f"{wiki.base_url}/index.php?title={slug}&diff={theirs}&oldid={mine}"
    )
    assert status == 422
    assert "was made by Bob, not by your account Alice" in str(refused["detail"])

    status, post = flag(
        api, ann, f"{wiki.base_url}/index.php?title={slug}&diff={mine}&oldid={first}"
    )
    assert status == 201, post
    status, same = flag(api, ann, f"{wiki.base_url}/wiki/Special:Diff/{mine}")
    assert status == 200
    assert same["id"] == post["id"]

    for near_miss in (wiki.page_url("User:Alice"), f"{wiki.base_url}/index.php?search=minutes"):
        status, answer = flag(api, ann, near_miss)
        assert status == 422
        assert "MediaWiki" in str(answer["detail"])

    captured = capture(api, ann, post["id"])
    assert captured["outcome"] == "new_version", captured
    versions = api.get(f"/api/v1/posts/{post['id']}/versions", headers=ann.headers).json()
    assert len(versions) == 1
    assert "Minutes, approved." in versions[0]["text"]
    assert title in versions[0]["text"]  # the page title leads the version's text
    media = [m for m in versions[0]["media"] if m["role"] == "image"]
    assert [m["sha256"] for m in media] == [hashlib.sha256(image).hexdigest()]
    assert LocalStore(settings.archive_dir).get(media[0]["sha256"]) == image

    again = capture(api, ann, post["id"])
    assert again["outcome"] == "unchanged"
    assert again["http_requests"] == 1

    wiki.user("Admin").hide_revision(mine, hide="content")
    removed = capture(api, ann, post["id"])
    assert removed["outcome"] == "removed"
    assert "texthidden" in str(removed["detail"])
    detail = api.get(f"/api/v1/posts/{post['id']}", headers=ann.headers).json()
    assert detail["status"] == "removed"
    assert detail["removed_at"] is not None
    versions = api.get(f"/api/v1/posts/{post['id']}/versions", headers=ann.headers).json()
    assert [v["kind"] for v in versions] == ["capture", "removal"]
    assert "revision deletion" in versions[1]["diff_from_previous"]

    # A second post, removed by page deletion.
    other_title = f"Notice {uuid.uuid4().hex[:8]}"
    revision = alice.edit(other_title, "Pool closed.", "notice")
    status, other = flag(api, ann, f"{wiki.base_url}/index.php?oldid={revision}")
    assert status == 201
    assert capture(api, ann, other["id"])["outcome"] == "new_version"
    wiki.user("Admin").delete_page(other_title)
    gone = capture(api, ann, other["id"])
    assert gone["outcome"] == "removed"
    assert "page deletion" in str(gone["detail"])


@pytest.fixture
def replay() -> Iterator[ReplayWiki]:
    with replay_wiki() as wiki:
        yield wiki


def test_a_truncated_answer_loses_nothing_and_the_post_shows_the_error(
    api_for: ApiFor,
    make_person: MakePerson,
    replay: ReplayWiki,
) -> None:
    api: TestClient = api_for(replay.netloc)
    ann = make_person()
    register(api, ann, replay.user_page)
    status, post = flag(api, ann, replay.revision_url())
    assert status == 201, post
    assert capture(api, ann, post["id"])["outcome"] == "new_version"
    before = api.get(f"/api/v1/posts/{post['id']}/versions", headers=ann.headers).json()

    replay.faults["check"] = Reply(
        200,
        b'{"batchcomplete":true,"query":{"pages":[{"pageid":2,',
        {"Content-Type": "application/json"},
    )
    failed = capture(api, ann, post["id"])
    assert failed["outcome"] == "failed"
    assert "not valid JSON" in str(failed["detail"])
    detail = api.get(f"/api/v1/posts/{post['id']}", headers=ann.headers).json()
    assert "not valid JSON" in detail["last_error"]
    after = api.get(f"/api/v1/posts/{post['id']}/versions", headers=ann.headers).json()
    assert after == before  # the archived version is untouched
    assert str(REVISION) in str(post["url"])
