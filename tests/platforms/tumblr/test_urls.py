"""Tumblr post and account recognition: every form people paste, and the near-misses."""

from __future__ import annotations

import pytest

from app.errors import Invalid
from app.platforms.base import UrlParts
from app.platforms.registry import registry
from app.platforms.tumblr import PLATFORM, urls

ID = "788338580402716673"


@pytest.mark.parametrize(
    "url",
    [
        f"https://cityofexample.tumblr.com/post/{ID}",
        f"https://cityofexample.tumblr.com/post/{ID}/pool-hours-this-summer",
        f"http://CityOfExample.tumblr.com/post/{ID}/pool-hours?source=share",
        f"https://cityofexample.tumblr.com/post/{ID}/#notes",
        f"cityofexample.tumblr.com/post/{ID}",
        f"https://tumblr.com/cityofexample/{ID}",
        f"https://tumblr.com/CityOfExample/{ID}/pool-hours",
        f"https://www.tumblr.com/cityofexample/{ID}",
        f"https://www.tumblr.com/cityofexample/{ID}/pool-hours-this-summer?source=share",
        f"www.tumblr.com/cityofexample/{ID}",
        f"https://www.tumblr.com/blog/view/cityofexample/{ID}",
    ],
)
def test_post_url_forms(url: str) -> None:
    [ref] = registry.recognise_post(url)
    assert ref.platform == PLATFORM.id
    assert ref.author == "cityofexample"
    assert ref.post_id == ID
    assert ref.canonical_url == f"https://cityofexample.tumblr.com/post/{ID}"


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("https://cityofexample.tumblr.com/", "is a Tumblr blog, not a post"),
        ("https://cityofexample.tumblr.com/archive", "is a Tumblr blog, not a post"),
        ("https://www.tumblr.com/cityofexample", "is a Tumblr blog, not a post"),
        ("https://tumblr.com/cityofexample/", "is a Tumblr blog, not a post"),
        ("https://www.tumblr.com/search/pool%20hours", "is a Tumblr search"),
        ("https://www.tumblr.com/tagged/city%20council", "is a Tumblr search"),
        ("https://www.tumblr.com/explore/trending", "is a Tumblr search"),
        ("https://www.tumblr.com/dashboard", "is a Tumblr search"),
        ("https://cityofexample.tumblr.com/tagged/pool", "is a Tumblr search or tag page"),
        ("https://cityofexample.tumblr.com/search/pool", "is a Tumblr search or tag page"),
        ("https://www.tumblr.com/cityofexample/tagged/pool", "is a Tumblr search or tag page"),
        ("https://cityofexample.tumblr.com/post/not-a-number", "is not a Tumblr post id"),
        ("https://www.tumblr.com/settings/account", "is not a Tumblr post URL"),
    ],
)
def test_near_misses_are_refused_naming_tumblr(url: str, says: str) -> None:
    with pytest.raises(Invalid, match=says) as caught:
        registry.recognise_post(url)
    assert "Tumblr" in str(caught.value)


@pytest.mark.parametrize(
    "url",
    [
        "https://64.media.tumblr.com/abc/tumblr_x_1280.jpg",
        "https://example.org/post/788338580402716673",
        "https://nottumblr.com/cityofexample/788338580402716673",
    ],
)
def test_other_hosts_are_not_tumblr(url: str) -> None:
    assert PLATFORM.parse_post_url(UrlParts.parse(url)) is None


@pytest.mark.parametrize(
    "text",
    [
        "cityofexample",
        "CityOfExample",
        "cityofexample.tumblr.com",
        "https://cityofexample.tumblr.com/",
        "https://cityofexample.tumblr.com",
        "https://www.tumblr.com/cityofexample",
        "https://tumblr.com/CityOfExample",
        "https://www.tumblr.com/blog/view/cityofexample",
    ],
)
def test_accounts_by_blog_name_or_url(text: str) -> None:
    ref = urls.account_from_handle(text)
    assert ref.handle == "cityofexample"
    assert ref.profile_url == "https://cityofexample.tumblr.com/"


def test_profile_urls_are_recognised_without_naming_the_platform() -> None:
    ref = registry.account_from_profile_url("https://cityofexample.tumblr.com/")
    assert (ref.platform, ref.handle) == (PLATFORM.id, "cityofexample")


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("city_of_example", "is not a Tumblr blog name"),
        ("-city", "is not a Tumblr blog name"),
        ("https://www.tumblr.com/search/pool", "is not a Tumblr blog URL"),
        (f"https://cityofexample.tumblr.com/post/{ID}", "is not a Tumblr blog URL"),
        ("https://example.org/cityofexample", "is not on tumblr.com"),
    ],
)
def test_bad_accounts_are_refused(text: str, says: str) -> None:
    with pytest.raises(Invalid, match=says):
        urls.account_from_handle(text)


def test_official_blogs_by_name_url_or_uuid() -> None:
    assert urls.normalise_official("https://CityOfExample.tumblr.com/") == "cityofexample"
    assert urls.normalise_official("t:5PKLMis4USEO6RmAjUwbrw") == "t:5PKLMis4USEO6RmAjUwbrw"
