"""The X collector against the loopback X API v2 built from the recordings."""

from __future__ import annotations

import datetime as dt

import httpx

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
from app.platforms.ratelimit import HostLimiter
from app.platforms.x.collector import NO_TOKEN
from tests.collectors.servers import Answer
from tests.platforms.x.conftest import MakeCollector
from tests.platforms.x.server import XApi, recorded_edit_chain

ORIGINAL, EDIT = "1576994746135764992", "1576994789110992896"
REPLY = "1576995594388000768"  # recorded: a reply to the edit that quotes the original
AUTHOR = "337119125"


def target(tweet_id: str, previous: str | None = None) -> CaptureTarget:
    return CaptureTarget(
        post_id=1,
        platform="x",
        external_id=tweet_id,
        url=f"https://x.com/wongmjane/status/{tweet_id}",
        account_handle="wongmjane",
        previous_platform_version_id=previous,
    )


def unedited(api: XApi) -> None:
    """The recorded tweet as it was before its edit: one version, the edit not yet made."""
    recorded_edit_chain(api)
    api.tweets.pop(EDIT)
    api.tweets[ORIGINAL]["edit_history_tweet_ids"] = [ORIGINAL]
    api.tweets[REPLY]["referenced_tweets"] = [
        {"type": "quoted", "id": ORIGINAL},
        {"type": "replied_to", "id": ORIGINAL},
    ]
    api.tweets[REPLY]["conversation_id"] = ORIGINAL


def test_first_capture_reads_the_tweet_its_photo_and_its_replies(
    api: XApi, make_collector: MakeCollector, x_client: httpx.Client
) -> None:
    unedited(api)
    result = make_collector().collect(target(ORIGINAL), x_client)
    assert isinstance(result, CollectedPost), result
    assert result.platform_version_id == ORIGINAL
    assert result.history == []
    assert result.text.startswith("i miss y’all so much haha")
    assert [(m.role, m.alt_text) for m in result.media] == [("image", "selfie of me with memoji")]
    assert result.media[0].url.startswith(api.base_url + "/pbs.twimg.com/media/")
    assert [(r.id, r.author.handle) for r in result.replies] == [(REPLY, "dappdavid99")]
    assert result.replies_captured
    assert "7 days" in result.extra["replies_window"]
    # The lookup asked for what a record needs, and the search named the conversation.
    lookup, search = api.server.requests
    assert "edit_history_tweet_ids" in lookup.path
    assert "attachments.media_keys" in lookup.path
    assert lookup.headers["authorization"] == "Bearer test-bearer-token"
    assert search.route == "/2/tweets/search/recent"
    assert f"conversation_id%3A{ORIGINAL}" in search.path
    assert result.http_requests == 2
    assert set(result.source) == {"tweet_lookup", "replies_search"}


def test_an_edit_is_a_new_version_with_the_earlier_one_as_history(
    api: XApi, make_collector: MakeCollector, x_client: httpx.Client
) -> None:
    unedited(api)
    collector = make_collector()
    first = collector.collect(target(ORIGINAL), x_client)
    assert isinstance(first, CollectedPost)
    edit = api.edit(
        ORIGINAL, "the council meets Tuesday, not Monday", at=api.now + dt.timedelta(minutes=5)
    )
    api.now += dt.timedelta(minutes=10)
    second = collector.collect(target(ORIGINAL, previous=ORIGINAL), x_client)
    assert isinstance(second, CollectedPost)
    assert second.platform_version_id == edit
    assert second.text == "the council meets Tuesday, not Monday"
    assert second.edited_at == api.now - dt.timedelta(minutes=5)
    assert second.created_at == first.created_at
    assert [v.platform_version_id for v in second.history] == [ORIGINAL]
    assert second.post_id == first.post_id == ORIGINAL


def test_versions_missing_from_the_answer_are_fetched_by_id(
    api: XApi, make_collector: MakeCollector, x_client: httpx.Client
) -> None:
    recorded_edit_chain(api)
    api.include_versions = False  # an answer without the other versions in includes
    result = make_collector().collect(target(ORIGINAL), x_client)
    assert isinstance(result, CollectedPost)
    assert result.platform_version_id == EDIT
    assert [v.platform_version_id for v in result.history] == [ORIGINAL]
    versions = [r for r in api.server.requests if r.route == "/2/tweets"]
    assert len(versions) == 1
    assert f"ids={EDIT}" in versions[0].path
    # Asked again with the edit archived: nothing is missing, no extra request.
    api.server.requests.clear()
    make_collector().collect(target(ORIGINAL, previous=EDIT), x_client)
    assert [r.route for r in api.server.requests if r.route == "/2/tweets"] == []


def test_nested_replies_and_other_threads(
    api: XApi, make_collector: MakeCollector, x_client: httpx.Client
) -> None:
    recorded_edit_chain(api)
    api.add_user("42", "resident")
    nested = api.add_tweet(
        "@dappdavid99 agreed", author_id="42", conversation_id=EDIT, replied_to=REPLY
    )
    api.add_tweet("another thread", author_id="42", conversation_id="999", replied_to="999")
    result = make_collector().collect(target(EDIT, previous=EDIT), x_client)
    assert isinstance(result, CollectedPost)
    assert [(r.id, r.in_reply_to_id) for r in result.replies] == [(REPLY, None), (nested, REPLY)]
    search = next(r for r in api.server.requests if r.route == "/2/tweets/search/recent")
    assert f"conversation_id%3A{ORIGINAL}+OR+conversation_id%3A{EDIT}" in search.path


