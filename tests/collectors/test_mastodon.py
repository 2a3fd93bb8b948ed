"""The Mastodon collector against a loopback instance replaying recorded answers."""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Iterator
from typing import Any

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
from app.platforms.mastodon.collector import MastodonCollector, split_external_id
from app.platforms.ratelimit import HostLimiter
from tests.collectors.conftest import MakeClient, no_sleep
from tests.collectors.servers import Answer, MastodonReplay, load_recording

MEDIA_STATUS = "test_status_delete_media_02_POST_api_v1_statuses"
MEDIA_DELETE = "test_status_delete_media_03_DELETE_api_v1_statuses_117020606035908211"
EDITED_STATUS = "test_status_edit_03_GET_api_v1_statuses_117020586180926938"
EDIT_HISTORY = "test_status_edit_04_GET_api_v1_statuses_117020586180926938_history"
FIRST_HISTORY = "test_status_edit_01_GET_api_v1_statuses_117020586180926938_history"
REBLOG = "test_status_reblog_unreblog_01_POST_api_v1_statuses_117020586019094258_reblog"
UNREBLOG = "test_status_reblog_unreblog_02_POST_api_v1_statuses_117020586019094258_unreblog"
TOOT = "test_status_delete_media_00_POST_api_v1_statuses"


@pytest.fixture
def replay() -> Iterator[MastodonReplay]:
    with MastodonReplay() as instance:
        yield instance


@pytest.fixture
def client(replay: MastodonReplay, make_fetch_client: MakeClient) -> httpx.Client:
    return make_fetch_client(replay.server.host)


def collector(replay: MastodonReplay, limiter: HostLimiter | None = None) -> MastodonCollector:
    return MastodonCollector(
        Fetcher(
            limiter=limiter or HostLimiter(),
            plain_http_hosts=frozenset({replay.server.host}),
            sleep=no_sleep,
        )
    )


def target(replay: MastodonReplay, status_id: str, **overrides: Any) -> CaptureTarget:
    values: dict[str, Any] = {
        "post_id": 1,
        "platform": "mastodon",
        "external_id": f"{replay.server.host}/{status_id}",
        "url": f"https://{replay.server.host}/@mastodonpy_test/{status_id}",
        "account_handle": "mastodonpy_test@127.0.0.1",
    }
    values.update(overrides)
    return CaptureTarget(**values)


def reply_to(name: str, parent_id: str) -> dict[str, Any]:
    body = copy.deepcopy(load_recording(name).body)
    body["in_reply_to_id"] = parent_id
    return dict(body)


def test_a_status_with_media_and_threaded_replies(
    replay: MastodonReplay, client: httpx.Client
) -> None:
    status_id = replay.add_status(MEDIA_STATUS)
    first = reply_to(UNREBLOG, status_id)
    second = reply_to(TOOT, first["id"])
    replay.context[status_id] = {"ancestors": [], "descendants": [first, second]}

    result = collector(replay).collect(target(replay, status_id), client)

    assert isinstance(result, CollectedPost), result
    assert result.post_id == status_id
    assert result.text == "Status with media"
    assert result.html == "<p>Status with media</p>"
    assert result.visibility == "unlisted"
    assert result.language == "en"
    assert result.created_at == dt.datetime(2026, 8, 1, 13, 59, 3, 468000, tzinfo=dt.UTC)
    assert result.edited_at is None
    assert result.platform_version_id == "2026-08-01T13:59:03.468Z"
    assert result.author.handle == "mastodonpy_test@127.0.0.1"
    assert result.author.display_name == "John Lennon"
    assert result.author.platform_id == "117020565966271181"
    [media] = result.media
    assert media.role == "image"
    assert media.url.endswith("/original/5acd59c19f4b7d96.jpg")  # the original, not preview
    assert media.url.startswith(replay.server.base_url)
    assert (media.width, media.height) == (600, 600)
    assert media.alt_text is None
    assert result.extra["sensitive"] is True
    assert [r.id for r in result.replies] == [first["id"], second["id"]]
    assert result.replies[0].in_reply_to_id is None  # a direct reply
    assert result.replies[1].in_reply_to_id == first["id"]
    assert result.replies[1].text == "Toot!"
    assert result.replies_captured
    assert set(result.source) == {"status", "context"}
    assert result.history == []
    assert result.http_requests == 2  # status + context; no history (never edited)
    routes = [r.route for r in replay.server.requests]
    assert routes == [f"/api/v1/statuses/{status_id}", f"/api/v1/statuses/{status_id}/context"]


