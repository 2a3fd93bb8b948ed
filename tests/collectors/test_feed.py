"""The feed collector against a loopback blog: Atom, RSS, conditional GET, removals."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from app.platforms.collected import (
    CaptureTarget,
    CollectedPost,
    Deleted,
    TransientFailure,
    Unchanged,
)
from app.platforms.feed.collector import FeedCollector
from app.platforms.fetcher import Fetcher
from app.platforms.ratelimit import HostLimiter
from tests.collectors.conftest import MakeClient, no_sleep
from tests.collectors.servers import FIXTURES, Answer, LoopbackServer, Request

ATOM_SAMPLE = (FIXTURES / "feed" / "local_atom_sample.xml").read_text(encoding="utf-8")
ETAG = '"v1-abc"'
LAST_MODIFIED = "Fri, 16 Jan 2026 09:00:00 GMT"

RSS = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/">
<channel>
  <title>Parks news</title>
  <link>{base}/</link>
  <language>en-us</language>
  <item>
    <title>Pool opens</title>
    <link>{base}/news/pool?utm_source=rss</link>
    <guid isPermaLink="false">parks-17</guid>
    <pubDate>Mon, 01 Jun 2026 14:00:00 GMT</pubDate>
    <author>parks@city.example (Parks Dept)</author>
    <category>Recreation</category>
    <description>&lt;p&gt;The pool opens &lt;a href="/hours"&gt;at 9&lt;/a&gt;.&lt;/p&gt;&lt;p&gt;Bring #sunscreen.&lt;/p&gt;</description>
    <media:thumbnail url="{base}/pool.jpg" width="300" height="200"/>
  </item>
</channel>
</rss>
"""

LATIN1_RSS = (
    '<?xml version="1.0" encoding="ISO-8859-1"?>\n'
    '<rss version="2.0"><channel><title>Caf\xe9 municipal</title><link>{base}/</link>'
    "<item><title>Men\xfa del d\xeda</title><link>{base}/menu</link>"
    "<description>Jalape\xf1o, cr\xe8me br\xfbl\xe9e, 20 \xb0C</description>"
    "<pubDate>Tue, 02 Jun 2026 08:00:00 GMT</pubDate></item></channel></rss>"
)

MALFORMED = '<?xml version="1.0"?><rss version="2.0"><channel><title>x</title><item><title>a</item></channel></rss>'


@dataclass
class Blog:
    """A loopback blog: one feed document and per-path permalink statuses."""

    feed: bytes = b""
    feed_type: str = "application/atom+xml"
    etag: str | None = ETAG
    last_modified: str | None = LAST_MODIFIED
    pages: dict[str, int] = field(default_factory=dict)  # path → status; default 200
    server: LoopbackServer = field(init=False)

    def __post_init__(self) -> None:
        self.server = LoopbackServer(self.app)

    def app(self, request: Request) -> Answer:
        if request.route == "/feed":
            if self.etag and request.headers.get("if-none-match") == self.etag:
                return Answer(304, [("ETag", self.etag)])
            headers = [("Content-Type", self.feed_type)]
            if self.etag:
                headers.append(("ETag", self.etag))
            if self.last_modified:
                headers.append(("Last-Modified", self.last_modified))
            return Answer(200, headers, self.feed)
        status = self.pages.get(request.route, 200)
        return Answer(status, [("Content-Type", "text/html")], b"<html>page</html>")

    @property
    def base(self) -> str:
        return self.server.base_url

    def target(self, entry_url: str, **overrides: Any) -> CaptureTarget:
        values: dict[str, Any] = {
            "post_id": 3,
            "platform": "feed",
            "external_id": entry_url,
            "url": entry_url,
            "account_handle": f"{self.base}/feed",
            "account_profile_url": f"{self.base}/feed",
        }
        values.update(overrides)
        return CaptureTarget(**values)


@pytest.fixture
def blog() -> Iterator[Blog]:
    site = Blog()
    site.server.start()
    site.feed = ATOM_SAMPLE.replace("http://127.0.0.1:8765", site.base).encode()
    yield site
    site.server.stop()


@pytest.fixture
def client(blog: Blog, make_fetch_client: MakeClient) -> httpx.Client:
    return make_fetch_client(blog.server.host)


