"""Podcasts end to end against the loopback podcast host: register the feed, flag an episode
(and be refused for what is not one), capture it with its audio streamed to the store, edit,
remove; the audio over the cap, the audio referenced by hash from the PDF snapshot."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader
from sqlalchemy import select

from app.collectors.service import CaptureContext
from app.config import Settings, get_settings
from app.db import Database
from app.pipeline import build_capture_context
from app.platforms.fetcher import Fetcher
from app.platforms.podcast import PLATFORM
from app.platforms.ratelimit import HostLimiter
from app.posts.models import CapturedVersion, FlaggedPost
from app.storage.local import LocalStore
from tests.collectors.servers import Answer
from tests.conftest import MakePerson, Person
from tests.platforms.podcast.conftest import no_sleep
from tests.platforms.podcast.server import TAVERNCAST, PodcastHost, tiny_mp3


@pytest.fixture
def settings(database_url: str, tmp_path: Path, host: PodcastHost) -> Settings:
    """The app may reach the loopback podcast host (registration fetches the feed)."""
    return Settings(
        database_url=database_url,
        archive_dir=tmp_path / "archive",
        fetch_allow_hosts=host.server.host,
        fetch_plain_http_hosts=host.server.host,
    )


def context(db: Database, settings: Settings, *, snapshots: bool = False) -> CaptureContext:
    fetcher = Fetcher.from_settings(settings).with_(limiter=HostLimiter(), sleep=no_sleep)
    ctx = build_capture_context(
        db,
        settings,
        store=LocalStore(settings.archive_dir),
        collectors={PLATFORM.id: PLATFORM.collector(settings, fetcher)},
        worker="podcast-test",
    )
    ctx.fetcher = fetcher
    if not snapshots:
        ctx.after_commit = []  # no PDF rendering where a test does not look at one
    return ctx


@pytest.fixture
def ctx(db: Database, settings: Settings) -> Iterator[CaptureContext]:
    made = context(db, settings)
    yield made
    made.client.close()


@pytest.fixture
def web(client: TestClient, ctx: CaptureContext) -> TestClient:
    client.app.state.capture_context = lambda: ctx  # type: ignore[attr-defined]
    return client


def register(web: TestClient, who: Person, host: PodcastHost) -> int:
    r = web.post(
        "/api/v1/accounts",
        json={"platform": PLATFORM.id, "handle": host.feed_url},
        headers=who.headers,
    )
    assert r.status_code == 201, r.text
    assert r.json()["platform"] == "podcast"
    account_id: int = r.json()["id"]
    return account_id


def flag(web: TestClient, who: Person, url: str) -> int:
    r = web.post("/api/v1/posts", json={"url": url}, headers=who.headers)
    assert r.status_code in (200, 201), r.text
    assert r.json()["platform"] == "podcast"
    post_id: int = r.json()["id"]
    return post_id


def normalized(db: Database, post_id: int, number: int = 1) -> dict[str, Any]:
    with db.session() as session:
        version = session.scalars(
            select(CapturedVersion).where(
                CapturedVersion.post_id == post_id, CapturedVersion.number == number
            )
        ).one()
        assert version.normalized is not None
        return dict(version.normalized)


def capture(web: TestClient, who: Person, post_id: int) -> dict[str, object]:
    r = web.post(f"/api/v1/posts/{post_id}/capture", headers=who.headers)
    assert r.status_code == 200, r.text
    data: dict[str, object] = r.json()
    return data


def test_episode_urls_and_their_near_misses(
    web: TestClient, make_person: MakePerson, host: PodcastHost
) -> None:
    ann = make_person()
    register(web, ann, host)
    # The episode's page, with a tracking query or a fragment: one post.
    post_id = flag(web, ann, f"{host.episode_url}?utm_source=feed#player")
    assert flag(web, ann, host.episode_url) == post_id
    refused = {
        host.feed_url: "the Podcasts feed itself, not an episode",
        f"{host.base}/": "the podcast's home page (its profile), not an episode",
        f"{host.base}/search?q=trailer": "a search page of the podcast's site",
        f"{host.base}/?s=trailer": "a search page of the podcast's site",
        "https://podcasts.apple.com/de/podcast/baywatch-berlin/id1488311574?i=1000457118394": (
            "is a Apple Podcasts page, not a podcast episode's own address: Podcasts captures"
        ),
        "https://open.spotify.com/episode/4rOoJ6Egrf8K2IrywzwOMk": "is a Spotify page",
    }
    for url, said in refused.items():
        r = web.post("/api/v1/posts", json={"url": url}, headers=ann.headers)
        assert r.status_code == 422, (url, r.text)
        assert said in r.json()["detail"], (url, r.json())
    # Another site is not this podcast's: nothing claims it.
    other = web.post(
        "/api/v1/posts", json={"url": "https://elsewhere.example/ep-1"}, headers=ann.headers
    )
    assert other.status_code == 422
    assert "an episode of a podcast you registered" in other.json()["detail"]


def test_a_blog_feed_is_not_a_podcast(
    web: TestClient, make_person: MakePerson, host: PodcastHost
) -> None:
    host.feed = host.feed.replace(' xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"', "")
    host.feed = "\n".join(
        line
        for line in host.feed.splitlines()
        if "itunes:" not in line and "<enclosure" not in line
    )
    r = web.post(
        "/api/v1/accounts",
        json={"platform": PLATFORM.id, "handle": host.feed_url},
        headers=make_person().headers,
    )
    assert r.status_code == 422, r.text
    assert "not a podcast" in r.json()["detail"]


def test_capture_with_audio_edit_and_removal(
    web: TestClient, make_person: MakePerson, host: PodcastHost, settings: Settings, db: Database
) -> None:
    ann = make_person()
    register(web, ann, host)
    post_id = flag(web, ann, host.episode_url)
    first = capture(web, ann, post_id)
    assert first["outcome"] == "new_version", first
    [version] = web.get(f"/api/v1/posts/{post_id}/versions", headers=ann.headers).json()
    by_role = {m["role"]: m for m in version["media"]}
    assert set(by_role) == {"audio", "image"}
    audio = by_role["audio"]
    assert audio["sha256"] == hashlib.sha256(tiny_mp3()).hexdigest()
    assert LocalStore(settings.archive_dir).get(audio["sha256"]) == tiny_mp3()
    assert normalized(db, post_id)["extra"]["episode"] == 1
    assert not list((settings.archive_dir / "spool").iterdir())  # spool files are removed

    assert capture(web, ann, post_id)["outcome"] == "unchanged"
    audio_fetches = [r for r in host.server.requests if r.route.startswith("/cdn/media/")]
    assert len(audio_fetches) == 1  # an archived audio URL is not fetched again

    host.edit_notes("Neuer Starttermin: 29. November.")
    assert capture(web, ann, post_id)["outcome"] == "new_version"
    versions = web.get(f"/api/v1/posts/{post_id}/versions", headers=ann.headers).json()
    assert [v["number"] for v in versions] == [1, 2]
    assert "29. November" in versions[1]["text"]

    # A truncated feed: the post shows the error, nothing archived is lost.
    host.script["/feed/mp3"] = [
        Answer(200, [("Content-Type", "application/rss+xml")], host.feed[:900].encode())
    ]
    failed = capture(web, ann, post_id)
    assert failed["outcome"] == "failed"
    post = web.get(f"/api/v1/posts/{post_id}", headers=ann.headers).json()
    assert "not well-formed XML" in post["last_error"]
    assert web.get(f"/api/v1/posts/{post_id}/versions", headers=ann.headers).json() == versions

    host.remove_episode()
    removed = capture(web, ann, post_id)
    assert removed["outcome"] == "removed", removed
    assert "no longer in the podcast's feed" in str(removed["detail"])
    with db.session() as session:
        row = session.get(FlaggedPost, post_id)
        assert row is not None
        assert row.removed_at is not None


def test_audio_over_the_cap_is_not_archived_and_the_version_says_so(
    client: TestClient, make_person: MakePerson, host: PodcastHost, settings: Settings, db: Database
) -> None:
    capped = context(db, settings.model_copy(update={"max_media_bytes": 10_000}))
    client.app.state.capture_context = lambda: capped  # type: ignore[attr-defined]
    try:
        ann = make_person()
        register(client, ann, host)
        host.feed = host.rewrite(TAVERNCAST)
        post_id = flag(client, ann, f"{host.base}/shows/taverncast-62.mp3")
        assert capture(client, ann, post_id)["outcome"] == "new_version"
    finally:
        capped.client.close()
    [version] = client.get(f"/api/v1/posts/{post_id}/versions", headers=ann.headers).json()
    assert [m["role"] for m in version["media"]] == []  # the logo is the show's, not the episode's
    [note] = normalized(db, post_id)["extra"]["media_not_archived"]
    assert "larger than POSTVAULT_MAX_MEDIA_BYTES (10000 bytes)" in note
    assert "captured without it" in note
    # The post page says so too.
    from app.auth.models import User
    from app.web.service import post_page

    with db.session() as session:
        viewer = session.get(User, ann.user.id)
        assert viewer is not None
        notes = post_page(session, viewer=viewer, post_id=post_id).notes
    assert any("larger than POSTVAULT_MAX_MEDIA_BYTES" in n for n in notes), notes
    assert not list((settings.archive_dir / "spool").iterdir())


def test_large_audio_is_referenced_from_the_snapshot_by_hash(
    client: TestClient,
    make_person: MakePerson,
    host: PodcastHost,
    settings: Settings,
    db: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("POSTVAULT_AUDIO_EMBED_MAX_BYTES", "1000")
    get_settings.cache_clear()
    rendering = context(db, settings, snapshots=True)
    client.app.state.capture_context = lambda: rendering  # type: ignore[attr-defined]
    try:
        ann = make_person()
        register(client, ann, host)
        post_id = flag(client, ann, host.episode_url)
        assert capture(client, ann, post_id)["outcome"] == "new_version"
        pdf = client.get(f"/api/v1/posts/{post_id}/versions/1/snapshot.pdf", headers=ann.headers)
        assert pdf.status_code == 200, pdf.text
    finally:
        rendering.client.close()
        get_settings.cache_clear()
    from tests.platforms.web.sites import pdf_attachments

    attached = pdf_attachments(pdf.content)
    assert not [n for n in attached if n.endswith(".mp3")]
    assert any(n.endswith(".jpg") for n in attached)  # the artwork is embedded
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "Files kept beside this PDF" in text
    assert hashlib.sha256(tiny_mp3()).hexdigest()[:16] in text.replace("\n", "")