def test_an_edited_status_brings_its_history(replay: MastodonReplay, client: httpx.Client) -> None:
    status_id = replay.add_status(EDITED_STATUS)
    replay.add_history(EDIT_HISTORY)

    result = collector(replay).collect(target(replay, status_id), client)

    assert isinstance(result, CollectedPost), result
    assert result.text == "the best editor? why, of course it is the KDE Advanced Text Editor, Kate"
    assert result.edited_at == dt.datetime(2026, 8, 1, 13, 54, 0, 695000, tzinfo=dt.UTC)
    assert result.platform_version_id == "2026-08-01T13:54:00.695Z"
    [original] = result.history
    assert original.text == "the best editor? why, of course it is VS Code"
    assert original.created_at == dt.datetime(2026, 8, 1, 13, 54, 0, 505000, tzinfo=dt.UTC)
    assert original.edited_at is None
    assert original.platform_version_id == "2026-08-01T13:54:00.505Z"
    assert original.author.handle == "mastodonpy_test_2@127.0.0.1"
    assert set(result.source) == {"status", "history", "context"}
    assert len(result.source["history"]) == 2
    assert result.http_requests == 3


def test_history_is_not_fetched_again_for_a_known_edit(
    replay: MastodonReplay, client: httpx.Client
) -> None:
    status_id = replay.add_status(EDITED_STATUS)
    replay.add_history(EDIT_HISTORY)
    known = dt.datetime(2026, 8, 1, 13, 54, 0, 695000, tzinfo=dt.UTC)

    result = collector(replay).collect(target(replay, status_id, previous_edited_at=known), client)

    assert isinstance(result, CollectedPost)
    assert result.history == []
    assert result.http_requests == 2
    assert not any(r.route.endswith("/history") for r in replay.server.requests)


def test_a_history_of_one_entry_is_the_current_version_only(
    replay: MastodonReplay, client: httpx.Client
) -> None:
    """Recorded before the edit: /history holds only the original, which is current."""
    recording = load_recording(FIRST_HISTORY)
    status_id = replay.add_status(EDITED_STATUS)
    body = replay.statuses[status_id].body
    body["edited_at"] = recording.body[0]["created_at"]
    body["content"] = recording.body[0]["content"]
    replay.add_history(FIRST_HISTORY)

    result = collector(replay).collect(target(replay, status_id), client)

    assert isinstance(result, CollectedPost)
    assert result.history == []


def test_a_deleted_status(replay: MastodonReplay, client: httpx.Client) -> None:
    status_id = replay.add_status(MEDIA_STATUS)
    replay.add_deletion(MEDIA_DELETE)
    mastodon = collector(replay)
    flagged = target(replay, status_id, account_platform_id="117020565966271181")
    assert isinstance(mastodon.collect(flagged, client), CollectedPost)

    deleted = httpx.delete(f"{replay.server.base_url}/api/v1/statuses/{status_id}")
    assert deleted.json()["text"] == "Status with media"  # the recorded deletion answer

    result = mastodon.collect(flagged, client)
    assert isinstance(result, Deleted), result
    assert "404" in result.reason
    assert "deleted" in result.reason
    assert "private" in result.reason
    assert result.source["status"] == {"error": "Record not found"}
    assert result.http_requests == 2  # the status, then the account check


def test_a_status_that_never_existed(replay: MastodonReplay, client: httpx.Client) -> None:
    replay.add_status(MEDIA_STATUS)  # the account exists
    result = collector(replay).collect(target(replay, "0"), client)
    assert isinstance(result, Deleted)
    assert result.source["status"] == {"error": "Not Found"}


