"""The foundation API: accounts, flags, the role matrix, and clear 4xx errors."""

from __future__ import annotations

from fastapi.testclient import TestClient

from app.db import Database
from app.posts.models import CapturedVersion, FlaggedPost
from tests.conftest import MakePerson, Person

BSKY_POST = "https://bsky.app/profile/alice.bsky.social/post/3l6oveex3ii2l"


def register(client: TestClient, who: Person, **body: str) -> dict[str, object]:
    response = client.post("/api/v1/accounts", json=body, headers=who.headers)
    assert response.status_code in (200, 201), response.text
    data: dict[str, object] = response.json()
    return data


def flag(client: TestClient, who: Person, url: str, note: str | None = None) -> dict[str, object]:
    response = client.post("/api/v1/posts", json={"url": url, "note": note}, headers=who.headers)
    assert response.status_code == 201, response.text
    data: dict[str, object] = response.json()
    return data


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


def test_role_matrix(client: TestClient, make_person: MakePerson) -> None:
    alice, bob = make_person(), make_person()
    officer, admin = make_person("records_officer"), make_person("admin")
    account = register(client, alice, platform="bluesky", handle="alice.bsky.social")
    post = flag(client, alice, BSKY_POST)

    # Bob sees nothing of Alice's, and what he cannot see is "not found", not "forbidden".
    assert client.get("/api/v1/accounts", headers=bob.headers).json() == []
    assert client.get("/api/v1/posts", headers=bob.headers).json()["total"] == 0
    not_found = client.get(f"/api/v1/posts/{post['id']}", headers=bob.headers)
    missing = client.get("/api/v1/posts/999999", headers=bob.headers)
    assert not_found.status_code == missing.status_code == 404
    assert not_found.json()["detail"].replace(str(post["id"]), "N") == missing.json()[
        "detail"
    ].replace("999999", "N")
    assert (
        client.delete(f"/api/v1/accounts/{account['id']}", headers=bob.headers).status_code == 404
    )
    # Bob cannot flag for Alice's account, nor claim it.
    refused = client.post("/api/v1/posts", json={"url": BSKY_POST}, headers=bob.headers)
    assert refused.status_code == 422
    assert "not one of your registered accounts" in refused.json()["detail"]
    claim = client.post(
        "/api/v1/accounts",
        json={"platform": "bluesky", "handle": "alice.bsky.social"},
        headers=bob.headers,
    )
    assert claim.status_code == 409
    # Employees cannot read the audit log or list users.
    assert client.get("/api/v1/audit", headers=bob.headers).status_code == 403
    assert client.get("/api/v1/users", headers=bob.headers).status_code == 403
    assert (
        client.post(
            "/api/v1/users", json={"email": "x@city.example", "name": "X"}, headers=officer.headers
        ).status_code
        == 403
    )

    for privileged in (officer, admin):
        assert len(client.get("/api/v1/accounts", headers=privileged.headers).json()) == 1
        assert (
            client.get(f"/api/v1/posts/{post['id']}", headers=privileged.headers).status_code == 200
        )
        assert client.get("/api/v1/audit", headers=privileged.headers).status_code == 200

    created = client.post(
        "/api/v1/users",
        json={"email": "new@city.example", "name": "New", "role": "employee"},
        headers=admin.headers,
    )
    assert created.status_code == 201
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {created.json()['token']}"})
    assert me.json()["email"] == "new@city.example"


def test_authentication_is_required(client: TestClient) -> None:
    assert client.get("/api/v1/posts").status_code == 401
    bad = client.get("/api/v1/posts", headers={"Authorization": "Bearer pv_nope"})
    assert bad.status_code == 401
    assert "unknown or revoked" in bad.json()["detail"]


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


def test_account_removal_only_while_nothing_is_archived(
    client: TestClient, make_person: MakePerson, db: Database
) -> None:
    erin = make_person()
    account = register(client, erin, platform="bluesky", handle="erin.bsky.social")
    flagged = flag(client, erin, "https://bsky.app/profile/erin.bsky.social/post/3kaaa")
    kept = register(client, erin, platform="mastodon", handle="erin@mastodon.social")
    archived = flag(client, erin, "https://mastodon.social/@erin/1234")
    with db.session() as session:
        session.add(
            CapturedVersion(
                post_id=archived["id"],
                number=1,
                content_hash="a" * 64,
                source_sha256="b" * 64,
                source_json="{}",
                normalized={},
                collector="mastodon",
                collector_version="test",
            )
        )
    refused = client.delete(f"/api/v1/accounts/{kept['id']}", headers=erin.headers)
    assert refused.status_code == 409
    assert "archived posts" in refused.json()["detail"]
    assert (
        client.delete(f"/api/v1/accounts/{account['id']}", headers=erin.headers).status_code == 204
    )
    with db.session() as session:
        assert session.get(FlaggedPost, flagged["id"]) is None
        assert session.get(FlaggedPost, archived["id"]) is not None


def test_healthz_and_docs(client: TestClient) -> None:
    health = client.get("/healthz")
    assert health.status_code == 200
    assert health.json() == {
        "status": "ok",
        "database": "ok",
        "archive": "ok",
        "archive_disk": "ok",
    }
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/v1/accounts", "/api/v1/posts", "/api/v1/posts/{post_id}", "/api/v1/audit"} <= set(
        paths
    )
