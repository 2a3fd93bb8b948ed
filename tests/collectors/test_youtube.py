"""The YouTube collector against a loopback Data API serving schema-shaped answers."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from app.platforms.collected import (
    AccountGone,
    CaptureTarget,
    CollectedPost,
    Deleted,
    NotVisible,
    RateLimited,
    TransientFailure,
)
from app.platforms.fetcher import Fetcher
from app.platforms.ratelimit import HostLimiter
from app.platforms.youtube.collector import YouTubeCollector, next_pacific_midnight
from tests.collectors.conftest import MakeClient, no_sleep
from tests.collectors.servers import FIXTURES, Answer, LoopbackServer, Request

YT = FIXTURES / "youtube"
VIDEO_ID = "dQw4w9WgXcQ"
CHANNEL = "UCcityPublicWorks000000A"


def fixture(name: str) -> Any:
    return json.loads((YT / name).read_text(encoding="utf-8"))


class Api:
    def __init__(self) -> None:
        self.answer = Answer.json(fixture("videos_list_public.json"))
        # commentThreads.list pages by pageToken ("" = the first page); comments.list by
        # parentId (tests/collectors/test_youtube_comments.py).
        self.threads: dict[str, Answer] = {
            "": Answer.json(fixture("comment_threads_by_video_id.json"))
        }
        self.comments: dict[str, Answer] = {}
        self.server = LoopbackServer(self.app)

    def app(self, request: Request) -> Answer:
        query = {k: v[0] for k, v in parse_qs(request.query).items()}
        if request.route == "/youtube/v3/commentThreads":
            return self.threads.get(query.get("pageToken", ""), NOT_FOUND)
        if request.route == "/youtube/v3/comments":
            return self.comments.get(query.get("parentId", ""), NOT_FOUND)
        if request.route != "/youtube/v3/videos":
            return NOT_FOUND
        return self.answer


NOT_FOUND = Answer.json({"error": {"code": 404, "message": "Not Found"}}, 404)


@pytest.fixture
def api() -> Iterator[Api]:
    server = Api()
    server.server.start()
    yield server
    server.server.stop()


@pytest.fixture
def client(api: Api, make_fetch_client: MakeClient) -> httpx.Client:
    return make_fetch_client(api.server.host)


def collector(api: Api, key: str | None = "test-key", **kwargs: Any) -> YouTubeCollector:
    return YouTubeCollector(
        api_url=f"{api.server.base_url}/youtube/v3",
        api_key=key,
        fetcher=Fetcher(limiter=kwargs.pop("limiter", HostLimiter()), sleep=no_sleep, **kwargs),
    )


def target(**overrides: Any) -> CaptureTarget:
    values: dict[str, Any] = {
        "post_id": 9,
        "platform": "youtube",
        "external_id": VIDEO_ID,
        "url": f"https://www.youtube.com/watch?v={VIDEO_ID}",
        "account_handle": "@citypublicworks",
        "account_platform_id": CHANNEL,
    }
    values.update(overrides)
    return CaptureTarget(**values)


def test_fixtures_follow_the_official_schema() -> None:
    schema = fixture("discovery_youtube_v3_videos.json")
    answer = fixture("videos_list_public.json")
    assert set(answer) <= set(schema["VideoListResponse"]["properties"])
    [video] = answer["items"]
    assert set(video) <= set(schema["Video"]["properties"])
    assert set(video["snippet"]) <= set(schema["VideoSnippet"]["properties"])
    assert set(video["status"]) <= set(schema["VideoStatus"]["properties"])
    privacy = schema["VideoStatus"]["properties"]["privacyStatus"]["enum"]
    assert video["status"]["privacyStatus"] in privacy
    # The collector asks {youtube_api_url}/videos, the default URL ending in /youtube/v3.
    assert schema["videos.list"]["path"] == "youtube/v3/videos"
    assert "part" in schema["videos.list"]["parameterOrder"]


def test_a_video(api: Api, client: httpx.Client) -> None:
    result = collector(api).collect(target(), client)

    assert isinstance(result, CollectedPost), result
    assert result.post_id == VIDEO_ID
    assert result.url == f"https://www.youtube.com/watch?v={VIDEO_ID}"
    assert result.title == "Main St bridge repair: what to expect"
    assert result.text.startswith("Crews start on the Main St bridge on March 9.")
    assert result.created_at == dt.datetime(2026, 3, 2, 17, 30, 5, tzinfo=dt.UTC)
    assert result.author.platform_id == CHANNEL
    assert result.author.display_name == "City Public Works"
    assert result.visibility == "unlisted"
    assert result.language == "en"
    [thumb] = result.media
    assert thumb.role == "thumbnail"
    assert thumb.url.endswith("/maxresdefault.jpg")
    assert (thumb.width, thumb.height) == (1280, 720)
    assert result.links == ["https://dpw.example.gov/detours/main-st"]
    assert result.hashtags == ["MainStBridge", "PublicWorks"]
    assert result.extra["duration"] == "PT2M31S"
    assert result.extra["tags"] == ["bridge", "detour"]
    assert "warning" not in result.extra
    # Counts change every poll: they stay in the source, out of the normalised fields.
    assert "viewCount" not in json.dumps(result.extra)
    assert result.source["videos.list"]["items"][0]["statistics"]["viewCount"] == "1532"
    assert result.http_requests == 2  # videos.list, one page of commentThreads.list
    assert result.source["quota_units"] == 2
    [request, comments] = api.server.requests
    assert parse_qs(comments.query)["part"] == ["snippet,replies"]
    query = parse_qs(request.query)
    assert query == {
        "part": ["snippet,status,contentDetails,statistics"],
        "id": [VIDEO_ID],
        "key": ["test-key"],
    }


def test_a_video_of_another_channel_is_flagged(api: Api, client: httpx.Client) -> None:
    result = collector(api).collect(target(account_platform_id="UCsomeoneElse0000000000A"), client)
    assert isinstance(result, CollectedPost)
    assert "UCsomeoneElse0000000000A" in result.extra["warning"]


def test_no_items_means_no_longer_public(api: Api, client: httpx.Client) -> None:
    api.answer = Answer.json(fixture("videos_list_empty.json"))
    result = collector(api).collect(target(), client)
    assert isinstance(result, Deleted), result
    assert "removed or made private" in result.reason
    assert result.source["videos.list"]["items"] == []


def test_a_used_up_quota_pauses_until_pacific_midnight(api: Api, client: httpx.Client) -> None:
    api.answer = Answer.json(fixture("error_quota_exceeded.json"), 403)
    now = dt.datetime(2026, 7, 10, 20, 0, tzinfo=dt.UTC)  # 13:00 PDT
    limiter = HostLimiter()
    result = collector(api, limiter=limiter, clock=lambda: now).collect(target(), client)
    assert isinstance(result, RateLimited), result
    assert result.retry_at == dt.datetime(2026, 7, 11, 7, 0, tzinfo=dt.UTC)  # 00:00 PDT
    assert "quota" in result.reason
    assert limiter.paused_until(api.server.host, now) == result.retry_at


def test_pacific_midnight_in_winter_and_summer() -> None:
    winter = dt.datetime(2026, 1, 15, 9, 0, tzinfo=dt.UTC)  # 01:00 PST
    assert next_pacific_midnight(winter) == dt.datetime(2026, 1, 16, 8, 0, tzinfo=dt.UTC)
    summer = dt.datetime(2026, 7, 11, 6, 59, tzinfo=dt.UTC)  # 23:59 PDT
    assert next_pacific_midnight(summer) == dt.datetime(2026, 7, 11, 7, 0, tzinfo=dt.UTC)


def test_an_invalid_key_names_the_setting(api: Api, client: httpx.Client) -> None:
    api.answer = Answer.json(fixture("error_key_invalid.json"), 400)
    result = collector(api).collect(target(), client)
    assert isinstance(result, NotVisible), result
    assert "POSTVAULT_YOUTUBE_API_KEY" in result.reason
    assert "API key not valid" in result.reason


def test_the_older_key_invalid_reason(api: Api, client: httpx.Client) -> None:
    body = {"error": {"code": 400, "message": "Bad Request", "errors": [{"reason": "keyInvalid"}]}}
    api.answer = Answer.json(body, 400)
    result = collector(api).collect(target(), client)
    assert isinstance(result, NotVisible)
    assert "POSTVAULT_YOUTUBE_API_KEY" in result.reason


def test_no_key_configured(api: Api, client: httpx.Client) -> None:
    result = collector(api, key=None).collect(target(), client)
    assert isinstance(result, NotVisible)
    assert "POSTVAULT_YOUTUBE_API_KEY" in result.reason
    assert result.http_requests == 0
    assert api.server.requests == []


def test_a_rejected_upload_of_a_suspended_channel(api: Api, client: httpx.Client) -> None:
    body = fixture("videos_list_public.json")
    body["items"][0]["status"].update(
        {"uploadStatus": "rejected", "rejectionReason": "uploaderAccountSuspended"}
    )
    api.answer = Answer.json(body)
    result = collector(api).collect(target(), client)
    assert isinstance(result, AccountGone)
    assert "uploaderAccountSuspended" in result.reason


def test_malformed_json(api: Api, client: httpx.Client) -> None:
    api.answer = Answer(200, [("Content-Type", "application/json")], b"{'items': [")
    result = collector(api).collect(target(), client)
    assert isinstance(result, TransientFailure)
    assert "videos.list answer" in result.error
    assert "test-key" not in result.error


def test_server_errors_outlasting_retries(api: Api, client: httpx.Client) -> None:
    api.answer = Answer.json({"error": {"code": 503, "message": "backend"}}, 503)
    result = collector(api).collect(target(), client)
    assert isinstance(result, TransientFailure)
    assert "failed after 3 attempts" in result.error
    assert "test-key" not in result.error
    assert result.http_requests == 3


def test_a_malformed_video_id(api: Api, client: httpx.Client) -> None:
    result = collector(api).collect(target(external_id="../../etc"), client)
    assert isinstance(result, TransientFailure)
    assert api.server.requests == []