def test_a_suspended_account(replay: MastodonReplay, client: httpx.Client) -> None:
    account = copy.deepcopy(load_recording(MEDIA_STATUS).body["account"])
    # Mastodon >= 3.3 answers a suspended account with an emptied entity and suspended: true.
    account.update({"suspended": True, "display_name": "", "note": "", "fields": []})
    replay.accounts[account["id"]] = (200, account)
    result = collector(replay).collect(
        target(replay, "117020606035908211", account_platform_id=account["id"]), client
    )
    assert isinstance(result, AccountGone), result
    assert "suspended" in result.reason


def test_a_deleted_account_found_by_handle(replay: MastodonReplay, client: httpx.Client) -> None:
    result = collector(replay).collect(target(replay, "117020606035908211"), client)
    assert isinstance(result, AccountGone), result
    assert "@mastodonpy_test" in result.reason
    lookup = replay.server.requests[-1]
    assert lookup.route == "/api/v1/accounts/lookup"
    assert lookup.query == "acct=mastodonpy_test"


def test_a_gone_account_410(replay: MastodonReplay, client: httpx.Client) -> None:
    replay.accounts["42"] = (410, {"error": "Gone"})
    result = collector(replay).collect(target(replay, "9", account_platform_id="42"), client)
    assert isinstance(result, AccountGone)
    assert "410" in result.reason


def test_a_status_answering_410_is_deleted(replay: MastodonReplay, client: httpx.Client) -> None:
    replay.script["/api/v1/statuses/5"] = [Answer.json({"error": "Gone"}, 410)]
    result = collector(replay).collect(target(replay, "5"), client)
    assert isinstance(result, Deleted)
    assert "410" in result.reason


def test_a_reblog_is_a_repost_with_nothing_added(
    replay: MastodonReplay, client: httpx.Client
) -> None:
    status_id = replay.add_status(REBLOG)
    result = collector(replay).collect(target(replay, status_id), client)
    assert isinstance(result, CollectedPost), result
    assert result.text == ""
    assert result.repost_of is not None
    assert result.repost_of.text == "Toot!"
    assert result.repost_of.author.display_name == "John Lennon"
    assert result.repost_of.url.endswith("/@mastodonpy_test/117020586019094258")
    assert result.quote_of is None


def test_after_unreblog_the_original_is_an_ordinary_status(
    replay: MastodonReplay, client: httpx.Client
) -> None:
    status_id = replay.add_status(UNREBLOG)
    result = collector(replay).collect(target(replay, status_id), client)
    assert isinstance(result, CollectedPost)
    assert result.repost_of is None
    assert result.text == "Toot!"


def test_quote_card_links_and_hashtags(replay: MastodonReplay, client: httpx.Client) -> None:
    status_id = replay.add_status(TOOT)
    body = replay.statuses[status_id].body
    quoted = copy.deepcopy(load_recording(UNREBLOG).body)
    body["quote"] = {"state": "accepted", "quoted_status": quoted}
    body["content"] = (
        '<p>Detours: <a href="https://dpw.example.gov/detours" rel="nofollow noopener" '
        'target="_blank"><span class="invisible">https://</span>dpw.example.gov/detours</a>'
        '<br>ask <span class="h-card"><a href="http://localhost:3000/@mastodonpy_test_2" '
        'class="u-url mention">@<span>mastodonpy_test_2</span></a></span> '
        '<a href="http://localhost:3000/tags/MainSt" class="mention hashtag" rel="tag">'
        "#<span>MainSt</span></a></p><p>Second paragraph</p>"
    )
    body["tags"] = [{"name": "mainst", "url": "http://localhost:3000/tags/mainst"}]
    body["card"] = {
        "url": "https://dpw.example.gov/detours",
        "title": "Detours",
        "description": "Where to drive",
        "type": "link",
        "image": "http://localhost:3000/system/preview_cards/images/1/original/x.jpg",
    }
    result = collector(replay).collect(target(replay, status_id), client)
    assert isinstance(result, CollectedPost), result
    assert result.text == (
        "Detours: https://dpw.example.gov/detours\nask @mastodonpy_test_2 #MainSt\n\n"
        "Second paragraph"
    )
    assert result.links == ["https://dpw.example.gov/detours"]
    assert result.hashtags == ["mainst"]
    assert result.link_card is not None
    assert result.link_card.title == "Detours"
    assert result.link_card.thumb is not None
    assert result.link_card.thumb.role == "link_thumb"
    assert result.quote_of is not None
    assert result.quote_of.text == "Toot!"
    assert result.extra["quote_state"] == "accepted"


