"""X post and account recognition: every form people paste, and the near-misses."""

from __future__ import annotations

import pytest

from app.platforms.x import urls

ID = "1576994789110992896"


@pytest.mark.parametrize(
    "url",
    [
        f"https://x.com/CityHall/status/{ID}",
        f"https://www.x.com/cityhall/status/{ID}",
        f"https://mobile.x.com/cityhall/status/{ID}",
        f"https://twitter.com/CityHall/status/{ID}",
        f"https://www.twitter.com/CityHall/status/{ID}",
        f"https://mobile.twitter.com/CityHall/status/{ID}",
        f"http://twitter.com/CityHall/status/{ID}",
        f"https://x.com/CityHall/status/{ID}?s=20&t=AbCdEf",
        f"https://x.com/CityHall/status/{ID}/photo/1",
        f"https://twitter.com/CityHall/status/{ID}/video/1",
        f"https://mobile.twitter.com/CityHall/status/{ID}/photo/2?s=46",
        f"https://x.com/CityHall/status/{ID}#fragment",
        f"https://x.com/CityHall/status/{ID}/",
        f"x.com/CityHall/status/{ID}",
        f"https://twitter.com/CityHall/statuses/{ID}",
    ],
)
def test_post_url_forms(url: str) -> None:
    ref = urls.parse_post_url(url)
    assert ref.username == "cityhall"
    assert ref.tweet_id == ID
    assert ref.canonical_url == f"https://x.com/cityhall/status/{ID}"


def test_web_status_url_without_a_user() -> None:
    ref = urls.parse_post_url(f"https://twitter.com/i/web/status/{ID}")
    assert ref.username is None
    assert ref.tweet_id == ID


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("https://x.com/CityHall", "is an X profile, not a post"),
        ("https://twitter.com/CityHall/", "is an X profile, not a post"),
        ("https://x.com/search?q=city%20hall&src=typed_query", "is an X search"),
        ("https://twitter.com/hashtag/budget", "is an X search"),
        ("https://x.com/CityHall/status/notanumber", "is not an X post id"),
        ("https://x.com/CityHall/lists", "is not an X post URL"),
        ("https://x.com/home", "is not an X post URL"),
        ("https://x.com/CityHall/status/123/unknown-tail", "is not an X post URL"),
    ],
)
def test_near_misses_say_what_is_expected(url: str, says: str | None) -> None:
    with pytest.raises(urls.NotAnXUrl) as caught:
        urls.parse_post_url(url)
    message = str(caught.value)
    assert "X" in message
    if says:
        assert says in message


@pytest.mark.parametrize(
    "text",
    ["@CityHall", "cityhall", " @cityhall ", "https://x.com/CityHall", "https://twitter.com/cityhall/",
     "https://mobile.twitter.com/CityHall/with_replies", "x.com/CityHall"],
)  # fmt: skip
def test_accounts_by_handle_or_profile_url(text: str) -> None:
    assert urls.parse_account(text) == "cityhall"


@pytest.mark.parametrize(
    "text",
    ["@", "@has space", "@waytoolongusername1", "@city-hall", "https://x.com/search?q=x",
     "https://x.com/CityHall/status/1", "@home"],
)  # fmt: skip
def test_bad_accounts_are_refused(text: str) -> None:
    with pytest.raises(urls.NotAnXUrl):
        urls.parse_account(text)
