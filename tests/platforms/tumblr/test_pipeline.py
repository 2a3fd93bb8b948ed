"""Tumblr end to end: flag by URL → capture → versions, media, edits, notes, removal,
failures and the 429 pause, against the loopback Tumblr."""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import select

from app.collectors.service import CaptureContext
from app.config import Settings
from app.db import Database
from app.pipeline import build_capture_context
from app.platforms.fetcher import Fetcher
from app.platforms.ratelimit import HostLimiter
from app.platforms.tumblr import PLATFORM
from app.posts.models import CapturedVersion, FlaggedPost
from app.storage.local import LocalStore
from tests.collectors.servers import Answer
from tests.conftest import MakePerson, Person
from tests.platforms.tumblr.conftest import no_sleep
from tests.platforms.tumblr.server import BLOG, KEY, PAGE_IDS, VIDEO_ID, TumblrApi, tiny_mp4

POST = PAGE_IDS[1]


def tumblr_settings(settings: Settings, api: TumblrApi, *, key: str | None = KEY) -> Settings:
    return settings.model_copy(
        update={
            "fetch_allow_hosts": api.host,
            "fetch_plain_http_hosts": api.host,
            "tumblr_api_url": api.base_url,
            "tumblr_api_key": None if key is None else SecretStr(key),
            "tumblr_blog_url": api.blog_url_template,
            "capture_max_failures": 3,
        }
    )


def tumblr_context(db: Database, settings: Settings, api: TumblrApi) -> CaptureContext:
    fetcher = Fetcher.from_settings(settings).with_(
        limiter=HostLimiter(), sleep=no_sleep, clock=api.clock
    )
    context = build_capture_context(
        db,
        settings,
        store=LocalStore(settings.archive_dir),
        collectors={PLATFORM.id: PLATFORM.collector(settings, fetcher)},
        worker="tumblr-test",
    )
    context.clock = api.clock
    return context


@pytest.fixture
def ctx(db: Database, settings: Settings, api: TumblrApi) -> Iterator[CaptureContext]:
    context = tumblr_context(db, tumblr_settings(settings, api), api)
    yield context
    context.client.close()


@pytest.fixture
def web(client: TestClient, ctx: CaptureContext) -> TestClient:
    client.app.state.capture_context = lambda: ctx  # type: ignore[attr-defined]
    return client


def flag(client: TestClient, who: Person, url: str, handle: str = BLOG) -> int:
    r = client.post(
        "/api/v1/accounts", json={"platform": PLATFORM.id, "handle": handle}, headers=who.headers
    )
    assert r.status_code in (200, 201, 409), r.text
    r = client.post("/api/v1/posts", json={"url": url}, headers=who.headers)
    assert r.status_code in (200, 201), r.text
    post_id: int = r.json()["id"]
    return post_id


def capture(client: TestClient, who: Person, post_id: int, api: TumblrApi) -> dict[str, object]:
    api.now += dt.timedelta(seconds=1)
    r = client.post(f"/api/v1/posts/{post_id}/capture", headers=who.headers)
    assert r.status_code == 200, r.text
    data: dict[str, object] = r.json()
    return data


def versions(client: TestClient, who: Person, post_id: int) -> list[dict[str, object]]:
    r = client.get(f"/api/v1/posts/{post_id}/versions", headers=who.headers)
    assert r.status_code == 200, r.text
    data: list[dict[str, object]] = r.json()
    return data


