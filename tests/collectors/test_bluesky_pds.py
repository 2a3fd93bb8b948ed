"""The Bluesky collector against a real PDS, PLC and AppView on loopback (tools/atproto-devenv).

The network starts once per session (5-7 s with the AppView). Without it these tests fail
loudly under CI and skip loudly elsewhere (see atproto_network.unavailable).
"""

from __future__ import annotations

import socket
from typing import Any

import httpx
import pytest

from app.platforms.bluesky.collector import BlueskyCollector
from app.platforms.collected import (
    AccountGone,
    CaptureTarget,
    CollectedPost,
    CollectResult,
    Deleted,
)
from app.platforms.fetcher import Fetcher
from app.platforms.ratelimit import HostLimiter
from tests.collectors.atproto_network import (
    Account,
    AtprotoClient,
    AtprotoNetwork,
    Ref,
    tiny_png,
    wait_until,
)
from tests.collectors.conftest import MakeClient, no_sleep

pytestmark = pytest.mark.atproto


@pytest.fixture
def fetch_client(make_fetch_client: MakeClient) -> httpx.Client:
    return make_fetch_client("127.0.0.1:*", max_bytes=10 * 1024 * 1024, timeout=30.0)


def make_collector(network: AtprotoNetwork, *, appview_url: str | None = None) -> BlueskyCollector:
    assert network.appview is not None
    return BlueskyCollector(
        resolver_url=network.pds,
        plc_url=network.plc,
        appview_url=appview_url or network.appview,
        fetcher=Fetcher(limiter=HostLimiter(), attempts=2, sleep=no_sleep),
    )


@pytest.fixture
def collector(atproto_network: AtprotoNetwork) -> BlueskyCollector:
    return make_collector(atproto_network)


def target_for(account: Account, ref: Ref, *, did: str | None = None) -> CaptureTarget:
    collection = ref.uri.split("/")[3]
    return CaptureTarget(
        post_id=1,
        platform="bluesky",
        external_id=f"at://{account.handle}/{collection}/{ref.rkey}",
        url=f"https://bsky.app/profile/{account.handle}/post/{ref.rkey}",
        account_handle=account.handle,
        account_platform_id=did,
    )


def as_post(result: CollectResult) -> CollectedPost:
    assert isinstance(result, CollectedPost), result
    return result


def facet(text: str, part: str, feature: dict[str, Any]) -> dict[str, Any]:
    start = text.encode().index(part.encode())
    return {
        "index": {"byteStart": start, "byteEnd": start + len(part.encode())},
        "features": [feature],
    }


def reply_uris(atp: AtprotoClient, uri: str) -> set[str] | None:
    thread = atp.thread(uri)
    if thread is None:
        return None
    found: set[str] = set()

    def walk(nodes: list[Any]) -> None:
        for node in nodes:
            if "post" in node:
                found.add(node["post"]["uri"])
                walk(node.get("replies") or [])

    walk(thread.get("replies") or [])
    return found