def test_after_the_search_window_an_unchanged_post_sends_one_request(
    api: XApi, make_collector: MakeCollector, x_client: httpx.Client
) -> None:
    recorded_edit_chain(api)
    api.now += dt.timedelta(days=8)
    result = make_collector().collect(target(EDIT, previous=EDIT), x_client)
    assert isinstance(result, Unchanged)
    assert [r.route for r in api.server.requests] == [f"/2/tweets/{EDIT}"]
    first = make_collector().collect(target(EDIT), x_client)
    assert isinstance(first, CollectedPost)
    assert not first.replies_captured
    assert "later replies are not captured" in first.extra["replies_window"]


def test_not_found_error_is_a_deletion(
    api: XApi, make_collector: MakeCollector, x_client: httpx.Client
) -> None:
    recorded_edit_chain(api)
    api.delete(EDIT)
    result = make_collector().collect(target(EDIT, previous=EDIT), x_client)
    assert isinstance(result, Deleted), result
    assert "Not Found Error" in result.reason
    assert result.source["tweet_lookup"]["errors"][0]["resource_id"] == EDIT


def test_a_deleted_referenced_tweet_is_a_partial_error_not_a_deletion(
    api: XApi, make_collector: MakeCollector, x_client: httpx.Client
) -> None:
    recorded_edit_chain(api)
    api.deleted.add(ORIGINAL)  # the quoted tweet is gone; the reply itself is not
    result = make_collector().collect(target(REPLY), x_client)
    assert isinstance(result, CollectedPost), result
    assert result.quote_of is not None
    assert result.quote_of.author.handle == "unknown"
    assert any("referenced_tweets.id" in e for e in result.extra["partial_errors"])


def test_protected_and_suspended_authors(
    api: XApi, make_collector: MakeCollector, x_client: httpx.Client
) -> None:
    recorded_edit_chain(api)
    api.protected_users.add(AUTHOR)
    hidden = make_collector().collect(target(EDIT), x_client)
    assert isinstance(hidden, NotVisible)
    assert "protected" in hidden.reason
    api.protected_users.clear()
    api.suspended_users.add(AUTHOR)
    gone = make_collector().collect(target(EDIT), x_client)
    assert isinstance(gone, AccountGone)
    assert "suspended" in gone.reason


def test_429_pauses_the_host_until_its_reset_header(
    api: XApi, make_collector: MakeCollector, x_client: httpx.Client
) -> None:
    recorded_edit_chain(api)
    api.exhaust("lookup")
    limiter = HostLimiter()
    result = make_collector(limiter=limiter).collect(target(EDIT), x_client)
    assert isinstance(result, RateLimited), result
    reset = dt.datetime.fromtimestamp(int((api.now + api.window).timestamp()), dt.UTC)
    assert result.retry_at == reset
    sent = len(api.server.requests)
    again = make_collector(limiter=limiter).collect(target(EDIT), x_client)
    assert isinstance(again, RateLimited)
    assert len(api.server.requests) == sent  # the paused host is not asked again


def test_remaining_zero_pauses_before_the_429(
    api: XApi, make_collector: MakeCollector, x_client: httpx.Client
) -> None:
    recorded_edit_chain(api)
    api.limits["search"] = 1
    limiter = HostLimiter()
    first = make_collector(limiter=limiter).collect(target(EDIT), x_client)
    assert isinstance(first, CollectedPost)  # its search used the window's last request
    assert limiter.paused_until(api.host, api.now) is not None


def test_truncated_and_malformed_answers_fail_the_poll_and_say_why(
    api: XApi, make_collector: MakeCollector, x_client: httpx.Client
) -> None:
    recorded_edit_chain(api)
    route = f"/2/tweets/{EDIT}"
    api.script[route] = [
        Answer(200, [("Content-Type", "application/json")], b'{"data": {"id": "15769947891'),
        Answer.json({"data": {"id": EDIT}}),
        Answer.json({"unexpected": True}),
    ]
    truncated = make_collector().collect(target(EDIT), x_client)
    assert isinstance(truncated, TransientFailure)
    assert "not valid JSON" in truncated.error
    no_text = make_collector().collect(target(EDIT), x_client)
    assert isinstance(no_text, TransientFailure)
    assert "has no text" in no_text.error
    shapeless = make_collector().collect(target(EDIT), x_client)
    assert isinstance(shapeless, TransientFailure)
    assert "neither `data` nor `errors`" in shapeless.error


def test_without_a_token_nothing_is_sent(
    api: XApi, make_collector: MakeCollector, x_client: httpx.Client
) -> None:
    result = make_collector(token=None).collect(target(EDIT), x_client)
    assert isinstance(result, NotVisible)
    assert result.reason == NO_TOKEN
    assert api.server.requests == []


def test_a_refused_token_names_the_setting(
    api: XApi, make_collector: MakeCollector, x_client: httpx.Client
) -> None:
    recorded_edit_chain(api)
    result = make_collector(token="wrong").collect(target(EDIT), x_client)
    assert isinstance(result, NotVisible)
    assert "POSTVAULT_X_BEARER_TOKEN" in result.reason
    assert "401" in result.reason