def test_flag_capture_notes_edit_delete(
    web: TestClient, make_person: MakePerson, api: TumblrApi, settings: Settings, db: Database
) -> None:
    ann = make_person()
    post_id = flag(web, ann, f"https://www.tumblr.com/{BLOG}/{POST}/another-fun-trip?source=share")
    post = web.get(f"/api/v1/posts/{post_id}", headers=ann.headers).json()
    assert post["platform"] == PLATFORM.id
    assert post["url"] == f"https://{BLOG}.tumblr.com/post/{POST}"

    first = capture(web, ann, post_id, api)
    assert first["outcome"] == "new_version", first
    [v1] = versions(web, ann, post_id)
    media = v1["media"]
    assert isinstance(media, list)
    assert sorted(m["role"] for m in media) == ["avatar"] + ["image"] * 10
    store = LocalStore(settings.archive_dir)
    for item in media:
        assert store.get(item["sha256"])

    api.like(POST, 12)  # the note count changes: not a new version
    assert capture(web, ann, post_id, api)["outcome"] == "unchanged"

    api.reply(POST, "neighbour", "Is the pool open on Sunday?")
    replied = capture(web, ann, post_id, api)
    assert replied["outcome"] == "new_version", replied
    with db.session() as session:
        latest = session.scalars(
            select(CapturedVersion)
            .where(CapturedVersion.post_id == post_id)
            .order_by(CapturedVersion.number.desc())
        ).first()
        assert latest is not None
        assert latest.normalized is not None
        replies = latest.normalized["replies"]
    assert [(r["author"]["handle"], r["text"]) for r in replies] == [
        ("neighbour", "Is the pool open on Sunday?")
    ]

    api.edit(POST, "Another fun trip for sports! Edited: it was regionals.")
    edited = capture(web, ann, post_id, api)
    assert edited["outcome"] == "new_version", edited
    all_versions = versions(web, ann, post_id)
    assert [v["number"] for v in all_versions] == [1, 2, 3]
    assert all_versions[2]["text"] == "Another fun trip for sports! Edited: it was regionals."

    api.delete(POST)
    removed = capture(web, ann, post_id, api)
    assert removed["outcome"] == "removed", removed
    assert "the post was deleted" in str(removed["detail"])
    with db.session() as session:
        row = session.get(FlaggedPost, post_id)
        assert row is not None
        assert row.removed_at is not None


def test_a_video_is_downloaded_through_the_media_pipeline(
    web: TestClient, make_person: MakePerson, api: TumblrApi, settings: Settings
) -> None:
    ann = make_person()
    post_id = flag(web, ann, f"https://{BLOG}.tumblr.com/post/{VIDEO_ID}/when-it-finally-rains")
    assert capture(web, ann, post_id, api)["outcome"] == "new_version"
    media = versions(web, ann, post_id)[0]["media"]
    assert isinstance(media, list)
    by_role = {m["role"]: m for m in media}
    assert set(by_role) == {"video", "thumbnail", "avatar"}
    assert LocalStore(settings.archive_dir).get(by_role["video"]["sha256"]) == tiny_mp4()


def test_a_malformed_answer_loses_nothing_and_the_post_says_why(
    web: TestClient, make_person: MakePerson, api: TumblrApi, settings: Settings
) -> None:
    ann = make_person()
    post_id = flag(web, ann, f"https://tumblr.com/{BLOG}/{POST}")
    assert capture(web, ann, post_id, api)["outcome"] == "new_version"
    before = versions(web, ann, post_id)
    api.script[f"/v2/blog/{BLOG}.tumblr.com/posts"] = [
        Answer(200, [("Content-Type", "application/json")], b'{"meta": {"status": 200, "msg": "O')
    ]
    failed = capture(web, ann, post_id, api)
    assert failed["outcome"] == "failed"
    assert "not valid JSON" in str(failed["detail"])
    assert versions(web, ann, post_id) == before
    post = web.get(f"/api/v1/posts/{post_id}", headers=ann.headers).json()
    assert "not valid JSON" in post["last_error"]
    store = LocalStore(settings.archive_dir)
    for item in before[0]["media"]:  # type: ignore[attr-defined]
        assert store.get(item["sha256"])


def test_a_429_defers_the_poll_to_the_reset(
    web: TestClient, make_person: MakePerson, api: TumblrApi, db: Database
) -> None:
    ann = make_person()
    post_id = flag(web, ann, f"https://{BLOG}.tumblr.com/post/{POST}")
    api.exhaust("hour")
    api.now += dt.timedelta(seconds=1)
    reset = api.reset_at("hour")
    r = web.post(f"/api/v1/posts/{post_id}/capture", headers=ann.headers)
    assert r.status_code == 200, r.text
    assert r.json()["outcome"] == "rate_limited"
    with db.session() as session:
        row = session.get(FlaggedPost, post_id)
        assert row is not None
        assert row.next_poll_at is not None
        assert abs((row.next_poll_at - reset).total_seconds()) <= 1  # Perhour-Reset


