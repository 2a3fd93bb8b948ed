"""Registering accounts: the three forms, no guessing, and plain HTTP only where named."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.db import Database
from app.main import create_app
from app.platforms.registry import registry
from tests.conftest import MakePerson
from tests.loopback import Loopback, Reply, serve

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "feed"
ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>City parks blog</title>
  <id>urn:uuid:60a76c80-d399-11d9-b93C-0003939e0af6</id>
  <updated>2026-06-01T10:00:00Z</updated>
  <entry><title>Pool closure</title><id>urn:uuid:1</id>
    <link href="/2026/06/pool-closure"/><updated>2026-06-01T10:00:00Z</updated></entry>
</feed>
"""
HOME = b"""<!doctype html><html><head><title>Parks</title>
<link rel="alternate" type="application/atom+xml" title="Parks" href="/feed.atom">
</head><body>Parks blog</body></html>"""
PLAIN_PAGE = b"<!doctype html><html><head><title>Someone</title></head><body>hi</body></html>"


def _site(_method: str, path: str, _headers: dict[str, str], _body: bytes) -> Reply:
    if path == "/feed.atom":
        return Reply(200, ATOM, {"Content-Type": "application/atom+xml"})
    if path == "/":
        return Reply(200, HOME, {"Content-Type": "text/html; charset=utf-8"})
    if path == "/someone":
        return Reply(200, PLAIN_PAGE, {"Content-Type": "text/html"})
    if path == "/broken.xml":
        return Reply(200, b"<rss><channel><title>x</title", {"Content-Type": "application/xml"})
    return Reply(404, b"not found", {"Content-Type": "text/plain"})


@pytest.fixture
def site() -> Iterator[Loopback]:
    with serve(_site) as server:
        yield server


def _client(settings: Settings, db: Database, **changes: str) -> TestClient:
    return TestClient(
        create_app(settings.model_copy(update=changes), database=db),
        raise_server_exceptions=False,
    )


@pytest.fixture
def plain_client(settings: Settings, db: Database, site: Loopback) -> Iterator[TestClient]:
    """An app that may reach the loopback blog over plain HTTP."""
    with _client(
        settings, db, fetch_allow_hosts=site.netloc, fetch_plain_http_hosts=site.netloc
    ) as client:
        yield client


def test_a_feed_url_is_a_feed_account_once_the_feed_is_read(
    plain_client: TestClient, site: Loopback, make_person: MakePerson
) -> None:
    ann = make_person()
    response = plain_client.post(
        "/api/v1/accounts", json={"profile_url": f"{site.base_url}/feed.atom"}, headers=ann.headers
    )
    assert response.status_code == 201, response.text
    assert response.json()["platform"] == registry.get("feed").id
    assert response.json()["handle"] == f"{site.base_url}/feed.atom"
    assert ("GET", "/feed.atom") in site.requests


def test_a_blog_page_naming_its_feed_registers_the_feed(
    plain_client: TestClient, site: Loopback, make_person: MakePerson
) -> None:
    ann = make_person()
    response = plain_client.post(
        "/api/v1/accounts", json={"profile_url": f"{site.base_url}/"}, headers=ann.headers
    )
    assert response.status_code == 201, response.text
    assert response.json()["handle"] == f"{site.base_url}/feed.atom"


@pytest.mark.parametrize("path", ["/someone", "/missing", "/broken.xml"])
def test_no_feed_no_account(
    plain_client: TestClient, site: Loopback, make_person: MakePerson, path: str
) -> None:
    """A page of a site PostVault does not know is not a feed just because it is a URL."""
    ann = make_person()
    response = plain_client.post(
        "/api/v1/accounts", json={"profile_url": f"{site.base_url}{path}"}, headers=ann.headers
    )
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert "found no feed" in detail
    for platform in registry:
        assert platform.name in detail
    # And no URL on that site is then taken for a blog entry.
    flagged = plain_client.post(
        "/api/v1/posts", json={"url": f"{site.base_url}/2026/06/x"}, headers=ann.headers
    )
    assert flagged.status_code == 422
    assert "matches no supported platform" in flagged.json()["detail"]


def test_an_unreachable_site_is_no_feed(client: TestClient, make_person: MakePerson) -> None:
    ann = make_person()
    response = client.post(
        "/api/v1/accounts",
        json={"profile_url": "https://nowhere.invalid/cityofexample"},
        headers=ann.headers,
    )
    assert response.status_code == 422
    assert "found no feed" in response.json()["detail"]


def test_plain_http_is_refused_unless_the_host_is_named(
    settings: Settings, db: Database, site: Loopback, make_person: MakePerson
) -> None:
    ann = make_person()
    with _client(settings, db, fetch_allow_hosts=site.netloc) as client:
        for body in (
            {"profile_url": f"{site.base_url}/feed.atom"},
            {"platform": "feed", "handle": f"{site.base_url}/feed.atom"},
            {"profile_url": f"http://{site.netloc}/@parks"},
        ):
            response = client.post("/api/v1/accounts", json=body, headers=ann.headers)
            assert response.status_code == 422, response.text
            assert "POSTVAULT_FETCH_PLAIN_HTTP_HOSTS" in response.json()["detail"]
        assert site.requests == []  # refused before anything was fetched
        assert client.get("/api/v1/accounts", headers=ann.headers).json() == []


def test_the_mastodon_setting_is_an_alias(
    settings: Settings, db: Database, site: Loopback, make_person: MakePerson
) -> None:
    ann = make_person()
    with _client(
        settings, db, fetch_allow_hosts=site.netloc, mastodon_plain_http_instances=site.netloc
    ) as client:
        response = client.post(
            "/api/v1/accounts",
            json={"profile_url": f"{site.base_url}/feed.atom"},
            headers=ann.headers,
        )
        assert response.status_code == 201, response.text
        masto = client.post(
            "/api/v1/accounts",
            json={"profile_url": f"http://{site.netloc}/@parks"},
            headers=ann.headers,
        )
        assert masto.status_code == 201, masto.text
        assert masto.json()["handle"] == f"parks@{site.netloc}"
        assert masto.json()["profile_url"] == f"http://{site.netloc}/@parks"


def test_platform_with_profile_url(client: TestClient, make_person: MakePerson) -> None:
    ann = make_person()
    response = client.post(
        "/api/v1/accounts",
        json={"platform": "mastodon", "profile_url": "https://social.city.example/@Parks"},
        headers=ann.headers,
    )
    assert response.status_code == 201, response.text
    assert response.json()["handle"] == "parks@social.city.example"
    # Named a feed, the URL is taken as the feed's address without a fetch.
    feed = client.post(
        "/api/v1/accounts",
        json={"platform": "feed", "profile_url": "https://blog.city.example/feed.xml"},
        headers=ann.headers,
    )
    assert feed.status_code == 201, feed.text
    assert feed.json()["handle"] == "https://blog.city.example/feed.xml"
    wrong = client.post(
        "/api/v1/accounts",
        json={"platform": "youtube", "profile_url": "https://blog.city.example/about"},
        headers=ann.headers,
    )
    assert wrong.status_code == 422
    assert "not a YouTube profile URL" in wrong.json()["detail"]
    both = client.post(
        "/api/v1/accounts",
        json={"platform": "mastodon", "handle": "a@b.example", "profile_url": "https://b/@a"},
        headers=ann.headers,
    )
    assert both.status_code == 422
