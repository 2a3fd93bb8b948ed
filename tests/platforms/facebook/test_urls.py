"""Facebook Page post URLs: every form the issue names, and the refusals."""

from __future__ import annotations

import pytest

from app.platforms.base import UrlParts
from app.platforms.facebook import urls
from app.platforms.registry import registry

PFBID = "pfbid02Zk1bXw8yWBAuhqdqTfTbyBxQ2AQgybWZ1fqsqbVnyKCnP2Ffn8oBPqySzwiKtkpGl"


@pytest.mark.parametrize(
    ("url", "author", "post_id"),
    [
        (
            f"https://www.facebook.com/CityOfExample/posts/{PFBID}",
            "cityofexample",
            f"posts/{PFBID}",
        ),
        (
            "https://m.facebook.com/cityofexample/posts/424924701699721",
            "cityofexample",
            "posts/424924701699721",
        ),
        (
            "https://web.facebook.com/cityofexample/videos/1234567890/",
            "cityofexample",
            "videos/1234567890",
        ),
        (
            "https://www.facebook.com/permalink.php?story_fbid=424924701699721&id=2121008874780932",
            "2121008874780932",
            "posts/424924701699721",
        ),
        ("https://www.facebook.com/photo/?fbid=336596487901950", None, "photo/336596487901950"),
        ("https://fb.watch/aBcD123xyz/", None, "short/fb.watch/aBcD123xyz"),
        (
            "https://www.facebook.com/share/p/1AbCdEfGh2/",
            None,
            "short/www.facebook.com/share/p/1AbCdEfGh2",
        ),
    ],
)
def test_page_post_forms_are_recognised(url: str, author: str | None, post_id: str) -> None:
    ref = urls.parse_post_url(UrlParts.parse(url))
    assert ref is not None
    assert (ref.platform, ref.author, ref.post_id) == ("facebook", author, post_id)
    assert registry.recognise_post(url)[0].platform == "facebook"


def test_a_personal_profile_is_left_to_the_web_capture() -> None:
    # Personal profiles have no API: the Page platform does not claim them.
    assert (
        urls.parse_post_url(UrlParts.parse("https://www.facebook.com/profile.php?id=1000")) is None
    )


def test_a_page_url_that_is_not_a_post_is_left_to_the_web_capture() -> None:
    assert (
        urls.parse_post_url(UrlParts.parse("https://www.facebook.com/cityofexample/about")) is None
    )


def test_other_hosts_are_not_facebook() -> None:
    assert urls.parse_post_url(UrlParts.parse("https://facebook.example.org/a/posts/1")) is None
