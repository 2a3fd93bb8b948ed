"""The Bluesky collector against replayed PDS, PLC and AppView answers (loopback, fast).

One loopback server plays the resolver, PLC and PDS (a DID document names it as the PDS);
another plays the AppView, so the AppView can fail on its own. The answers are the real ones
recorded on the local atproto network (tests/fixtures/bluesky/SOURCES.md).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from app.collectors.registry import collector_for
from app.config import Settings
from app.platforms.bluesky.collector import BlueskyCollector
from app.platforms.collected import (
    AccountGone,
    CaptureTarget,
    CollectedPost,
    CollectResult,
    Deleted,
    RateLimited,
    TransientFailure,
)
from app.platforms.fetcher import Fetcher
from app.platforms.ratelimit import HostLimiter
from tests.collectors.bluesky_replay import (
    GET_RECORD,
    GET_REPO_STATUS,
    GET_THREAD,
    RESOLVE_HANDLE,
    XrpcReplay,
    active_repo_status,
    did_document_for,
    load,
    record_from_thread,
)
from tests.collectors.conftest import MakeClient, no_sleep

# local_pds: one account's post, original → edited → deleted.
CLERK = "clerk72419.test"
CLERK_DID = "did:plc:uemt4sanciftyuek2koa4c5g"
CLERK_RKEY = "3n34365n55k25"
CID_V1 = "bafyreihtgsy2bboazeivlxelm5hivply2z7gn2cyy7vjgkylipenhiqiaa"
CID_V2 = "bafyreidslkermp6c6t55cbezb4ve2me62pewkfiu4tqusvmtv6hpvwroq4"

# local_appview: the mayor's posts and a citizen's reply and quote.
MAYOR = "mayor72572.test"
MAYOR_DID = "did:plc:t6l4fb6ckvun6erydlkfum3b"
CITIZEN = "citizen72572.test"
CITIZEN_DID = "did:plc:4bk6lshgzw5xszdiyxlrisv4"
ROOT_URI = f"at://{MAYOR_DID}/app.bsky.feed.post/3n343cptuus2p"
REPLY_URI = f"at://{CITIZEN_DID}/app.bsky.feed.post/3n343cpwrnk2p"
IMAGE_RKEY = "3n343cpvjmc2p"
QUOTE_RKEY = "3n343cpxnxs2p"
IMAGE_CID = "bafkreidlp6sdj6jkroakvmbntpy2clsj77foijheae5byt3iwz7d2k542a"


@pytest.fixture
def pds() -> Iterator[XrpcReplay]:
    with XrpcReplay() as server:
        yield server


@pytest.fixture
def appview() -> Iterator[XrpcReplay]:
    with XrpcReplay() as server:
        yield server


@pytest.fixture
def limiter() -> HostLimiter:
    return HostLimiter()


@pytest.fixture
def collector(pds: XrpcReplay, appview: XrpcReplay, limiter: HostLimiter) -> BlueskyCollector:
    return BlueskyCollector(
        resolver_url=pds.base_url,
        plc_url=pds.base_url,
        appview_url=appview.base_url,
        fetcher=Fetcher(limiter=limiter, attempts=2, sleep=no_sleep),
    )


@pytest.fixture
def client(make_fetch_client: MakeClient, pds: XrpcReplay, appview: XrpcReplay) -> httpx.Client:
    return make_fetch_client(pds.host, appview.host)


Collect = Callable[..., CollectResult]


@pytest.fixture
def collect(collector: BlueskyCollector, client: httpx.Client) -> Collect:
    def run(handle: str, rkey: str, *, did: str | None = None) -> CollectResult:
        target = CaptureTarget(
            post_id=1,
            platform="bluesky",
            external_id=f"at://{handle}/app.bsky.feed.post/{rkey}",
            url=f"https://bsky.app/profile/{handle}/post/{rkey}",
            account_handle=handle,
            account_platform_id=did,
        )
        return collector.collect(target, client)

    return run


def as_post(result: CollectResult) -> CollectedPost:
    assert isinstance(result, CollectedPost), result
    return result


def clerk_network(pds: XrpcReplay, appview: XrpcReplay) -> None:
    pds.add("local_pds/02_resolveHandle")
    pds.add("local_pds/13_plc_did_doc")
    pds.add("local_pds/04_getRecord_v1")
    pds.answer(GET_REPO_STATUS, {"did": CLERK_DID}, active_repo_status(CLERK_DID))
    # This post was recorded on a network without an AppView; the PDS's own answer to
    # getPostThread there was 502 UpstreamFailure, and the AppView replays that.
    recording = load("local_pds/09_getPostThread_no_appview")
    appview.answer(
        GET_THREAD,
        {"uri": f"at://{CLERK_DID}/app.bsky.feed.post/{CLERK_RKEY}"},
        recording["body"],
        status=recording["status"],
    )


def mayor_network(pds: XrpcReplay, appview: XrpcReplay, *threads: str) -> None:
    """Each AppView thread recording, and the PDS records and DID documents behind it."""
    for did, handle in ((MAYOR_DID, MAYOR), (CITIZEN_DID, CITIZEN)):
        pds.answer(f"/{did}", {}, did_document_for(did, handle))
        pds.answer(GET_REPO_STATUS, {"did": did}, active_repo_status(did))
        pds.answer(RESOLVE_HANDLE, {"handle": handle}, {"did": did})
    for name in threads:
        recording = appview.add(f"local_appview/{name}")
        if recording["status"] == 200:
            serve_record(pds, record_from_thread(recording))


def serve_record(pds: XrpcReplay, record: dict[str, Any]) -> None:
    did, collection, rkey = record["uri"].removeprefix("at://").split("/")
    pds.answer(GET_RECORD, {"repo": did, "collection": collection, "rkey": rkey}, record)


# --- the PDS recordings: capture, edit, delete ------------------------------------------


def test_capture_edit_delete_from_recorded_pds(
    pds: XrpcReplay, appview: XrpcReplay, collect: Collect
) -> None:
    clerk_network(pds, appview)

    first = as_post(collect(CLERK, CLERK_RKEY))
    assert first.platform_version_id == CID_V1
    assert first.text == "Council meeting moved to 7pm. #publicrecord"
    assert first.html == "<p>Council meeting moved to 7pm. #publicrecord</p>"
    assert first.hashtags == ["publicrecord"]
    assert first.language == "en"
    assert first.created_at == dt.datetime(2026, 1, 15, 17, 0, tzinfo=dt.UTC)
    assert first.author.platform_id == CLERK_DID
    assert first.author.handle == CLERK  # from the DID document's alsoKnownAs
    assert first.post_id == f"at://{CLERK_DID}/app.bsky.feed.post/{CLERK_RKEY}"
    # The AppView failed (502 UpstreamFailure, retried): the record is captured all the same.
    assert first.replies_captured is False
    assert "HTTP 502" in first.extra["appview_error"]
    record_key = f"GET {pds.base_url}{GET_RECORD}?" + urlencode(
        {"repo": CLERK_DID, "collection": "app.bsky.feed.post", "rkey": CLERK_RKEY}
    )
    assert first.source[record_key]["body"]["cid"] == CID_V1
    assert any(key.startswith(f"GET {pds.base_url}/{CLERK_DID}") for key in first.source)
    # resolveHandle, DID document, getRecord, getPostThread twice (a 502 is retried).
    assert first.http_requests == 5

    pds.add("local_pds/06_getRecord_v2_after_edit")
    second = as_post(collect(CLERK, CLERK_RKEY))
    assert second.platform_version_id == CID_V2
    assert second.text == "Council meeting moved to 8pm (corrected). #publicrecord"
    # The identity is remembered: no resolveHandle or DID document this time.
    assert second.http_requests == 3
    assert len(pds.requests(RESOLVE_HANDLE)) == 1

    pds.add("local_pds/11_getRecord_after_delete")
    third = collect(CLERK, CLERK_RKEY)
    assert isinstance(third, Deleted), third
    assert "RecordNotFound" in third.reason
    assert "deleted" in third.reason
    assert any("getRecord" in key for key in third.source)
    # A missing record makes the collector re-resolve the identity (a stale PDS would
    # answer the same way) and ask for the account's status before calling it deleted.
    assert len(pds.requests(RESOLVE_HANDLE)) == 2
    assert len(pds.requests(GET_REPO_STATUS)) == 1


def test_known_did_skips_the_handle(pds: XrpcReplay, appview: XrpcReplay, collect: Collect) -> None:
    clerk_network(pds, appview)
    post = as_post(collect(CLERK, CLERK_RKEY, did=CLERK_DID))
    assert post.platform_version_id == CID_V1
    assert pds.requests(RESOLVE_HANDLE) == []


def test_by_did_uri(pds: XrpcReplay, appview: XrpcReplay, collect: Collect) -> None:
    clerk_network(pds, appview)
    post = as_post(collect(CLERK_DID, CLERK_RKEY))
    assert post.author.handle == CLERK
    assert pds.requests(RESOLVE_HANDLE) == []


# --- the AppView recordings: replies, images, quotes -------------------------------------


def test_thread_with_reply(pds: XrpcReplay, appview: XrpcReplay, collect: Collect) -> None:
    mayor_network(pds, appview, "01_getPostThread_original")
    post = as_post(collect(MAYOR, "3n343cptuus2p"))
    assert post.replies_captured is True
    assert post.text == "Road closure on Main St this weekend. https://example.gov/notice"
    assert post.links == ["https://example.gov/notice"]  # no facet: found in the text
    assert post.author.handle == MAYOR
    assert post.author.platform_id == MAYOR_DID
    assert [reply.id for reply in post.replies] == [REPLY_URI]
    reply = post.replies[0]
    assert reply.text == "Will buses be rerouted?"
    assert reply.author.handle == CITIZEN
    assert reply.author.platform_id == CITIZEN_DID
    assert reply.in_reply_to_id is None  # a direct reply
    assert reply.url == f"https://bsky.app/profile/{CITIZEN}/post/3n343cpwrnk2p"
    assert reply.created_at == dt.datetime(2026, 1, 15, 17, 0, tzinfo=dt.UTC)
    assert "appview_error" not in post.extra
    thread_request = appview.requests(GET_THREAD)[0]
    assert "depth=10" in thread_request.query


def test_image_blob_is_named_on_the_pds(
    pds: XrpcReplay, appview: XrpcReplay, collect: Collect
) -> None:
    mayor_network(pds, appview, "02_getPostThread_with_image")
    post = as_post(collect(MAYOR, IMAGE_RKEY))
    assert post.text == "Detour map attached"
    [image] = post.media
    assert image.url == (
        f"{pds.base_url}/xrpc/com.atproto.sync.getBlob?"
        + urlencode({"did": MAYOR_DID, "cid": IMAGE_CID})
    )
    assert image.alt_text == "detour map"
    assert image.mime_type == "image/png"
    assert (image.width, image.height) == (1, 1)
    assert image.role == "image"


def test_reply_names_its_parent(pds: XrpcReplay, appview: XrpcReplay, collect: Collect) -> None:
    mayor_network(pds, appview, "03_getPostThread_reply")
    post = as_post(collect(CITIZEN, "3n343cpwrnk2p"))
    assert post.reply_to == ROOT_URI
    assert post.author.handle == CITIZEN


def test_quote_carries_the_quoted_post(
    pds: XrpcReplay, appview: XrpcReplay, collect: Collect
) -> None:
    mayor_network(pds, appview, "04_getPostThread_quote")
    post = as_post(collect(CITIZEN, QUOTE_RKEY))
    assert post.text == "Heads up, neighbours"
    assert post.quote_of is not None
    assert post.quote_of.uri == ROOT_URI
    assert post.quote_of.text == "Road closure on Main St this weekend. https://example.gov/notice"
    assert post.quote_of.author.handle == MAYOR
    assert post.quote_of.author.platform_id == MAYOR_DID
    assert post.quote_of.url == f"https://bsky.app/profile/{MAYOR}/post/3n343cptuus2p"
    assert "quote_state" not in post.extra


def test_quote_of_a_deleted_post(pds: XrpcReplay, appview: XrpcReplay, collect: Collect) -> None:
    mayor_network(pds, appview, "11_getPostThread_quote_of_deleted")
    post = as_post(collect(CITIZEN, QUOTE_RKEY))
    assert post.quote_of is not None
    assert post.quote_of.uri == ROOT_URI
    assert post.quote_of.text == ""
    assert "not found" in post.extra["quote_state"]


def test_edit_seen_through_the_appview(
    pds: XrpcReplay, appview: XrpcReplay, collect: Collect
) -> None:
    mayor_network(pds, appview, "01_getPostThread_original")
    before = as_post(collect(MAYOR, "3n343cptuus2p"))
    mayor_network(pds, appview, "08_getPostThread_after_edit")
    after = as_post(collect(MAYOR, "3n343cptuus2p"))
    assert after.platform_version_id != before.platform_version_id
    assert after.text == "EDITED: Road closure on Main St is cancelled."
    assert [reply.id for reply in after.replies] == [REPLY_URI]


def test_appview_not_found_keeps_the_record(
    pds: XrpcReplay, appview: XrpcReplay, collect: Collect
) -> None:
    # The PDS still serves the record while the AppView says NotFound (it lags behind,
    # or the recorded deletion reached it first): the record is what counts.
    mayor_network(pds, appview, "01_getPostThread_original")
    appview.add("local_appview/09_getPostThread_after_delete")
    post = as_post(collect(MAYOR, "3n343cptuus2p"))
    assert post.replies_captured is False
    assert post.replies == []
    assert "NotFound" in post.extra["appview_error"]


def test_appview_unreachable(
    pds: XrpcReplay, appview: XrpcReplay, make_fetch_client: MakeClient, limiter: HostLimiter
) -> None:
    with XrpcReplay() as stopped:
        closed_url, closed_host = stopped.base_url, stopped.host  # closed when the block ends
    clerk_network(pds, appview)
    collector = BlueskyCollector(
        resolver_url=pds.base_url,
        plc_url=pds.base_url,
        appview_url=closed_url,
        fetcher=Fetcher(limiter=limiter, attempts=2, sleep=no_sleep),
    )
    target = CaptureTarget(
        post_id=1,
        platform="bluesky",
        external_id=f"at://{CLERK}/app.bsky.feed.post/{CLERK_RKEY}",
        url=f"https://bsky.app/profile/{CLERK}/post/{CLERK_RKEY}",
        account_handle=CLERK,
    )
    post = as_post(collector.collect(target, make_fetch_client(pds.host, closed_host)))
    assert post.platform_version_id == CID_V1
    assert post.replies_captured is False
    assert "could not be reached" in post.extra["appview_error"]


# --- rate limits -------------------------------------------------------------------------


def test_rate_limited_pds(
    pds: XrpcReplay, appview: XrpcReplay, collect: Collect, limiter: HostLimiter
) -> None:
    clerk_network(pds, appview)
    recording = load("local_pds/14_createSession_429")
    # The PDS sends the same RateLimit-* headers on every route; the recorded 429 is replayed
    # for getRecord.
    pds.answer(
        GET_RECORD,
        {"repo": CLERK_DID, "collection": "app.bsky.feed.post", "rkey": CLERK_RKEY},
        recording["body"],
        status=429,
        headers=list(recording["headers"].items()),
    )
    before = dt.datetime.now(dt.UTC)
    result = collect(CLERK, CLERK_RKEY)
    assert isinstance(result, RateLimited), result
    assert result.host == pds.host
    # Retry-After (290 s) comes first; the recorded reset epoch is in the past by now.
    assert before + dt.timedelta(seconds=289) <= result.retry_at
    assert result.retry_at <= dt.datetime.now(dt.UTC) + dt.timedelta(seconds=291)

    # The host stays paused: the next capture sends nothing to it.
    again = collect(CLERK, CLERK_RKEY)
    assert isinstance(again, RateLimited)
    assert again.http_requests == 0
    assert limiter.paused_until(appview.host) is None  # other hosts go on


def test_rate_limit_reset_epoch(pds: XrpcReplay, appview: XrpcReplay, collect: Collect) -> None:
    clerk_network(pds, appview)
    recording = load("local_pds/14_createSession_429")
    reset = int(dt.datetime.now(dt.UTC).timestamp()) + 120
    headers = {k: v for k, v in recording["headers"].items() if k != "retry-after"}
    headers["ratelimit-reset"] = str(reset)
    pds.answer(
        GET_RECORD,
        {"repo": CLERK_DID, "collection": "app.bsky.feed.post", "rkey": CLERK_RKEY},
        recording["body"],
        status=429,
        headers=list(headers.items()),
    )
    result = collect(CLERK, CLERK_RKEY)
    assert isinstance(result, RateLimited), result
    assert result.retry_at == dt.datetime.fromtimestamp(reset, dt.UTC)


def test_rate_limited_appview_keeps_the_record(
    pds: XrpcReplay, appview: XrpcReplay, collect: Collect, limiter: HostLimiter
) -> None:
    clerk_network(pds, appview)
    recording = load("local_pds/14_createSession_429")
    appview.answer(
        GET_THREAD,
        {"uri": f"at://{CLERK_DID}/app.bsky.feed.post/{CLERK_RKEY}"},
        recording["body"],
        status=429,
        headers=list(recording["headers"].items()),
    )
    post = as_post(collect(CLERK, CLERK_RKEY))
    assert post.platform_version_id == CID_V1
    assert post.replies_captured is False
    assert "rate limited" in post.extra["appview_error"]
    assert limiter.paused_until(appview.host) is not None
    assert limiter.paused_until(pds.host) is None


# --- accounts that are gone --------------------------------------------------------------


def _account_state_network(pds: XrpcReplay, prefix: str, state: str) -> tuple[str, str]:
    """Serve the recorded PLC document, getRecord and getRepoStatus answers of an account in
    `state`; returns (did, rkey) of its post."""
    recording = pds.add(f"account_states/{prefix}_{state}_getRecord" + _suffix(prefix, state))
    query = dict(item.split("=", 1) for item in recording["request"].split("?", 1)[1].split("&"))
    did = query["repo"].replace("%3A", ":")
    pds.add(f"account_states/{prefix}_{_plc_state(state)}_plc")
    pds.add(f"account_states/{prefix}_{state}_getRepoStatus")
    return did, query["rkey"]


def _suffix(prefix: str, state: str) -> str:
    # With an AppView the PDS first serves the stale record; the recording a second later
    # is the settled answer.
    return "_after_1s" if prefix == "appview" and state != "takendown" else ""


def _plc_state(state: str) -> str:
    return "deactivated" if state == "takendown" else state


@pytest.mark.parametrize(
    ("prefix", "state", "expected"),
    [
        ("appview", "deactivated", "is deactivated"),
        ("appview", "takendown", "is takendown"),
        ("appview", "deleted_account", "was deleted"),
        ("pds", "deactivated", "is deactivated"),
        ("pds", "deleted_account", "was deleted"),
    ],
)
def test_account_gone(
    pds: XrpcReplay, collect: Collect, prefix: str, state: str, expected: str
) -> None:
    did, rkey = _account_state_network(pds, prefix, state)
    result = collect(did, rkey)
    assert isinstance(result, AccountGone), result
    assert expected in result.reason
    assert did in result.reason
    assert any("getRepoStatus" in key for key in result.source)


def test_handle_no_longer_resolves(pds: XrpcReplay, collect: Collect) -> None:
    recording = pds.add("account_states/appview_deactivated_resolveHandle")
    handle = recording["request"].split("handle=", 1)[1]
    result = collect(handle, "3n346y2bvsc2i")
    assert isinstance(result, AccountGone), result
    assert "HandleNotFound" in result.reason
    assert handle in result.reason


def test_unknown_collection_is_refused(collector: BlueskyCollector, client: httpx.Client) -> None:
    target = CaptureTarget(
        post_id=1,
        platform="bluesky",
        external_id=f"at://{CLERK}/app.bsky.feed.like/{CLERK_RKEY}",
        url="https://bsky.app/",
        account_handle=CLERK,
    )
    result = collector.collect(target, client)
    assert isinstance(result, TransientFailure)
    assert "app.bsky.feed.like" in result.error
    assert result.http_requests == 0


def test_malformed_answers_become_outcomes(
    pds: XrpcReplay, appview: XrpcReplay, collect: Collect
) -> None:
    clerk_network(pds, appview)
    pds.answer(
        GET_RECORD,
        {"repo": CLERK_DID, "collection": "app.bsky.feed.post", "rkey": CLERK_RKEY},
        ["not", "a", "record"],
    )
    result = collect(CLERK, CLERK_RKEY)
    assert isinstance(result, TransientFailure), result
    assert "no record value" in result.error


def test_registered_with_the_settings_urls() -> None:
    settings = Settings(
        bluesky_resolver_url="https://resolver.test/",
        bluesky_plc_url="https://plc.test",
        bluesky_appview_url="https://appview.test",
        fetch_max_bytes=4321,
    )
    limiter = HostLimiter()
    collector = collector_for("bluesky", settings, limiter=limiter)
    assert isinstance(collector, BlueskyCollector)
    assert (collector.resolver_url, collector.plc_url, collector.appview_url) == (
        "https://resolver.test",
        "https://plc.test",
        "https://appview.test",
    )
    assert collector.max_bytes == 4321
    assert collector.limiter is limiter
    assert collector.version.startswith("bluesky/")