def test_a_token_is_sent_and_its_absence_is_explained(
    replay: MastodonReplay, client: httpx.Client
) -> None:
    status_id = replay.add_status(MEDIA_STATUS)
    replay.token = "s3cret"
    mastodon = collector(replay)

    missing = mastodon.collect(target(replay, status_id), client)
    assert isinstance(missing, NotVisible)
    assert "requires a token" in missing.reason

    refused = mastodon.collect(target(replay, status_id, access_token="wrong"), client)
    assert isinstance(refused, NotVisible)
    assert "refused the account's access token" in refused.reason

    ok = mastodon.collect(target(replay, status_id, access_token="s3cret"), client)
    assert isinstance(ok, CollectedPost)
    assert replay.server.requests[-1].headers["authorization"] == "Bearer s3cret"


@pytest.mark.parametrize("style", ["x-ratelimit", "ratelimit", "retry-after"])
def test_rate_limited_in_each_header_style(
    replay: MastodonReplay, make_fetch_client: MakeClient, style: str
) -> None:
    status_id = replay.add_status(MEDIA_STATUS)
    reset = (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)).replace(microsecond=0)
    headers = {
        "x-ratelimit": [
            ("X-RateLimit-Limit", "300"),
            ("X-RateLimit-Remaining", "0"),
            ("X-RateLimit-Reset", reset.isoformat().replace("+00:00", ".000000Z")),
        ],
        "ratelimit": [
            ("RateLimit-Remaining", "0"),
            ("RateLimit-Reset", str(int(reset.timestamp()))),
        ],
        "retry-after": [("Retry-After", reset.strftime("%a, %d %b %Y %H:%M:%S GMT"))],
    }[style]
    replay.script[f"/api/v1/statuses/{status_id}"] = [
        Answer.json({"error": "Too many requests"}, 429, headers)
    ]
    limiter = HostLimiter()
    client = make_fetch_client(replay.server.host)

    result = collector(replay, limiter).collect(target(replay, status_id), client)

    assert isinstance(result, RateLimited), result
    assert result.retry_at == reset
    assert result.host == replay.server.host
    assert result.http_requests == 1
    # Paused: the next capture sends nothing until the reset.
    again = collector(replay, limiter).collect(target(replay, status_id), client)
    assert isinstance(again, RateLimited)
    assert again.http_requests == 0
    assert len(replay.server.requests) == 1


def test_server_errors_then_success(replay: MastodonReplay, client: httpx.Client) -> None:
    status_id = replay.add_status(MEDIA_STATUS)
    replay.script[f"/api/v1/statuses/{status_id}"] = [
        Answer.json({"error": "Service Unavailable"}, 503),
        Answer(502, [("Content-Type", "text/html")], b"<h1>Bad Gateway</h1>"),
    ]
    result = collector(replay).collect(target(replay, status_id), client)
    assert isinstance(result, CollectedPost), result
    assert result.http_requests == 4  # 503, 502, 200, context


def test_server_errors_outlasting_the_retries(replay: MastodonReplay, client: httpx.Client) -> None:
    status_id = replay.add_status(MEDIA_STATUS)
    replay.script[f"/api/v1/statuses/{status_id}"] = [Answer.json({}, 500) for _ in range(3)]
    result = collector(replay).collect(target(replay, status_id), client)
    assert isinstance(result, TransientFailure), result
    assert "failed after 3 attempts" in result.error
    assert result.http_requests == 3


