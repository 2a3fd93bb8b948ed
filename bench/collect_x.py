"""The X source of bench/collect.py: the loopback X API v2 (tests/platforms/x/server.py),
each post with one reply (so a capture is a lookup and a replies search) and, with --media,
a photo."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from bench.collect import BenchSource
from tests.platforms.x.server import TOKEN, XApi

AUTHOR = "2244994945"


@contextmanager
def x_source() -> Iterator[BenchSource]:
    from app.db import utcnow
    from app.platforms.x import PLATFORM

    with XApi(now=utcnow(), lookup_limit=10**9, search_limit=10**9) as api:
        api.clock = utcnow  # the pipeline's clock: posts are young enough to search
        api.add_user(AUTHOR, "cityofexample", "City of Example")

        def add_post(i: int, media: bool) -> str:
            keys = [api.add_photo(f"3_{i}", alt_text="the agenda")] if media else None
            tweet = api.add_tweet(
                f"Post {i}: the council meets Tuesday about the pool.",
                author_id=AUTHOR,
                media_keys=keys,
            )
            api.add_tweet("Thanks!", author_id=AUTHOR, conversation_id=tweet, replied_to=tweet)
            return f"https://x.com/cityofexample/status/{tweet}"

        yield BenchSource(
            platform=PLATFORM.id,
            handle="@cityofexample",
            add_post=add_post,
            requests_served=lambda: len(api.server.requests),
            settings={
                "fetch_allow_hosts": api.host,
                "fetch_plain_http_hosts": api.host,
                "x_api_url": api.base_url,
                "x_bearer_token": TOKEN,
            },
        )