def test_capture_edit_delete(
    atp: AtprotoClient, collector: BlueskyCollector, fetch_client: httpx.Client
) -> None:
    """The scenario of issue 3: post with an image and replies, capture, edit, capture,
    delete, capture."""
    clerk = atp.create_account("clerk")
    atp.set_display_name(clerk, "Café Clerk ☕")
    resident = atp.create_account("resident")
    neighbour = atp.create_account("neighbour")
    png = tiny_png((10, 120, 200))
    blob = atp.upload_blob(clerk, png, "image/png")
    images = {
        "$type": "app.bsky.embed.images",
        "images": [
            {"alt": "agenda, page 1", "image": blob, "aspectRatio": {"width": 1, "height": 1}}
        ],
    }
    text = "Budget hearing moved to 7pm — détails: city.test/budget #PublicRecord"
    post = atp.create_record(
        clerk,
        {
            "text": text,
            "langs": ["en"],
            "embed": images,
            "facets": [
                facet(
                    text,
                    "city.test/budget",
                    {"$type": "app.bsky.richtext.facet#link", "uri": "https://city.test/budget"},
                ),
                facet(
                    text,
                    "#PublicRecord",
                    {"$type": "app.bsky.richtext.facet#tag", "tag": "PublicRecord"},
                ),
            ],
        },
    )
    reply = atp.create_record(
        resident,
        {"text": "Will it be streamed?", "reply": {"root": post.strong, "parent": post.strong}},
    )
    nested = atp.create_record(
        neighbour,
        {"text": "It was last time.", "reply": {"root": post.strong, "parent": reply.strong}},
    )
    wait_until(
        lambda: True if {reply.uri, nested.uri} <= (reply_uris(atp, post.uri) or set()) else None,
        what="the AppView to index both replies",
    )
    wait_until(
        lambda: (
            True
            if ((atp.thread(post.uri) or {}).get("post") or {}).get("author", {}).get("displayName")
            else None
        ),
        what="the AppView to index the display name",
    )

    first = as_post(collector.collect(target_for(clerk, post), fetch_client))
    assert first.platform_version_id == post.cid
    assert first.text == text
    assert first.language == "en"
    assert first.html == (
        "<p>Budget hearing moved to 7pm — détails: "
        '<a href="https://city.test/budget">city.test/budget</a> '
        '<a href="https://bsky.app/hashtag/PublicRecord" class="hashtag">#PublicRecord</a></p>'
    )
    assert first.links == ["https://city.test/budget"]
    assert first.hashtags == ["PublicRecord"]
    assert first.author.platform_id == clerk.did
    assert first.author.handle == clerk.handle
    assert first.author.display_name == "Café Clerk ☕"
    [image] = first.media
    assert image.alt_text == "agenda, page 1"
    assert image.mime_type == "image/png"
    assert image.url.startswith(f"{atp.network.pds}/xrpc/com.atproto.sync.getBlob?")
    assert fetch_client.get(image.url).content == png  # the URL serves the uploaded bytes
    assert first.replies_captured is True
    by_id = {r.id: r for r in first.replies}
    assert set(by_id) == {reply.uri, nested.uri}
    assert by_id[reply.uri].text == "Will it be streamed?"
    assert by_id[reply.uri].author.handle == resident.handle
    assert by_id[reply.uri].in_reply_to_id is None
    assert by_id[nested.uri].in_reply_to_id == reply.uri
    assert by_id[nested.uri].author.platform_id == neighbour.did

    # The lead's pipeline stores the DID on the account after the first capture.
    known = target_for(clerk, post, did=first.author.platform_id)
    edited = atp.put_post(
        clerk,
        post.rkey,
        {"text": "Budget hearing moved to 8pm (corrected)", "langs": ["en"], "embed": images},
    )
    second = as_post(collector.collect(known, fetch_client))
    assert second.platform_version_id == edited.cid != first.platform_version_id
    assert second.text == "Budget hearing moved to 8pm (corrected)"
    assert second.links == []
    assert second.hashtags == []
    assert [m.url for m in second.media] == [image.url]
    assert {r.id for r in second.replies} == {reply.uri, nested.uri}

    atp.delete_post(clerk, post.rkey)
    third = collector.collect(known, fetch_client)
    assert isinstance(third, Deleted), third
    assert "RecordNotFound" in third.reason
    assert third.http_requests >= 1


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_appview_down_keeps_the_record(
    atp: AtprotoClient, atproto_network: AtprotoNetwork, fetch_client: httpx.Client
) -> None:
    author = atp.create_account("offline")
    post = atp.create_record(author, {"text": "Posted while the AppView is away"})
    collector = make_collector(atproto_network, appview_url=closed_port_url())
    captured = as_post(collector.collect(target_for(author, post), fetch_client))
    assert captured.platform_version_id == post.cid
    assert captured.text == "Posted while the AppView is away"
    assert captured.author.platform_id == author.did
    assert captured.author.handle == author.handle  # from the DID document
    assert captured.replies_captured is False
    assert "could not be reached" in captured.extra["appview_error"]


