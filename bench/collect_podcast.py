"""The podcast source of bench/collect.py: the loopback podcast host (tests/platforms/podcast/
server.py) serving the recorded Podigee feed with one item per flagged episode (its show
notes, numbers and duration from the recording); with --media, each episode's audio file is
streamed to the store too.

Every capture reads the whole feed (a podcast has no per-episode API), so the cost per post
grows with the feed's length: run it with the length of a real show (--posts 300)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from bench.collect import BenchSource
from tests.platforms.podcast.server import PodcastHost

_ITEM = re.compile(r"<item>.*</item>", re.S)


@contextmanager
def podcast_source() -> Iterator[BenchSource]:
    from app.platforms.podcast import PLATFORM

    with PodcastHost() as host:
        template = _ITEM.search(host.feed)
        assert template is not None
        item = template.group(0)
        head, tail = host.feed[: template.start()], host.feed[template.end() :]
        items: list[str] = []

        def add_post(i: int, media: bool) -> str:
            episode = (
                item.replace("/t1-trailer", f"/e{i}-episode")
                .replace("cc973b648d6fb41e4e5ef7e4b4ee7604", f"bench-episode-{i}")
                .replace("<itunes:episode>1<", f"<itunes:episode>{i}<")
                .replace("episode_1_trailer.mp3", f"episode_{i}.mp3")
                .replace("<title>Trailer</title>", f"<title>Folge {i}</title>")
            )
            if not media:
                episode = re.sub(r"<enclosure[^>]*/>", "", episode)
                episode = re.sub(r"<itunes:image[^>]*/>", "", episode)
            items.append(episode)
            host.feed = head + "\n".join(reversed(items)) + tail  # newest first, as shows do
            return f"{host.base}/e{i}-episode"

        yield BenchSource(
            platform=PLATFORM.id,
            handle=host.feed_url,
            add_post=add_post,
            requests_served=lambda: len(host.server.requests),
            settings={
                "fetch_allow_hosts": host.server.host,
                "fetch_plain_http_hosts": host.server.host,
            },
        )
