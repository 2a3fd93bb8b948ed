"""YouTube end to end: a flagged video's comments are archived as its replies received and
shown in its snapshot like replies on other platforms; a new like is not a new version."""

from __future__ import annotations

import copy
import io
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader

from app.collectors.service import CaptureContext
from app.config import Settings
from app.db import Database, utcnow
from app.pipeline import build_capture_context
from app.platforms.fetcher import Fetcher
from app.platforms.ratelimit import HostLimiter
from app.platforms.youtube import PLATFORM
from app.storage.local import LocalStore
from tests.collectors.conftest import no_sleep
from tests.collectors.servers import Answer
from tests.collectors.test_youtube import Api, api, fixture
from tests.conftest import MakePerson

__all__ = ["api"]  # the loopback Data API, as a fixture here too


@pytest.fixture
def ctx(db: Database, settings: Settings, api: Api) -> Iterator[CaptureContext]:
    configured = settings.model_copy(
        update={
            "fetch_allow_hosts": api.server.host,
            "youtube_api_url": f"{api.server.base_url}/youtube/v3",
            "youtube_api_key": "test-key",
        }
    )
    fetcher = Fetcher.from_settings(configured).with_(limiter=HostLimiter(), sleep=no_sleep)
    made = build_capture_context(
        db,
        configured,
        store=LocalStore(configured.archive_dir),
        collectors={PLATFORM.id: PLATFORM.collector(configured, fetcher)},
        worker="youtube-test",
    )
    made.fetcher = fetcher
    yield made
    made.client.close()


def test_comments_are_the_videos_replies_received(
    client: TestClient, make_person: MakePerson, api: Api, ctx: CaptureContext
) -> None:
    client.app.state.capture_context = lambda: ctx  # type: ignore[attr-defined]
    ann = make_person()
    r = client.post(
        "/api/v1/accounts",
        json={"platform": PLATFORM.id, "handle": "@citypublicworks"},
        headers=ann.headers,
    )
    assert r.status_code == 201, r.text
    r = client.post(
        "/api/v1/posts", json={"url": "https://youtu.be/dQw4w9WgXcQ"}, headers=ann.headers
    )
    assert r.status_code == 201, r.text
    post_id = r.json()["id"]

    first = client.post(f"/api/v1/posts/{post_id}/capture", headers=ann.headers).json()
    assert first["outcome"] == "new_version", first
    [version] = client.get(f"/api/v1/posts/{post_id}/versions", headers=ann.headers).json()
    assert version["replies_captured"] is True
    pdf = client.get(f"/api/v1/posts/{post_id}/versions/1/snapshot.pdf", headers=ann.headers)
    assert pdf.status_code == 200, pdf.text
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "Replies received (6)" in text
    assert "boring people talking about a awesome thing" in text
    assert "Dian Anggraeni" in text

    # Likes change: no new version.
    body = copy.deepcopy(fixture("comment_threads_by_video_id.json"))
    body["items"][0]["snippet"]["topLevelComment"]["snippet"]["likeCount"] = 99
    api.threads = {"": Answer.json(body)}
    again = client.post(f"/api/v1/posts/{post_id}/capture", headers=ann.headers).json()
    assert again["outcome"] == "unchanged", again

    # Comments turned off afterwards: the video is still captured, a version says so.
    api.threads = {"": Answer.json(fixture("error_comments_disabled.json"), 403)}
    off = client.post(f"/api/v1/posts/{post_id}/capture", headers=ann.headers).json()
    assert off["outcome"] == "new_version", off
    versions = client.get(f"/api/v1/posts/{post_id}/versions", headers=ann.headers).json()
    assert versions[-1]["replies_captured"] is True

    # Quota: 3 polls of videos.list and one comments page each, shared in the database and
    # shown on the officer dashboard.
    with ctx.database.session() as session:
        [(label, said)] = PLATFORM.dashboard_facts(session, ctx.settings, utcnow())
    assert label == "YouTube API quota"
    assert said.startswith("6 units used on ")
    assert "(Pacific time; 6 calls), of YouTube's default 10,000 a day" in said