def settled_gone(collector: BlueskyCollector, target: CaptureTarget, client: httpx.Client) -> Any:
    """The PDS serves a just-deactivated account's records from the AppView's index for a
    moment; the collector's answer settles within a second."""

    def probe() -> AccountGone | None:
        result = collector.collect(target, client)
        return result if isinstance(result, AccountGone) else None

    return wait_until(probe, timeout=20, what="AccountGone")


def test_deactivated_account(
    atp: AtprotoClient, atproto_network: AtprotoNetwork, fetch_client: httpx.Client
) -> None:
    leaver = atp.create_account("leaver")
    post = atp.create_record(leaver, {"text": "Taking a break"})
    wait_until(lambda: atp.thread(post.uri), what="the AppView to index the post")
    atp.deactivate(leaver)

    by_did = settled_gone(
        make_collector(atproto_network), target_for(leaver, post, did=leaver.did), fetch_client
    )
    assert "deactivated" in by_did.reason
    assert leaver.did in by_did.reason

    by_handle = make_collector(atproto_network).collect(target_for(leaver, post), fetch_client)
    assert isinstance(by_handle, AccountGone), by_handle
    assert "HandleNotFound" in by_handle.reason


def test_taken_down_account(
    atp: AtprotoClient, atproto_network: AtprotoNetwork, fetch_client: httpx.Client
) -> None:
    account = atp.create_account("banned")
    post = atp.create_record(account, {"text": "Soon taken down"})
    atp.take_down(account)
    gone = settled_gone(
        make_collector(atproto_network), target_for(account, post, did=account.did), fetch_client
    )
    assert "takendown" in gone.reason


def test_deleted_account(
    atp: AtprotoClient, atproto_network: AtprotoNetwork, fetch_client: httpx.Client
) -> None:
    account = atp.create_account("deleter")
    post = atp.create_record(account, {"text": "About to delete my account"})
    wait_until(lambda: atp.thread(post.uri), what="the AppView to index the post")
    atp.delete_account(account)
    gone = settled_gone(
        make_collector(atproto_network), target_for(account, post, did=account.did), fetch_client
    )
    assert "was deleted" in gone.reason


def test_quote_link_card_and_repost(
    atp: AtprotoClient, collector: BlueskyCollector, fetch_client: httpx.Client
) -> None:
    mayor = atp.create_account("mayor")
    resident = atp.create_account("quoter")
    original = atp.create_record(mayor, {"text": "Road closure on Main St this weekend."})
    thumb_png = tiny_png((0, 200, 0))
    thumb = atp.upload_blob(resident, thumb_png, "image/png")
    quote = atp.create_record(
        resident,
        {
            "text": "Heads up, neighbours",
            "embed": {
                "$type": "app.bsky.embed.recordWithMedia",
                "record": {"$type": "app.bsky.embed.record", "record": original.strong},
                "media": {
                    "$type": "app.bsky.embed.external",
                    "external": {
                        "uri": "https://city.test/closures",
                        "title": "Closures",
                        "description": "This week's road closures",
                        "thumb": thumb,
                    },
                },
            },
        },
    )
    repost = atp.create_record(
        resident, {"subject": original.strong}, collection="app.bsky.feed.repost"
    )
    wait_until(
        lambda: True if ((atp.thread(quote.uri) or {}).get("post") or {}).get("embed") else None,
        what="the AppView to index the quote",
    )

    quoted = as_post(collector.collect(target_for(resident, quote), fetch_client))
    assert quoted.quote_of is not None
    assert quoted.quote_of.uri == original.uri
    assert quoted.quote_of.text == "Road closure on Main St this weekend."
    assert quoted.quote_of.author.platform_id == mayor.did
    assert quoted.link_card is not None
    assert quoted.link_card.url == "https://city.test/closures"
    assert quoted.link_card.title == "Closures"
    assert quoted.link_card.thumb is not None
    assert fetch_client.get(quoted.link_card.thumb.url).content == thumb_png

    reposted = as_post(collector.collect(target_for(resident, repost), fetch_client))
    assert reposted.repost_of is not None
    assert reposted.repost_of.uri == original.uri
    assert reposted.repost_of.text == "Road closure on Main St this weekend."
    assert reposted.author.platform_id == resident.did
    assert reposted.platform_version_id == repost.cid
