from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.errors import Invalid
from app.platforms.registry import PlatformIds as Platform
from app.posts.urls import account_from_handle, account_from_profile_url, parse_post_url


@pytest.mark.parametrize(
    ("url", "platform", "author", "post_id"),
    [
        (
            "https://bsky.app/profile/alice.bsky.social/post/3l6oveex3ii2l",
            Platform.bluesky,
            "alice.bsky.social",
            "3l6oveex3ii2l",
        ),
        (
            "https://bsky.app/profile/Alice.BSKY.social/post/3l6oveex3ii2l",
            Platform.bluesky,
            "alice.bsky.social",
            "3l6oveex3ii2l",
        ),
        (
            "https://bsky.app/profile/did:plc:ewvi7nxzyoun6zhxrhs64oiz/post/3l6oveex3ii2l",
            Platform.bluesky,
            "did:plc:ewvi7nxzyoun6zhxrhs64oiz",
            "3l6oveex3ii2l",
        ),
        (
            "at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/app.bsky.feed.post/3l6oveex3ii2l",
            Platform.bluesky,
            "did:plc:ewvi7nxzyoun6zhxrhs64oiz",
            "3l6oveex3ii2l",
        ),
        ("at://alice.test/app.bsky.feed.post/3kabc", Platform.bluesky, "alice.test", "3kabc"),
        (
            "https://mastodon.social/@parks/117020586180926938",
            Platform.mastodon,
            "parks@mastodon.social",
            "117020586180926938",
        ),
        (
            "https://city.social/@parks@mastodon.social/1170",
            Platform.mastodon,
            "parks@mastodon.social",
            "1170",
        ),
        (
            "https://mastodon.social/users/parks/statuses/1170",
            Platform.mastodon,
            "parks@mastodon.social",
            "1170",
        ),
        ("https://www.youtube.com/watch?v=dQw4w9WgXcQ", Platform.youtube, None, "dQw4w9WgXcQ"),
        ("https://m.youtube.com/watch?v=dQw4w9WgXcQ&t=42s", Platform.youtube, None, "dQw4w9WgXcQ"),
        ("https://youtu.be/dQw4w9WgXcQ?si=abc", Platform.youtube, None, "dQw4w9WgXcQ"),
        ("https://www.youtube.com/shorts/dQw4w9WgXcQ", Platform.youtube, None, "dQw4w9WgXcQ"),
        ("https://www.youtube.com/live/dQw4w9WgXcQ", Platform.youtube, None, "dQw4w9WgXcQ"),
        (
            "https://blog.city.example/2026/06/pool-closure?utm_source=x#comments",
            Platform.feed,
            None,
            "https://blog.city.example/2026/06/pool-closure",
        ),
    ],
)
def test_recognises_every_supported_form(
    url: str, platform: Platform, author: str | None, post_id: str
) -> None:
    ref = parse_post_url(url)
    assert ref.platform is platform
    assert ref.author == author
    assert ref.post_id == post_id


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", "empty"),
        ("not a url", "spaces"),
        ("ftp://example.com/file", "not a post URL"),
        ("https://bsky.app/profile/alice.bsky.social", "Bluesky post URL looks like"),
        ("https://bsky.app/profile/alice/post/abc", "not a Bluesky handle"),
        ("at://alice.test/app.bsky.feed.like/3k", "at:// URI"),
        ("https://www.youtube.com/watch?v=short", "YouTube video URL"),
        ("https://youtu.be/", "YouTube video URL"),
        ("https://" + "a" * 2100 + ".com/", "longer than 2048"),
        ("https://user:pw@blog.example/x", "user name or password"),
        ("javascript:alert(1)", "not a post URL"),
    ],
)
def test_bad_urls_say_what_is_wrong(url: str, message: str) -> None:
    with pytest.raises(Invalid, match=message):
        parse_post_url(url)


@given(st.text(max_size=300))
def test_parser_never_crashes(text: str) -> None:
    try:
        ref = parse_post_url(text)
    except Invalid:
        return
    assert ref.post_id
    assert ref.canonical_url.startswith("https://") or ref.canonical_url.startswith("http://")


_rkey = st.text(alphabet="abcdefghijklmnopqrstuvwxyz234567", min_size=1, max_size=13)
_label = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=12)


@given(_label, _label, _rkey)
def test_bluesky_url_and_at_uri_agree(name: str, domain: str, rkey: str) -> None:
    handle = f"{name}.{domain}.social"
    web = parse_post_url(f"https://bsky.app/profile/{handle}/post/{rkey}")
    at = parse_post_url(f"at://{handle}/app.bsky.feed.post/{rkey}")
    assert (web.author, web.post_id) == (at.author, at.post_id) == (handle, rkey)


@given(st.integers(min_value=1, max_value=10**19), _label)
def test_mastodon_forms_agree(status_id: int, user: str) -> None:
    a = parse_post_url(f"https://mastodon.social/@{user}/{status_id}")
    b = parse_post_url(f"https://mastodon.social/users/{user}/statuses/{status_id}")
    assert (a.author, a.post_id) == (b.author, b.post_id)


@pytest.mark.parametrize(
    ("url", "platform", "handle"),
    [
        ("https://bsky.app/profile/Alice.bsky.social", Platform.bluesky, "alice.bsky.social"),
        ("https://mastodon.social/@Parks", Platform.mastodon, "parks@mastodon.social"),
        ("https://www.youtube.com/@CityOfMilwaukee", Platform.youtube, "@cityofmilwaukee"),
        (
            "https://www.youtube.com/channel/UCabcdefghijklmnopqrstuv",
            Platform.youtube,
            "UCabcdefghijklmnopqrstuv",
        ),
        ("https://blog.city.example/feed.xml", Platform.feed, "https://blog.city.example/feed.xml"),
    ],
)
def test_profile_urls(url: str, platform: Platform, handle: str) -> None:
    ref = account_from_profile_url(url)
    assert (ref.platform, ref.handle) == (platform, handle)


def test_handles_are_normalised_or_refused() -> None:
    assert account_from_handle("Bluesky", "@Alice.bsky.social").handle == "alice.bsky.social"
    assert (
        account_from_handle("mastodon", "@Parks@Mastodon.Social").handle == "parks@mastodon.social"
    )
    with pytest.raises(Invalid, match="unknown platform 'myspace'"):
        account_from_handle("myspace", "tom")
    with pytest.raises(Invalid, match="user@instance"):
        account_from_handle("mastodon", "parks")
