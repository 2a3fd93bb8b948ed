"""YouTube comments against the loopback Data API serving recorded commentThreads.list and
comments.list answers: pages, replies, volatile like counts, comments turned off, quota."""

from __future__ import annotations

import copy
import datetime as dt
from urllib.parse import parse_qs

import httpx

from app.collectors.versioning import content_hash
from app.db import Database
from app.platforms.collected import CollectedPost
from app.platforms.ratelimit import HostLimiter, host_key
from app.platforms.youtube.quota import QuotaMeter, QuotaState, quota_day, state_of
from tests.collectors.servers import Answer
from tests.collectors.test_youtube import Api, api, client, collector, fixture, target

__all__ = ["api", "client"]  # the loopback API and its client, as fixtures here too

FIRST_PAGE_TOKEN = fixture("comment_threads_by_video_paged_2.json")["nextPageToken"]


def paged(api: Api) -> None:
    """Two pages: the recorded page with a nextPageToken, then the recorded last page."""
    api.threads = {
        "": Answer.json(fixture("comment_threads_by_video_paged_2.json")),
        FIRST_PAGE_TOKEN: Answer.json(fixture("comment_threads_by_video_id.json")),
    }
    # The thread that has 2 replies but none inline is completed with comments.list.
    api.comments = {
        "UgwI_ylXVnzPS8Q-oAV4AaABAg": Answer.json(fixture("comments_by_parent_paged_2.json"))
    }


def test_comments_are_replies_received_across_pages(api: Api, client: httpx.Client) -> None:
    paged(api)
    result = collector(api).collect(target(), client)

    assert isinstance(result, CollectedPost), result
    assert result.replies_captured is True
    ids = [r.id for r in result.replies]
    # 5 + 5 top-level comments, the inline reply of one, the comments.list reply of another.
    assert len(ids) == 12
    assert len(set(ids)) == 12
    top = next(r for r in result.replies if r.id == "UgydxWWoeA7F1OdqypJ4AaABAg")
    assert top.in_reply_to_id is None
    assert top.text == "Actions.ai"
    assert top.html == '<a href="http://actions.ai/">Actions.ai</a>'
    assert top.author.display_name == "Loren Robilio"
    assert top.author.platform_id == "UCe9i1nJCcevTa6KJa55KYog"
    assert top.created_at == dt.datetime(2019, 6, 23, 8, 24, 24, tzinfo=dt.UTC)
    assert top.url == "https://www.youtube.com/watch?v=dQw4w9WgXcQ&lc=UgydxWWoeA7F1OdqypJ4AaABAg"
    inline = next(r for r in result.replies if r.id.startswith("UgydxWWoeA7F1OdqypJ4AaABAg."))
    assert inline.in_reply_to_id == "UgydxWWoeA7F1OdqypJ4AaABAg"
    fetched = next(r for r in result.replies if r.text == "hey, this is the replay")
    assert fetched.in_reply_to_id == "UgwI_ylXVnzPS8Q-oAV4AaABAg"
    # Thread order: each reply right after the comment it answers.
    assert ids.index(inline.id) == ids.index(top.id) + 1

    videos, first, replies, second = api.server.requests
    assert videos.route.endswith("/videos")
    assert parse_qs(first.query)["part"] == ["snippet,replies"]
    assert "pageToken" not in parse_qs(first.query)
    assert parse_qs(replies.query)["parentId"] == ["UgwI_ylXVnzPS8Q-oAV4AaABAg"]
    assert parse_qs(second.query)["pageToken"] == [FIRST_PAGE_TOKEN]
    # Quota: one unit per call, counted with the capture.
    assert result.http_requests == 4
    assert result.source["quota_units"] == 4
    assert len(result.source["commentThreads.list"]) == 3


def test_like_counts_are_not_part_of_the_version(api: Api, client: httpx.Client) -> None:
    first = collector(api).collect(target(), client)
    body = copy.deepcopy(fixture("comment_threads_by_video_id.json"))
    for thread in body["items"]:
        thread["snippet"]["topLevelComment"]["snippet"]["likeCount"] += 7
    api.threads = {"": Answer.json(body)}
    second = collector(api).collect(target(), client)

    assert isinstance(first, CollectedPost)
    assert isinstance(second, CollectedPost)
    assert content_hash(first) == content_hash(second)
    assert "likeCount" not in first.model_dump_json(exclude={"source"})
    # A new comment is a new version.
    body["items"][1]["snippet"]["topLevelComment"]["snippet"]["textOriginal"] = "edited"
    api.threads = {"": Answer.json(body)}
    third = collector(api).collect(target(), client)
    assert isinstance(third, CollectedPost)
    assert content_hash(third) != content_hash(first)


def test_comments_turned_off_is_not_an_error(api: Api, client: httpx.Client) -> None:
    api.threads = {"": Answer.json(fixture("error_comments_disabled.json"), 403)}
    result = collector(api).collect(target(), client)

    assert isinstance(result, CollectedPost), result
    assert result.title == "Main St bridge repair: what to expect"
    assert result.replies == []
    assert result.replies_captured is True
    assert result.extra["comments"] == "comments are turned off for this video"
    assert "comments_error" not in result.extra


def test_used_up_quota_keeps_the_video_and_pauses_the_api(api: Api, client: httpx.Client) -> None:
    limiter = HostLimiter()
    api.threads = {"": Answer.json(fixture("error_quota_exceeded.json"), 403)}
    result = collector(api, limiter=limiter).collect(target(), client)

    assert isinstance(result, CollectedPost), result
    assert result.replies_captured is False
    assert result.replies == []
    assert "quota is used up" in result.extra["comments_error"]
    paused = limiter.paused_until(host_key(api.server.base_url), dt.datetime.now(dt.UTC))
    assert paused is not None
    assert paused > dt.datetime.now(dt.UTC)


def test_a_rate_limited_or_broken_comments_answer_is_said(api: Api, client: httpx.Client) -> None:
    api.threads = {"": Answer(429, [("Retry-After", "120")], b"")}
    limiter = HostLimiter()
    result = collector(api, limiter=limiter).collect(target(), client)
    assert isinstance(result, CollectedPost), result
    assert result.replies_captured is False
    assert "comments_error" in result.extra
    paused = limiter.paused_until(host_key(api.server.base_url), dt.datetime.now(dt.UTC))
    assert paused is not None
    assert dt.timedelta(seconds=60) < paused - dt.datetime.now(dt.UTC) <= dt.timedelta(seconds=121)

    api.threads = {"": Answer(200, [("Content-Type", "application/json")], b'{"items": [')}
    broken = collector(api).collect(target(), client)
    assert isinstance(broken, CollectedPost), broken
    assert broken.replies_captured is False
    assert "not valid JSON" in broken.extra["comments_error"]


def test_quota_days_are_pacific_and_counted_once_per_call(db: Database) -> None:
    meter = QuotaMeter(database=db)
    late = dt.datetime(2026, 12, 2, 7, 59, tzinfo=dt.UTC)  # 23:59 in Los Angeles
    meter.add(3, 3, late)
    meter.add(2, 2, late)
    meter.add(1, 1, late + dt.timedelta(minutes=2))  # after the reset
    assert quota_day(late) == "2026-12-01"
    with db.session() as session:
        assert state_of(session, late) == QuotaState("2026-12-01", 5, 5)
        assert state_of(session, late + dt.timedelta(minutes=2)) == QuotaState("2026-12-02", 1, 1)
