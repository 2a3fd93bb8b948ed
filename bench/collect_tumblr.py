"""The Tumblr source of bench/collect.py: the loopback Tumblr (tests/platforms/tumblr/server.py),
each post with one reply (so a capture is the post and its notes: two API requests) and, with
--media, a photo. `TUMBLR_BENCH_KEYLESS=1` benchmarks the keyless path (RSS feed and post page)
instead."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from bench.collect import BenchSource
from tests.platforms.tumblr.server import KEY, TumblrApi

BLOG = "cityofexample"


@contextmanager
def tumblr_source() -> Iterator[BenchSource]:
    from app.db import utcnow
    from app.platforms.tumblr import PLATFORM

    keyless = os.environ.get("TUMBLR_BENCH_KEYLESS") == "1"
    with TumblrApi(now=utcnow(), per_hour=10**9, per_day=10**9) as api:
        api.clock = utcnow
        api.add_blog(BLOG, "City of Example")

        def add_post(i: int, media: bool) -> str:
            post_id = api.add_post(
                BLOG, f"Post {i}: the council meets Tuesday about the pool.", images=int(media)
            )
            api.reply(post_id, "neighbour", "Thanks!")
            return f"https://www.tumblr.com/{BLOG}/{post_id}"

        yield BenchSource(
            platform=PLATFORM.id,
            handle=BLOG,
            add_post=add_post,
            requests_served=lambda: len(api.server.requests),
            settings={
                "fetch_allow_hosts": api.host,
                "fetch_plain_http_hosts": api.host,
                "tumblr_api_url": api.base_url,
                "tumblr_api_key": None if keyless else KEY,
                "tumblr_blog_url": api.blog_url_template,
            },
        )