def test_without_a_key_the_feed_is_captured_and_the_post_says_notes_are_not(
    client: TestClient, make_person: MakePerson, api: TumblrApi, settings: Settings, db: Database
) -> None:
    context = tumblr_context(db, tumblr_settings(settings, api, key=None), api)
    client.app.state.capture_context = lambda: context  # type: ignore[attr-defined]
    ann = make_person()
    post_id = flag(client, ann, f"https://{BLOG}.tumblr.com/post/{POST}")
    result = capture(client, ann, post_id, api)
    assert result["outcome"] == "new_version", result
    [version] = versions(client, ann, post_id)
    assert str(version["text"]).startswith("Another fun trip for sports!")
    assert version["replies_captured"] is False
    assert all("/v2/" not in r.route for r in api.server.requests)
    from app.auth.models import User
    from app.web.service import post_page

    with db.session() as session:
        viewer = session.get(User, ann.user.id)
        assert viewer is not None
        notes = post_page(session, viewer=viewer, post_id=post_id).notes
    assert notes == [
        "Tumblr: captured from the blog's RSS feed.",
        "Tumblr notes: notes (replies and reblogs with comments) are read only through the "
        "API: set POSTVAULT_TUMBLR_API_KEY.",
    ]
    context.client.close()


def test_a_profile_or_search_url_is_refused_naming_tumblr(
    client: TestClient, make_person: MakePerson
) -> None:
    ann = make_person()
    client.post(
        "/api/v1/accounts", json={"platform": PLATFORM.id, "handle": BLOG}, headers=ann.headers
    )
    for url in (
        f"https://{BLOG}.tumblr.com/",
        f"https://www.tumblr.com/{BLOG}",
        "https://www.tumblr.com/search/city%20council",
        f"https://{BLOG}.tumblr.com/tagged/pool",
    ):
        r = client.post("/api/v1/posts", json={"url": url}, headers=ann.headers)
        assert r.status_code == 422, r.text
        assert "Tumblr" in r.text


def test_accounts_by_blog_name_and_blog_url(client: TestClient, make_person: MakePerson) -> None:
    ann = make_person()
    r = client.post(
        "/api/v1/accounts",
        json={"profile_url": "https://CityOfExample.tumblr.com/"},
        headers=ann.headers,
    )
    assert r.status_code in (200, 201), r.text
    assert (r.json()["platform"], r.json()["handle"]) == (PLATFORM.id, "cityofexample")
    r = client.post(
        "/api/v1/accounts",
        json={"platform": PLATFORM.id, "handle": "parksdept"},
        headers=ann.headers,
    )
    assert r.status_code in (200, 201), r.text
    assert r.json()["profile_url"] == "https://parksdept.tumblr.com/"


def test_a_post_of_another_blog_is_refused(client: TestClient, make_person: MakePerson) -> None:
    ann = make_person()
    client.post(
        "/api/v1/accounts", json={"platform": PLATFORM.id, "handle": BLOG}, headers=ann.headers
    )
    r = client.post(
        "/api/v1/posts", json={"url": f"https://staff.tumblr.com/post/{POST}"}, headers=ann.headers
    )
    assert r.status_code == 422, r.text
    assert "staff" in r.text


def test_the_api_key_stays_out_of_the_archive_errors_and_logs(
    web: TestClient,
    make_person: MakePerson,
    api: TumblrApi,
    settings: Settings,
    db: Database,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    ann = make_person()
    api.reply(POST, "neighbour", "Is the pool open on Sunday?")
    post_id = flag(web, ann, f"https://{BLOG}.tumblr.com/post/{POST}")
    seen = [json.dumps(capture(web, ann, post_id, api))]
    route = f"/v2/blog/{BLOG}.tumblr.com/posts"
    api.script[route] = [Answer(503, [("Content-Type", "text/plain")], b"busy")] * 3
    seen.append(json.dumps(capture(web, ann, post_id, api)))  # failed after retries
    seen.append(web.get(f"/api/v1/posts/{post_id}", headers=ann.headers).text)
    seen.append(web.get(f"/api/v1/posts/{post_id}/versions", headers=ann.headers).text)
    assert any("failed after 3 attempts" in text for text in seen)
    # What PostVault logs (its own loggers, and anything at WARNING or above: the level
    # app/observability/logs.py gives every other logger). httpx's own INFO line quotes the
    # request URL with its query, as for YouTube's key; production never emits it.
    seen += [
        record.getMessage()
        for record in caplog.records
        if record.name.startswith("postvault") or record.levelno >= logging.WARNING
    ]
    with db.session() as session:
        for version in session.scalars(select(CapturedVersion)):
            seen.append(json.dumps(version.normalized))
    archived = [p.read_bytes() for p in settings.archive_dir.rglob("*") if p.is_file()]
    assert archived
    assert all(KEY not in text for text in seen)
    assert all(KEY.encode() not in data for data in archived)
