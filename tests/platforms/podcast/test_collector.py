"""The podcast collector against the loopback podcast host serving the recorded feeds: the
first capture with its facts and audio, an edit of the show notes, removal from the feed, a
429 with its reset header, a truncated feed, a gone feed, a paged feed."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx

from app.collectors.versioning import content_hash
from app.platforms.collected import (
    AccountGone,
    CaptureTarget,
    CollectedPost,
    Deleted,
    RateLimited,
    TransientFailure,
    Unchanged,
)
from app.platforms.podcast.parse import duration_seconds
from app.platforms.ratelimit import HostLimiter
from tests.collectors.servers import Answer
from tests.platforms.podcast.conftest import collector_for
from tests.platforms.podcast.server import TAVERNCAST, TRAILER_NOTES, PodcastHost


def target(host: PodcastHost, url: str | None = None, **overrides: Any) -> CaptureTarget:
    flagged = url or host.episode_url
    values: dict[str, Any] = {
        "post_id": 1,
        "platform": "podcast",
        "external_id": flagged,
        "url": flagged,
        "account_handle": host.feed_url,
        "account_profile_url": host.feed_url,
    }
    values.update(overrides)
    return CaptureTarget(**values)


def test_first_capture_has_the_show_notes_facts_and_audio(
    host: PodcastHost, pod_client: httpx.Client
) -> None:
    host.add_season(2)
    result = collector_for().collect(target(host), pod_client)

    assert isinstance(result, CollectedPost), result
    assert result.platform == "podcast"
    assert result.post_id == "cc973b648d6fb41e4e5ef7e4b4ee7604"  # the guid
    assert result.url == host.episode_url
    assert result.title == "Trailer"
    assert TRAILER_NOTES in result.text
    assert result.created_at == dt.datetime(2019, 11, 18, 19, 14, 32, tzinfo=dt.UTC)
    assert result.language == "de"
    facts = result.extra
    assert facts["episode"] == 1
    assert facts["season"] == 2
    assert facts["episode_type"] == "trailer"
    assert facts["duration"] == "114"
    assert facts["duration_seconds"] == 114
    assert facts["show_title"] == "Baywatch Berlin"
    assert facts["enclosure"] == {"type": "audio/mpeg", "declared_length": 2338520}
    roles = {m.role: m for m in result.media}
    assert set(roles) == {"audio", "image"}
    assert roles["audio"].url.startswith(f"{host.base}/cdn/media/")
    assert roles["audio"].mime_type == "audio/mpeg"
    assert roles["image"].alt_text == "episode artwork"
    assert result.author.display_name == "Klaas Heufer-Umlauf, Thomas Schmitt und Jakob Lundt"
    assert result.source["entry"]["itunes_episode"] == "1"
    assert result.http_requests == 1  # the feed; the audio is the pipeline's to stream


def test_the_guid_names_the_episode_and_the_home_page_does_not(
    host: PodcastHost, pod_client: httpx.Client
) -> None:
    host.feed = host.rewrite(TAVERNCAST)
    guid = f"{host.base}/shows/taverncast-62.mp3"
    result = collector_for().collect(target(host, guid), pod_client)
    assert isinstance(result, CollectedPost), result
    assert result.title == "Taverncast 62 - Temporal Anomaly"
    assert result.url == guid  # not the show's home page the item gives as its link
    assert result.extra["duration_seconds"] == 69 * 60 + 50
    assert "episode" not in result.extra
    assert [m.role for m in result.media] == ["audio"]

    home = collector_for().collect(target(host, f"{host.base}/"), pod_client)
    assert isinstance(home, Deleted)  # the home page names no episode of the feed


def test_an_edit_of_the_show_notes_is_a_new_version(
    host: PodcastHost, pod_client: httpx.Client
) -> None:
    first = collector_for().collect(target(host), pod_client)
    host.edit_notes("Baywatch Berlin startet am 29. November (verschoben).")
    edited = collector_for().collect(target(host), pod_client)
    again = collector_for().collect(target(host), pod_client)

    assert isinstance(first, CollectedPost)
    assert isinstance(edited, CollectedPost)
    assert isinstance(again, CollectedPost)
    assert "29. November" in edited.text
    assert content_hash(edited) != content_hash(first)
    assert content_hash(again) == content_hash(edited)


def test_removed_from_the_feed_is_a_removal(host: PodcastHost, pod_client: httpx.Client) -> None:
    host.remove_episode()
    result = collector_for().collect(target(host), pod_client)
    assert isinstance(result, Deleted), result
    assert "no longer in the podcast's feed" in result.reason


def test_a_feed_with_no_episodes_removes_none(host: PodcastHost, pod_client: httpx.Client) -> None:
    host.empty()
    result = collector_for().collect(target(host), pod_client)
    assert isinstance(result, TransientFailure), result
    assert "lists no episodes at all" in result.error


def test_a_feed_that_pages_is_read_on(host: PodcastHost, pod_client: httpx.Client) -> None:
    page_two = host.feed
    host.remove_episode()
    host.feed = host.feed.replace(
        "<title>Baywatch Berlin</title>",
        f'<atom:link href="{host.base}/feed/mp3?page=2" rel="next"/>\n<title>Baywatch Berlin</title>',
        1,
    )
    first_page = host.feed
    served = iter([first_page, page_two])

    def answer() -> Answer:
        return Answer(200, [("Content-Type", "application/rss+xml")], next(served).encode())

    host.script["/feed/mp3"] = [answer(), answer()]
    result = collector_for().collect(target(host), pod_client)
    assert isinstance(result, CollectedPost), result
    assert result.source["podcast_feed"]["pages"] == [host.feed_url, f"{host.base}/feed/mp3?page=2"]


def test_a_429_pauses_the_host_until_its_reset(host: PodcastHost, pod_client: httpx.Client) -> None:
    reset = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(minutes=15)
    host.script["/feed/mp3"] = [
        Answer(429, [("X-RateLimit-Reset", str(int(reset.timestamp())))], b"slow down")
    ]
    limiter = HostLimiter()
    result = collector_for(limiter).collect(target(host), pod_client)
    assert isinstance(result, RateLimited), result
    assert result.retry_at == reset
    # Paused: the next poll sends nothing until then.
    again = collector_for(limiter).collect(target(host), pod_client)
    assert isinstance(again, RateLimited)
    assert [r.route for r in host.server.requests] == ["/feed/mp3"]


def test_a_truncated_feed_is_a_transient_failure(
    host: PodcastHost, pod_client: httpx.Client
) -> None:
    host.truncate()
    result = collector_for().collect(target(host), pod_client)
    assert isinstance(result, TransientFailure), result
    assert "not well-formed XML" in result.error


def test_a_gone_feed_a_private_feed_and_an_unchanged_feed(
    host: PodcastHost, pod_client: httpx.Client
) -> None:
    host.pages["/feed/mp3"] = 410
    gone = collector_for().collect(target(host), pod_client)
    assert isinstance(gone, AccountGone), gone
    assert "HTTP 410" in gone.reason

    host.pages["/feed/mp3"] = 200
    host.script["/feed/mp3"] = [Answer(304, [("ETag", '"v1"')], b"")]
    unchanged = collector_for().collect(target(host, validators={"etag": '"v1"'}), pod_client)
    assert isinstance(unchanged, Unchanged), unchanged


def test_durations() -> None:
    assert duration_seconds("114") == 114
    assert duration_seconds("1:09:50") == 4190
    assert duration_seconds("09:50") == 590
    assert duration_seconds("3600.5") == 3600
    assert duration_seconds("1:75:00") is None
    assert duration_seconds("an hour") is None