def collector() -> FeedCollector:
    return FeedCollector(Fetcher(limiter=HostLimiter(), sleep=no_sleep))


def test_an_atom_entry(blog: Blog, client: httpx.Client) -> None:
    result = collector().collect(blog.target(f"{blog.base}/posts/42"), client)

    assert isinstance(result, CollectedPost), result
    assert result.title == "Main St closure"
    assert result.html == "<p>Closure cancelled.</p>"
    assert result.text == "Closure cancelled."
    assert result.post_id == "tag:dpw.example.gov,2026:post-42"
    assert result.url == f"{blog.base}/posts/42"
    assert result.author.display_name == "J. Clerk"
    assert result.author.handle == f"{blog.base}/feed"
    assert result.created_at == dt.datetime(2026, 1, 15, 17, tzinfo=dt.UTC)
    assert result.edited_at == dt.datetime(2026, 1, 16, 9, tzinfo=dt.UTC)
    assert result.platform_version_id == "2026-01-16T09:00:00Z"
    [media] = result.media
    assert media.url == f"{blog.base}/map.png"
    assert media.role == "image"
    assert media.mime_type == "image/png"
    assert result.validators == {"etag": ETAG, "last_modified": LAST_MODIFIED}
    assert result.source["permalink"] == {
        "url": f"{blog.base}/posts/42",
        "status": 200,
        "error": None,
    }
    assert result.extra["feed_title"] == "Dept. of Public Works blog"
    assert result.source["entry"]["id"] == "tag:dpw.example.gov,2026:post-42"
    assert result.http_requests == 2
    assert [r.route for r in blog.server.requests] == ["/feed", "/posts/42"]


def test_the_entry_is_found_by_its_id_too(blog: Blog, client: httpx.Client) -> None:
    result = collector().collect(
        blog.target("tag:dpw.example.gov,2026:post-42", url=f"{blog.base}/posts/42"), client
    )
    assert isinstance(result, CollectedPost)
    assert result.title == "Main St closure"


def test_conditional_get_answers_unchanged(blog: Blog, client: httpx.Client) -> None:
    first = collector().collect(blog.target(f"{blog.base}/posts/42"), client)
    assert isinstance(first, CollectedPost)

    again = collector().collect(
        blog.target(f"{blog.base}/posts/42", validators=first.validators), client
    )

    assert isinstance(again, Unchanged), again
    feed_request = blog.server.requests[2]
    assert feed_request.headers["if-none-match"] == ETAG
    assert feed_request.headers["if-modified-since"] == LAST_MODIFIED
    assert again.http_requests == 2  # the 304 and the permalink check


def test_a_removed_permalink_is_a_deletion_even_when_the_feed_is_unchanged(
    blog: Blog, client: httpx.Client
) -> None:
    blog.pages["/posts/42"] = 410
    result = collector().collect(
        blog.target(f"{blog.base}/posts/42", validators={"etag": ETAG}), client
    )
    assert isinstance(result, Deleted), result
    assert "410" in result.reason


@pytest.mark.parametrize("status", [404, 410])
def test_a_removed_permalink_while_the_feed_still_lists_it(
    blog: Blog, client: httpx.Client, status: int
) -> None:
    blog.pages["/posts/42"] = status
    result = collector().collect(blog.target(f"{blog.base}/posts/42"), client)
    assert isinstance(result, Deleted), result
    assert f"HTTP {status}" in result.reason
    assert "still lists" in result.reason
    assert result.source == {"permalink": {"url": f"{blog.base}/posts/42", "status": status}}


def test_an_entry_that_scrolled_off_the_feed_is_not_deleted(
    blog: Blog, client: httpx.Client
) -> None:
    result = collector().collect(blog.target(f"{blog.base}/posts/7"), client)
    assert isinstance(result, Unchanged), result


def test_an_entry_gone_from_feed_and_site_is_deleted(blog: Blog, client: httpx.Client) -> None:
    blog.pages["/posts/7"] = 404
    result = collector().collect(blog.target(f"{blog.base}/posts/7"), client)
    assert isinstance(result, Deleted)
    assert "no longer in the feed" in result.reason


