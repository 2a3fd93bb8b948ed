"""The posts API: flagging, flagging again, every platform's URL forms, and clear 422s."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import MakePerson
from tests.factories import BSKY_POST, flag, register


def test_employee_registers_flags_and_officer_sees_it(
    client: TestClient, make_person: MakePerson
) -> None:
    alice = make_person("employee")
    officer = make_person("records_officer")
    account = register(client, alice, platform="bluesky", handle="@Alice.bsky.social")
    assert account["handle"] == "alice.bsky.social"
    post = flag(client, alice, BSKY_POST, note="pool closure announcement")
    assert post["platform"] == "bluesky"
    assert post["status"] == "waiting"
    assert post["external_id"] == "at://alice.bsky.social/app.bsky.feed.post/3l6oveex3ii2l"

    listed = client.get("/api/v1/posts", headers=officer.headers).json()
    assert [p["id"] for p in listed["items"]] == [post["id"]]
    detail = client.get(f"/api/v1/posts/{post['id']}", headers=officer.headers).json()
    assert detail["versions"] == []
    assert detail["holds"] == []
    assert detail["classification"] is None

    actions = [
        e["action"] for e in client.get("/api/v1/audit", headers=officer.headers).json()["items"]
    ]
    assert {"account.registered", "post.flagged"} <= set(actions)


def test_flagging_again_returns_the_same_post(client: TestClient, make_person: MakePerson) -> None:
    alice = make_person()
    register(client, alice, platform="bluesky", handle="alice.bsky.social")
    first = flag(client, alice, BSKY_POST)
    again = client.post(
        "/api/v1/posts",
        json={"url": "at://alice.bsky.social/app.bsky.feed.post/3l6oveex3ii2l"},
        headers=alice.headers,
    )
    assert again.status_code == 200
    assert again.json()["id"] == first["id"]
    assert client.get("/api/v1/posts", headers=alice.headers).json()["total"] == 1


def test_every_platform_form_is_flagged(client: TestClient, make_person: MakePerson) -> None:
    bob = make_person()
    register(client, bob, profile_url="https://mastodon.social/@parks")
    # Named as a feed: a bare profile URL is a feed only once one is found there, and
    # blog.city.example serves none (tests/platforms/test_registry.py covers discovery).
    register(client, bob, platform="feed", handle="https://blog.city.example/feed.xml")
    register(client, bob, profile_url="https://www.youtube.com/@CityParks")
    register(client, bob, profile_url="https://bsky.app/profile/parks.bsky.social")
    urls = {
        "mastodon": "https://mastodon.social/@parks/117020586180926938",
        "feed": "https://blog.city.example/2026/06/pool-closure",
        "youtube": "https://youtu.be/dQw4w9WgXcQ",
        "bluesky": "at://parks.bsky.social/app.bsky.feed.post/3kxyz",
    }
    for platform, url in urls.items():
        assert flag(client, bob, url)["platform"] == platform
    page = client.get("/api/v1/posts?platform=mastodon", headers=bob.headers).json()
    assert page["total"] == 1


def test_clear_422_messages(client: TestClient, make_person: MakePerson) -> None:
    carol = make_person()
    register(client, carol, platform="bluesky", handle="carol.bsky.social")

    def post(body: object) -> tuple[int, str]:
        r = client.post("/api/v1/posts", json=body, headers=carol.headers)
        return r.status_code, r.json()["detail"]

    assert post({"url": "https://www.example.com/some/page"}) == (
        422,
        post({"url": "https://www.example.com/some/page"})[1],
    )
    code, msg = post({"url": "https://www.example.com/some/page"})
    assert code == 422
    assert "matches no supported platform" in msg
    code, msg = post({"url": "https://bsky.app/profile/dave.bsky.social/post/3kabc"})
    assert code == 422
    assert "dave.bsky.social" in msg
    assert "not one of your registered accounts" in msg
    code, msg = post({"url": "https://youtu.be/dQw4w9WgXcQ"})
    assert code == 422
    assert "no registered YouTube account" in msg
    code, msg = post(
        {"url": "https://bsky.app/profile/carol.bsky.social/post/3kabc", "note": "x" * 2001}
    )
    assert code == 422
    assert msg.startswith("note:")
    code, msg = post({"note": "no url"})
    assert code == 422
    assert "url" in msg

    raw = client.post(
        "/api/v1/posts",
        content=b'{"url": "https://bsky.app/profile/carol',
        headers={**carol.headers, "Content-Type": "application/json"},
    )
    assert raw.status_code == 422
    assert "not valid JSON" in raw.json()["detail"]

    r = client.post(
        "/api/v1/accounts", json={"platform": "myspace", "handle": "tom"}, headers=carol.headers
    )
    assert r.status_code == 422
    assert "unknown platform 'myspace'" in r.json()["detail"]
    r = client.post("/api/v1/accounts", json={"handle": "tom"}, headers=carol.headers)
    assert r.status_code == 422
    assert "platform and handle, or profile_url" in r.json()["detail"]
    r = client.get("/api/v1/posts?status=bogus", headers=carol.headers)
    assert r.status_code == 422
    r = client.get("/api/v1/posts?limit=0", headers=carol.headers)
    assert r.status_code == 422
