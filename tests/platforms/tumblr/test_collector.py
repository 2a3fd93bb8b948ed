"""The Tumblr collector against the loopback Tumblr built from the recordings."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest

from app.collectors.versioning import content_hash
from app.platforms.collected import (
    AccountGone,
    CaptureTarget,
    CollectedPost,
    Deleted,
    NotVisible,
    RateLimited,
    TransientFailure,
    Unchanged,
)
from app.platforms.http import FetchPolicy, make_client
from app.platforms.ratelimit import HostLimiter
from app.platforms.tumblr import PLATFORM
from app.platforms.tumblr.collector import KEY_SETTING, NO_KEY_NOTE, TumblrCollector
from tests.collectors.servers import Answer
from tests.platforms.tumblr.conftest import MakeCollector, fetcher_for
from tests.platforms.tumblr.server import BLOG, KEY, PAGE_IDS, PHOTO_ID, VIDEO_ID, TumblrApi

POST = PAGE_IDS[1]  # recorded: text and ten photos


def target(post_id: str, previous: str | None = None, blog: str = BLOG) -> CaptureTarget:
    return CaptureTarget(
        post_id=1,
        platform=PLATFORM.id,
        external_id=post_id,
        url=f"https://{blog}.tumblr.com/post/{post_id}",
        account_handle=blog,
        previous_platform_version_id=previous,
    )


def api_route(endpoint: str, blog: str = BLOG) -> str:
    return f"/v2/blog/{blog}.tumblr.com/{endpoint}"


def test_first_capture_reads_the_npf_post_its_photos_and_blog(
    api: TumblrApi, make_collector: MakeCollector, tumblr_client: httpx.Client
) -> None:
    result = make_collector().collect(target(POST), tumblr_client)
    assert isinstance(result, CollectedPost), result
    assert result.text.startswith("Another fun trip for sports!")
    assert [m.role for m in result.media] == ["image"] * 10
    # The largest size of each image (NPF lists every size).
    assert result.media[0].url.endswith("995d5de5794b4aacd64a3a4a7236e15a03c17957.jpg")
    assert result.media[0].width == 1536
    assert result.author.handle == BLOG
    assert result.author.platform_id == "t:5PKLMis4USEO6RmAjUwbrw"
    assert result.author.display_name == "Mooserific!"
    assert result.author.avatar_url
    assert "s128x128" in result.author.avatar_url
    assert result.created_at == dt.datetime(2025, 6, 18, 17, 4, 43, tzinfo=dt.UTC)
    assert result.url == f"https://mooserific.tumblr.com/post/{POST}"
    assert result.extra["post_url"].startswith("https://blog.mooserific.org/post/")
    assert result.repost_of is None
    assert result.quote_of is None
    assert result.http_requests == 1  # no notes: no notes request
    request = api.server.requests[0]
    assert request.route == api_route("posts")
    assert f"id={POST}" in request.query
    assert "npf=true" in request.query
    assert "post" in result.source


def test_a_video_post_keeps_tumblrs_file_and_its_poster(
    make_collector: MakeCollector, tumblr_client: httpx.Client
) -> None:
    result = make_collector().collect(target(VIDEO_ID), tumblr_client)
    assert isinstance(result, CollectedPost), result
    assert [(m.role, m.mime_type) for m in result.media] == [
        ("video", "video/mp4"),
        ("thumbnail", None),
    ]
    assert result.media[0].url.endswith("tumblr_qxmksbkhGr1s5gx2z_720.mp4")
    assert result.text == "When it FINALLY rains, you put on your swimsuit, and rush outside!"


def test_a_legacy_photo_post_keeps_the_original_sizes(
    make_collector: MakeCollector, tumblr_client: httpx.Client
) -> None:
    result = make_collector().collect(target(PHOTO_ID), tumblr_client)
    assert isinstance(result, CollectedPost), result
    assert len(result.media) == 5
    assert all(m.url.endswith("_1280.jpg") for m in result.media)
    assert result.text.startswith("Gwen and Josie’s first day of kindergarten!")


def test_an_edit_is_a_new_version_and_notes_counts_are_not(
    api: TumblrApi, make_collector: MakeCollector, tumblr_client: httpx.Client
) -> None:
    collector = make_collector()
    first = collector.collect(target(POST), tumblr_client)
    assert isinstance(first, CollectedPost)
    api.like(POST, 40)  # 40 more notes: a volatile count
    again = collector.collect(target(POST, first.platform_version_id), tumblr_client)
    assert isinstance(again, CollectedPost)
    assert content_hash(again) == content_hash(first)
    assert again.platform_version_id == first.platform_version_id
    api.edit(POST, "Another fun trip for sports! (Edited: the tournament was in St. Louis.)")
    edited = collector.collect(target(POST, first.platform_version_id), tumblr_client)
    assert isinstance(edited, CollectedPost)
    assert edited.text.startswith("Another fun trip for sports! (Edited")
    assert content_hash(edited) != content_hash(first)
    assert edited.platform_version_id != first.platform_version_id


def test_replies_and_reblogs_with_comments_are_records_received(
    api: TumblrApi, make_collector: MakeCollector, tumblr_client: httpx.Client
) -> None:
    api.notes_page_size = 2  # three pages
    api.add_blog("neighbour")
    api.reply(POST, "neighbour", "Is the pool open on Sunday?")
    api.reply(POST, "mooserific", "Yes, from 10 to 6.")
    api.reblog_note(POST, "neighbour", "Great news for the team", "790000000000009999")
    api.reply(POST, "parkfan", "Thanks!")
    api.like(POST, 3)
    result = make_collector().collect(target(POST), tumblr_client)
    assert isinstance(result, CollectedPost), result
    assert [r.text for r in result.replies] == [
        "Is the pool open on Sunday?",
        "Yes, from 10 to 6.",
        "Great news for the team",
        "Thanks!",
    ]
    assert result.replies[0].author.handle == "neighbour"
    assert result.replies[2].url == "https://neighbour.tumblr.com/post/790000000000009999"
    assert result.replies_captured
    notes_requests = [r for r in api.server.requests if r.route == api_route("notes")]
    assert len(notes_requests) == 2
    assert "mode=conversation" in notes_requests[0].query
    assert "before_timestamp=" in notes_requests[1].query
    assert len(result.source["notes"]) == 2


def test_deleted_post_and_deleted_blog(
    api: TumblrApi, make_collector: MakeCollector, tumblr_client: httpx.Client
) -> None:
    collector = make_collector()
    api.delete(POST)
    deleted = collector.collect(target(POST, "v"), tumblr_client)
    assert isinstance(deleted, Deleted), deleted
    assert "Not Found" in deleted.reason
    assert "the post was deleted" in deleted.reason
    assert deleted.source["blog_info"]["meta"]["status"] == 200
    api.deleted_blogs.add(BLOG)
    gone = collector.collect(target(VIDEO_ID, "v"), tumblr_client)
    assert isinstance(gone, AccountGone), gone
    assert "the blog was deleted or renamed" in gone.reason


def test_a_429_pauses_the_host_until_the_per_hour_reset(
    api: TumblrApi, make_collector: MakeCollector, tumblr_client: httpx.Client
) -> None:
    limiter = HostLimiter()
    collector = make_collector(limiter=limiter)
    api.exhaust("hour")
    reset = api.reset_at("hour")
    result = collector.collect(target(POST), tumblr_client)
    assert isinstance(result, RateLimited), result
    assert abs((result.retry_at - reset).total_seconds()) <= 1  # the header, not a guess
    sent = len(api.server.requests)
    again = collector.collect(target(VIDEO_ID), tumblr_client)
    assert isinstance(again, RateLimited)
    assert len(api.server.requests) == sent  # paused: nothing sent


def test_the_last_request_of_the_hour_pauses_before_a_429() -> None:
    with TumblrApi(per_hour=1) as small:
        small.load_all()
        client = make_client(FetchPolicy(allow_hosts=frozenset({small.host}), timeout=5.0))
        collector = TumblrCollector(
            fetcher=fetcher_for(small, HostLimiter()),
            api_url=small.base_url,
            api_key=KEY,
            blog_url_template=small.blog_url_template,
        )
        assert isinstance(collector.collect(target(POST), client), CollectedPost)
        paused = collector.collect(target(VIDEO_ID), client)
        client.close()
    assert isinstance(paused, RateLimited)  # Perhour-Remaining: 0 paused the host
    assert len(small.server.requests) == 1


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (
            b'{"meta": {"status": 200, "msg": "OK"}, "response": {"blog": {"name": "moo',
            "not valid JSON",
        ),
        (b'{"meta": {"status": 200, "msg": "OK"}, "response": {"blog": {}}}', "no `posts` list"),
        (b'{"response": {"posts": []}}', "no `meta` object"),
        (b"[1, 2, 3]", "no `meta` object"),
    ],
)
def test_malformed_or_truncated_answers_fail_saying_why(
    api: TumblrApi,
    make_collector: MakeCollector,
    tumblr_client: httpx.Client,
    body: bytes,
    says: str,
) -> None:
    api.script[api_route("posts")] = [Answer(200, [("Content-Type", "application/json")], body)]
    result = make_collector().collect(target(POST), tumblr_client)
    assert isinstance(result, TransientFailure), result
    assert says in result.error


def test_notes_failing_keep_a_first_capture_and_fail_a_later_poll(
    api: TumblrApi, make_collector: MakeCollector, tumblr_client: httpx.Client
) -> None:
    api.reply(POST, "neighbour", "Is the pool open on Sunday?")
    truncated = Answer(200, [("Content-Type", "application/json")], b'{"meta": {"stat')
    api.script[api_route("notes")] = [truncated, truncated]
    first = make_collector().collect(target(POST), tumblr_client)
    assert isinstance(first, CollectedPost), first
    assert first.replies_captured is False
    assert "not valid JSON" in first.extra["replies_error"]
    later = make_collector().collect(target(POST, first.platform_version_id), tumblr_client)
    assert isinstance(later, TransientFailure)
    assert "not valid JSON" in later.error


def test_a_wrong_key_is_not_visible_naming_the_setting(
    make_collector: MakeCollector, tumblr_client: httpx.Client
) -> None:
    result = make_collector(key="wrong").collect(target(POST), tumblr_client)
    assert isinstance(result, NotVisible), result
    assert KEY_SETTING in result.reason
    assert "wrong" not in result.reason


def test_a_reblog_shares_the_trails_last_post(
    api: TumblrApi, make_collector: MakeCollector, tumblr_client: httpx.Client
) -> None:
    api.add_blog("parksdept")
    plain = api.add_reblog("parksdept", POST)
    commented = api.add_reblog("parksdept", POST, comment="Our team was there too!")
    result = make_collector().collect(target(plain, blog="parksdept"), tumblr_client)
    assert isinstance(result, CollectedPost), result
    assert result.text == ""
    assert result.media == []
    assert result.repost_of is not None
    assert result.repost_of.url == f"https://mooserific.tumblr.com/post/{POST}"
    assert result.repost_of.author.handle == BLOG
    assert result.repost_of.text.startswith("Another fun trip for sports!")
    assert len(result.repost_of.media) == 10
    quoted = make_collector().collect(target(commented, blog="parksdept"), tumblr_client)
    assert isinstance(quoted, CollectedPost)
    assert quoted.text == "Our team was there too!"
    assert quoted.quote_of is not None
    assert quoted.repost_of is None


# --- without a key: the blog's feed and the post page -----------------------------------------


def test_without_a_key_the_feed_and_the_page(
    api: TumblrApi, make_collector: MakeCollector, tumblr_client: httpx.Client
) -> None:
    collector = make_collector(key=None)
    result = collector.collect(target(POST), tumblr_client)
    assert isinstance(result, CollectedPost), result
    assert result.text.startswith("Another fun trip for sports!")
    assert len(result.media) == 10
    assert result.extra["captured_from"] == "RSS feed"
    assert result.replies_captured is False
    assert result.extra["replies_note"] == NO_KEY_NOTE
    routes = [r.route for r in api.server.requests]
    assert routes == [f"/blogs/{BLOG}/rss", f"/blogs/{BLOG}/post/{POST}"]
    assert all("api_key" not in r.query for r in api.server.requests)

    api.edit(POST, "Another fun trip for sports! Edited.")
    edited = collector.collect(target(POST, result.platform_version_id), tumblr_client)
    assert isinstance(edited, CollectedPost)
    assert edited.text == "Another fun trip for sports! Edited."
    assert content_hash(edited) != content_hash(result)

    api.delete(POST)
    deleted = collector.collect(target(POST, edited.platform_version_id), tumblr_client)
    assert isinstance(deleted, Deleted), deleted
    assert "HTTP 404" in deleted.reason


def test_without_a_key_a_post_no_longer_in_the_feed(
    api: TumblrApi, make_collector: MakeCollector, tumblr_client: httpx.Client
) -> None:
    for n in range(25):  # 25 newer posts push the recorded ones out of the feed
        api.add_post(BLOG, f"Newer post {n}")
    collector = make_collector(key=None)
    first = collector.collect(target(POST), tumblr_client)
    assert isinstance(first, CollectedPost), first
    assert "post page" in first.extra["captured_from"]
    assert first.text.startswith("Another fun trip for sports!")
    assert len(first.media) == 10  # og:image
    later = collector.collect(target(POST, first.platform_version_id), tumblr_client)
    assert isinstance(later, Unchanged)


def test_without_a_key_a_deleted_blog_is_gone(
    api: TumblrApi, make_collector: MakeCollector, tumblr_client: httpx.Client
) -> None:
    api.deleted_blogs.add(BLOG)
    result = make_collector(key=None).collect(target(POST, "v"), tumblr_client)
    assert isinstance(result, AccountGone), result


def test_without_a_key_a_broken_feed_is_a_failure_not_a_deletion(
    api: TumblrApi, make_collector: MakeCollector, tumblr_client: httpx.Client
) -> None:
    api.script[f"/blogs/{BLOG}/rss"] = [
        Answer(200, [("Content-Type", "application/rss+xml")], b"<rss><channel><item><ti")
    ]
    result = make_collector(key=None).collect(target(POST, "v"), tumblr_client)
    assert isinstance(result, TransientFailure), result
    assert "could not be read" in result.error