def test_an_rss_item_matched_after_normalising_its_link(blog: Blog, client: httpx.Client) -> None:
    blog.feed = RSS.format(base=blog.base).encode()
    blog.feed_type = "application/rss+xml"
    result = collector().collect(blog.target(f"{blog.base}/news/pool"), client)

    assert isinstance(result, CollectedPost), result
    assert result.post_id == "parks-17"
    assert result.title == "Pool opens"
    assert result.text == "The pool opens at 9.\n\nBring #sunscreen."
    assert result.links == [f"{blog.base}/hours"]  # relative links resolved against the feed
    assert result.hashtags == ["sunscreen"]
    assert result.created_at == dt.datetime(2026, 6, 1, 14, tzinfo=dt.UTC)
    assert result.edited_at is None
    assert result.language == "en-us"
    assert result.extra["categories"] == ["Recreation"]
    [thumb] = result.media
    assert (thumb.role, thumb.width, thumb.height) == ("thumbnail", 300, 200)


def test_an_iso_8859_1_feed_decodes(blog: Blog, client: httpx.Client) -> None:
    blog.feed = LATIN1_RSS.format(base=blog.base).encode("iso-8859-1")
    blog.feed_type = "application/rss+xml"  # no charset: the XML prolog decides
    result = collector().collect(blog.target(f"{blog.base}/menu"), client)
    assert isinstance(result, CollectedPost), result
    assert result.title == "Men\u00fa del d\u00eda"
    assert result.text == "Jalape\u00f1o, cr\u00e8me br\u00fbl\u00e9e, 20 \u00b0C"
    assert result.extra["feed_title"] == "Caf\u00e9 municipal"
    assert result.source["feed"]["encoding"] == "iso-8859-1"


def test_malformed_xml_is_a_clear_failure(blog: Blog, client: httpx.Client) -> None:
    blog.feed = MALFORMED.encode()
    result = collector().collect(blog.target(f"{blog.base}/a"), client)
    assert isinstance(result, TransientFailure), result
    assert "not well-formed XML" in result.error
    assert "line 1" in result.error


def test_a_page_that_is_not_a_feed(blog: Blog, client: httpx.Client) -> None:
    blog.feed = b"<html><body><p>Welcome</p></body></html>"
    blog.feed_type = "text/html"
    result = collector().collect(blog.target(f"{blog.base}/a"), client)
    assert isinstance(result, TransientFailure), result
    assert "not an RSS or Atom feed" in result.error or "not well-formed" in result.error


def test_a_missing_feed_is_a_failure_not_a_deletion(blog: Blog, client: httpx.Client) -> None:
    blog.pages["/old-feed"] = 404
    result = collector().collect(
        blog.target(f"{blog.base}/posts/42", account_profile_url=f"{blog.base}/old-feed"), client
    )
    assert isinstance(result, TransientFailure), result
    assert result.error == f"the feed {blog.base}/old-feed answered HTTP 404"


def test_a_feed_on_a_private_address_is_refused(make_fetch_client: MakeClient) -> None:
    target = CaptureTarget(
        post_id=1,
        platform="feed",
        external_id="https://intranet.example/p",
        url="https://intranet.example/p",
        account_handle="https://localhost/feed",
        account_profile_url="https://localhost/feed",
    )
    result = collector().collect(target, make_fetch_client())
    assert isinstance(result, TransientFailure)
    assert "loopback" in result.error


def test_a_feed_redirecting_into_the_network_is_refused(
    blog: Blog, make_fetch_client: MakeClient
) -> None:
    with LoopbackServer(lambda _r: Answer(200, [], b"internal")) as inside:
        original = blog.app

        def app(request: Request) -> Answer:
            if request.route == "/moved-feed":
                return Answer(302, [("Location", f"{inside.base_url}/admin")])
            return original(request)

        blog.server.app = app
        client = make_fetch_client(blog.server.host)  # the blog only, not `inside`
        result = collector().collect(
            blog.target(f"{blog.base}/posts/42", account_profile_url=f"{blog.base}/moved-feed"),
            client,
        )
        assert isinstance(result, TransientFailure), result
        assert "refused to fetch" in result.error
        assert inside.requests == []
