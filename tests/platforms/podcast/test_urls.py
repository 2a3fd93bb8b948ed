"""Which URLs name a podcast episode, by form alone (app/platforms/podcast/urls.py), and the
near-misses refused with a sentence naming Podcasts."""

from __future__ import annotations

import pytest

from app.errors import Invalid
from app.platforms.base import UrlParts
from app.platforms.podcast import urls
from app.platforms.registry import registry

FEED = "https://baywatch-berlin.podigee.io/feed/mp3"


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        (
            "https://baywatch-berlin.podigee.io/t1-trailer",
            "https://baywatch-berlin.podigee.io/t1-trailer",
        ),
        (
            "https://Baywatch-Berlin.podigee.io/t1-trailer?utm_source=feed#t=30",
            "https://baywatch-berlin.podigee.io/t1-trailer",
        ),
        (
            "http://taverncast.com/shows/taverncast-62.mp3",
            "http://taverncast.com/shows/taverncast-62.mp3",
        ),
        ("https://www.taverncast.com/?p=62", "https://www.taverncast.com/?p=62"),
    ],
)
def test_an_episode_is_claimed_by_site(url: str, canonical: str) -> None:
    ref = urls.parse_post_url(UrlParts.parse(url))
    assert ref is not None
    assert ref.platform == "podcast"
    assert ref.by_site is True
    assert ref.canonical_url == canonical
    feed = FEED if "podigee" in url else "http://www.taverncast.com/feed.rss"
    assert urls.same_site(ref.canonical_url, feed)
    assert urls.near_miss(ref, feed) is None


@pytest.mark.parametrize(
    ("url", "said"),
    [
        (FEED, "is the Podcasts feed itself, not an episode"),
        ("https://baywatch-berlin.podigee.io/", "is the podcast's home page (its profile)"),
        ("https://baywatch-berlin.podigee.io/search?q=klaas", "is a search page"),
        ("https://baywatch-berlin.podigee.io/?s=klaas", "is a search page"),
    ],
)
def test_near_misses_on_the_podcasts_site(url: str, said: str) -> None:
    ref = urls.parse_post_url(UrlParts.parse(url))
    assert ref is not None
    reason = urls.near_miss(ref, FEED)
    assert reason is not None
    assert said in reason
    assert "the episode's link or guid URL" in reason


@pytest.mark.parametrize(
    "url",
    [
        "https://podcasts.apple.com/de/podcast/baywatch-berlin/id1488311574?i=1000457118394",
        "https://open.spotify.com/episode/4rOoJ6Egrf8K2IrywzwOMk",
        "https://overcast.fm/+AbCdEf",
    ],
)
def test_directory_pages_are_refused_naming_podcasts(url: str) -> None:
    with pytest.raises(Invalid) as refused:
        registry.recognise_post(url)
    assert "Podcasts captures an episode from the podcast's feed" in str(refused.value)


def test_only_web_urls_and_the_feed_account() -> None:
    assert urls.parse_post_url(UrlParts.parse("ftp://example.org/ep1")) is None
    account = registry.get("podcast").account_from_handle(FEED)
    assert account.proven is False  # registration fetches the feed and checks it is a podcast
    assert account.handle == FEED