def test_malformed_json_is_a_clear_failure(replay: MastodonReplay, client: httpx.Client) -> None:
    replay.script["/api/v1/statuses/7"] = [
        Answer(200, [("Content-Type", "application/json")], b'{"id": "7", "content": ')
    ]
    result = collector(replay).collect(target(replay, "7"), client)
    assert isinstance(result, TransientFailure), result
    assert "status answer" in result.error
    assert "not valid JSON" in result.error


def test_a_json_answer_of_the_wrong_shape_is_a_clear_failure(
    replay: MastodonReplay, client: httpx.Client
) -> None:
    replay.script["/api/v1/statuses/7"] = [Answer.json(["not", "a", "status"])]
    result = collector(replay).collect(target(replay, "7"), client)
    assert isinstance(result, TransientFailure)
    assert "not a Mastodon status" in result.error


def test_replies_failing_keep_the_capture(replay: MastodonReplay, client: httpx.Client) -> None:
    status_id = replay.add_status(MEDIA_STATUS)
    replay.script[f"/api/v1/statuses/{status_id}/context"] = [
        Answer.json({}, 500) for _ in range(3)
    ]
    result = collector(replay).collect(target(replay, status_id), client)
    assert isinstance(result, CollectedPost)
    assert result.replies_captured is False
    assert "failed after 3 attempts" in result.extra["replies_error"]
    assert "context" not in result.source


def test_history_failing_fails_the_capture(replay: MastodonReplay, client: httpx.Client) -> None:
    """Otherwise the next poll, seeing the same edited_at, would never fetch it again."""
    status_id = replay.add_status(EDITED_STATUS)
    replay.script[f"/api/v1/statuses/{status_id}/history"] = [Answer.json({}, 403)]
    result = collector(replay).collect(target(replay, status_id), client)
    assert isinstance(result, TransientFailure)
    assert "edit history" in result.error


def test_an_instance_without_history(replay: MastodonReplay, client: httpx.Client) -> None:
    status_id = replay.add_status(EDITED_STATUS)
    replay.script[f"/api/v1/statuses/{status_id}/history"] = [
        Answer.json({"error": "Not Found"}, 404)
    ]
    result = collector(replay).collect(target(replay, status_id), client)
    assert isinstance(result, CollectedPost)
    assert "history_unavailable" in result.extra


def test_an_unreachable_instance_is_a_transient_failure(make_fetch_client: MakeClient) -> None:
    mastodon = MastodonCollector(Fetcher(limiter=HostLimiter(), sleep=no_sleep))
    flagged = CaptureTarget(
        post_id=1,
        platform="mastodon",
        external_id="127.0.0.1:9/1",
        url="https://127.0.0.1:9/@a/1",
        account_handle="a@127.0.0.1",
    )
    result = mastodon.collect(flagged, make_fetch_client())
    assert isinstance(result, TransientFailure)
    assert "refused to fetch" in result.error
    assert "loopback" in result.error


def test_external_ids() -> None:
    assert split_external_id("Mastodon.Social/1170") == ("mastodon.social", "1170")
    assert split_external_id("127.0.0.1:3000/9") == ("127.0.0.1:3000", "9")
    with pytest.raises(ValueError, match="instance"):
        split_external_id("no-slash")
    with pytest.raises(ValueError, match="instance"):
        split_external_id("host/../../etc")


def test_a_status_over_the_size_cap_is_a_clear_failure(
    replay: MastodonReplay, client: httpx.Client
) -> None:
    status_id = replay.add_status(MEDIA_STATUS)
    small = MastodonCollector(
        Fetcher(
            limiter=HostLimiter(),
            plain_http_hosts=frozenset({replay.server.host}),
            max_bytes=2000,  # the recorded status is about 4 KB
            sleep=no_sleep,
        )
    )
    result = small.collect(target(replay, status_id), client)
    assert isinstance(result, TransientFailure), result
    assert "larger than the limit of 2000 bytes" in result.error
    assert result.http_requests == 1
