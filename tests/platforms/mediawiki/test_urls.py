"""MediaWiki URL recognition: every revision form people copy, user pages as accounts, and
the near-misses (a user page, a search, a page, a history) refused naming MediaWiki."""

from __future__ import annotations

import pytest

from app.errors import Invalid
from app.platforms.base import UrlParts
from app.platforms.mediawiki import PLATFORM, urls
from app.platforms.registry import registry

WIKI = "https://en.wikipedia.org"


@pytest.mark.parametrize(
    ("url", "revision"),
    [
        (f"{WIKI}/w/index.php?title=Budget&diff=1234&oldid=1200", "1234"),
        (f"{WIKI}/w/index.php?title=Budget&diff=prev&oldid=1234", "1234"),
        (f"{WIKI}/w/index.php?diff=1234&oldid=1200&title=Budget", "1234"),
        (f"{WIKI}/w/index.php?title=Budget&oldid=1234", "1234"),
        (f"{WIKI}/w/index.php?oldid=1234", "1234"),
        (f"{WIKI}/w/index.php?diff=1234", "1234"),
        (f"{WIKI}/wiki/Special:Diff/1234", "1234"),
        (f"{WIKI}/wiki/Special:Diff/1200/1234", "1234"),
        (f"{WIKI}/wiki/Special:PermanentLink/1234", "1234"),
        (f"{WIKI}/w/index.php?title=Special:Diff/1234", "1234"),
        (f"{WIKI}/wiki/Budget?oldid=1234", "1234"),
        ("https://en.m.wikipedia.org/wiki/Special:Diff/1234", "1234"),
        ("https://wiki.city.example/index.php?title=Minutes&diff=77&oldid=70", "77"),
        ("http://127.0.0.1:8080/index.php?oldid=77#top", "77"),
    ],
)
def test_every_revision_form_is_one_revision(url: str, revision: str) -> None:
    refs = registry.recognise_post(url)
    assert [r.platform for r in refs] == [PLATFORM.id]
    assert refs[0].post_id == revision
    assert refs[0].by_site is False


def test_the_same_revision_in_two_forms_is_the_same_post() -> None:
    class Account:
        id = 1
        handle = "Alice@en.wikipedia.org"
        profile_url = f"{WIKI}/wiki/User:Alice"
        platform_account_id = None

    ids = set()
    for url in (
        f"{WIKI}/w/index.php?title=Budget&diff=1234&oldid=1200",
        f"{WIKI}/w/index.php?oldid=1234",
        f"{WIKI}/wiki/Special:Diff/1234",
        "https://en.m.wikipedia.org/w/index.php?title=Budget&diff=prev&oldid=1234",
    ):
        ref = PLATFORM.parse_post_url(UrlParts.parse(url))
        assert ref is not None
        account = PLATFORM.match_account(ref, [Account()])
        assert account is not None
        ids.add(PLATFORM.external_id(ref, account))
    assert ids == {"en.wikipedia.org/1234"}


@pytest.mark.parametrize(
    ("url", "why"),
    [
        (f"{WIKI}/wiki/User:Alice", "user page"),
        ("https://wiki.city.example/wiki/User:Alice", "user page"),
        (f"{WIKI}/w/index.php?title=User:Alice", "user page"),
        (f"{WIKI}/w/index.php?search=budget&title=Special:Search", "search"),
        (f"{WIKI}/wiki/Special:Search?search=budget", "search"),
        ("https://wiki.city.example/wiki/Special:Search/budget", "search"),
        (f"{WIKI}/w/index.php?search=budget", "search"),
        (f"{WIKI}/wiki/Special:Contributions/Alice", "contributions"),
        (f"{WIKI}/w/index.php?title=Budget&action=history", "history"),
        (f"{WIKI}/wiki/Budget", "names a page"),
        (f"{WIKI}/w/index.php?title=Budget&diff=next&oldid=1234", "diff=next"),
        (f"{WIKI}/w/index.php?title=Budget&diff=cur&oldid=1234", "diff=cur"),
        (f"{WIKI}/wiki/Special:Diff/abc", "followed by a revision id"),
    ],
)
def test_near_misses_are_refused_naming_mediawiki(url: str, why: str) -> None:
    with pytest.raises(Invalid) as refused:
        registry.recognise_post(url)
    message = str(refused.value)
    assert "MediaWiki" in message
    assert why in message


@pytest.mark.parametrize(
    "url",
    [
        "https://blog.example/wiki/Some_page",  # a page on a site that is not known as a wiki
        "https://github.com/org/repo/wiki/Home",
        "https://mastodon.social/@alice/111222333444555666",
        "https://bsky.app/profile/alice.bsky.social/post/3k2a",
    ],
)
def test_other_urls_are_not_claimed(url: str) -> None:
    assert PLATFORM.parse_post_url(UrlParts.parse(url)) is None


@pytest.mark.parametrize(
    ("url", "handle", "profile"),
    [
        (f"{WIKI}/wiki/User:Alice", "Alice@en.wikipedia.org", f"{WIKI}/wiki/User:Alice"),
        (
            f"{WIKI}/wiki/User:city_clerk_Jones",
            "City clerk Jones@en.wikipedia.org",
            f"{WIKI}/wiki/User:City_clerk_Jones",
        ),
        (
            "https://en.m.wikipedia.org/wiki/User:Alice/Sandbox",
            "Alice@en.wikipedia.org",
            f"{WIKI}/wiki/User:Alice",
        ),
        (
            "https://wiki.city.example/index.php?title=User:Bob",
            "Bob@wiki.city.example",
            "https://wiki.city.example/index.php?title=User:Bob",
        ),
    ],
)
def test_a_user_page_is_an_account(url: str, handle: str, profile: str) -> None:
    ref = PLATFORM.profile_url_for(UrlParts.parse(url))
    assert (ref.platform, ref.handle, ref.profile_url) == (PLATFORM.id, handle, profile)
    assert PLATFORM.account_from_handle(handle).handle == handle


@pytest.mark.parametrize(
    "url", [f"{WIKI}/wiki/Budget", f"{WIKI}/wiki/Special:Diff/1234", "https://blog.example/"]
)
def test_a_profile_url_that_is_not_a_user_page_is_refused(url: str) -> None:
    with pytest.raises(Invalid, match="not a MediaWiki user page"):
        PLATFORM.profile_url_for(UrlParts.parse(url))


def test_a_revision_on_a_wiki_without_an_account_there_is_refused_saying_so() -> None:
    class Account:
        id = 1
        handle = "Alice@wiki.city.example"
        profile_url = "https://wiki.city.example/wiki/User:Alice"
        platform_account_id = None

    ref = PLATFORM.parse_post_url(UrlParts.parse(f"{WIKI}/wiki/Special:Diff/1234"))
    assert ref is not None
    with pytest.raises(Invalid, match="no registered MediaWiki account on en.wikipedia.org"):
        PLATFORM.match_account(ref, [Account()])


def test_external_ids_round_trip() -> None:
    assert urls.split_external_id(urls.external_id("127.0.0.1:8080", "77")) == (
        "127.0.0.1:8080",
        77,
    )
    with pytest.raises(ValueError, match="not a MediaWiki post id"):
        urls.split_external_id("wiki.example/abc")
