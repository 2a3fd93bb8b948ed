"""Bad input is a 4xx with a sentence, never a 500/503 (issue 13, item 7), on the suite's
database: huge ids, offsets and list items, NUL characters, year-1 dates and URLs that
hide characters. (The `client` fixture also fails the test on any 5xx.)"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.conftest import MakePerson

HUGE = [2**31, 2**63, 2**64 + 1]


def _sentence(response: object) -> str:
    detail = response.json()["detail"]  # type: ignore[attr-defined]
    assert isinstance(detail, str)
    assert len(detail) > 10
    return detail


@pytest.mark.parametrize("number", HUGE)
def test_huge_ids_and_offsets_are_422(
    client: TestClient, make_person: MakePerson, number: int
) -> None:
    officer = make_person("records_officer")
    for path in (
        f"/api/v1/posts/{number}",
        f"/api/v1/posts/{number}/versions",
        f"/api/v1/posts?offset={number}",
        f"/api/v1/posts?account_id={number}",
        f"/api/v1/requests/{number}",
        f"/api/v1/requests/1/items/{number}/redacted.pdf",
        f"/api/v1/holds/{number}",
        f"/api/v1/audit?offset={number}",
        f"/api/v1/users/{number}/tokens",
    ):
        response = client.get(path, headers=officer.headers)
        assert response.status_code == 422, (path, response.text)
        _sentence(response)
    hold = client.post(
        "/api/v1/holds",
        headers=officer.headers,
        json={"reason": "litigation", "authority": "case 1", "post_ids": [number]},
    )
    assert hold.status_code == 422, hold.text
    items = client.post(
        "/api/v1/requests/1/items", headers=officer.headers, json={"post_ids": [1, number]}
    )
    assert items.status_code == 422, items.text
    # Web pages answer with a page, not a server error.
    assert client.get(f"/posts/{number}", follow_redirects=False).status_code in (303, 422)


def test_nul_characters_are_422(client: TestClient, make_person: MakePerson) -> None:
    officer = make_person("records_officer")
    employee = make_person()
    search = client.get("/api/v1/search?q=a%00b", headers=officer.headers)
    assert search.status_code == 422
    assert "NUL" in _sentence(search)
    flagged = client.post(
        "/api/v1/posts",
        headers=employee.headers,
        json={"url": "https://bsky.app/profile/a.bsky.social/post/3l6o", "note": "a\u0000b"},
    )
    assert flagged.status_code == 422
    assert "NUL" in _sentence(flagged)
    request = client.post(
        "/api/v1/requests",
        headers=officer.headers,
        json={"received_on": "2026-11-02", "description": "all posts\u0000"},
    )
    assert request.status_code == 422
    # The same in a page's form.
    assert client.post(
        "/login", data={"email": "a\x00@b.example", "password": "x"}
    ).status_code in (
        403,
        422,
    )


def test_year_one_dates_are_422(client: TestClient, make_person: MakePerson) -> None:
    officer = make_person("records_officer")
    response = client.post(
        "/api/v1/requests",
        headers=officer.headers,
        json={"received_on": "0001-01-01", "description": "all posts about the pool"},
    )
    assert response.status_code == 422
    assert "received_on" in _sentence(response)
    search = client.get(
        "/api/v1/search", params={"q": "pool", "date_from": "0001-01-01"}, headers=officer.headers
    )
    assert search.status_code == 422


@pytest.mark.parametrize(
    "hidden",
    ["\u202e", "\u200b", "\u2066", "\u0007", "\ufeff", "\u2028"],
    ids=["bidi-override", "zero-width-space", "bidi-isolate", "control", "bom", "line-sep"],
)
def test_urls_that_hide_characters_are_422(
    client: TestClient, make_person: MakePerson, hidden: str
) -> None:
    employee = make_person()
    url = f"https://bsky.app/profile/ann.bsky.social/post/3l6o{hidden}veex3ii2l"
    response = client.post("/api/v1/posts", headers=employee.headers, json={"url": url})
    assert response.status_code == 422
    assert "invisible or control character" in _sentence(response)
