"""Capture a few thousand flagged posts from a loopback platform; print posts per second and
HTTP requests per post.

    python -m bench.collect [--platform mastodon|x|mediawiki|tumblr|podcast] [--posts 3000]
                            [--database-url URL]
                            [--media] [--no-snapshots]

Each platform is a *source* (`bench/sources.py`-style context manager in SOURCES below): it
starts its loopback server, says which settings reach it and which account posts there, adds
posts, and counts the requests its server answered. Adding a platform is one module and one
line in SOURCES.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.accounts import service as accounts_service
from app.audit.service import Actor
from app.auth import service as auth_service
from app.collectors.service import run_due
from app.config import Settings
from app.migrate import migrated_database
from app.pipeline import build_capture_context
from app.platforms.fetcher import Fetcher
from app.posts import service as posts_service
from app.storage.local import LocalStore
from bench.machine import describe


@dataclass
class BenchSource:
    """A platform on loopback, as the benchmark uses it."""

    platform: str  # a registry id
    handle: str  # the account the posts are flagged under
    add_post: Callable[[int, bool], str]  # (number, with media) -> the post's URL
    requests_served: Callable[[], int]
    settings: dict[str, Any] = field(default_factory=dict)  # Settings fields to reach it


@contextmanager
def mastodon_source() -> Iterator[BenchSource]:
    from tests.platforms.mastodon_like import mastodon_instance

    with mastodon_instance() as instance:
        assert instance.loopback is not None
        loopback = instance.loopback

        def add_post(i: int, media: bool) -> str:
            status_id = str(900000 + i)
            instance.add(
                status_id,
                f"<p>Post {i}: the council meets Tuesday about the pool.</p>",
                media=1 if media else 0,
            )
            return instance.post_url(status_id)

        yield BenchSource(
            platform="mastodon",
            handle=f"parks@{instance.netloc}",
            add_post=add_post,
            requests_served=lambda: len(loopback.requests),
            settings={
                "fetch_allow_hosts": instance.netloc,
                "fetch_plain_http_hosts": instance.netloc,
            },
        )


def _x_source() -> AbstractContextManager[BenchSource]:
    from bench.collect_x import x_source

    return x_source()


def _tumblr_source() -> AbstractContextManager[BenchSource]:
    from bench.collect_tumblr import tumblr_source

    return tumblr_source()


def _podcast_source() -> AbstractContextManager[BenchSource]:
    from bench.collect_podcast import podcast_source

    return podcast_source()


SOURCES: dict[str, Callable[[], AbstractContextManager[BenchSource]]] = {
    "mastodon": mastodon_source,
    "x": _x_source,
    "tumblr": _tumblr_source,
    "podcast": _podcast_source,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--platform", choices=sorted([*SOURCES, "mediawiki"]), default="mastodon")
    parser.add_argument("--posts", type=int, default=3000)
    parser.add_argument(
        "--wiki", choices=["real", "replay"], default="real", help="mediawiki: which wiki"
    )
    parser.add_argument("--database-url", default=None, help="default: a new SQLite file")
    parser.add_argument("--media", action="store_true", help="one photo per post")
    parser.add_argument(
        "--no-snapshots",
        action="store_true",
        help="capture only: leave rendering the PDF snapshots to the backfill job",
    )
    args = parser.parse_args()
    print(describe())
    if args.platform == "mediawiki":
        # A real wiki (or its replay) has its own set-up: bench/collect_mediawiki.py.
        from bench import collect_mediawiki

        collect_mediawiki.run(args)
        return

    with tempfile.TemporaryDirectory() as tmp, SOURCES[args.platform]() as source:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        settings = Settings(
            database_url=url,
            archive_dir=Path(tmp) / "archive",
            capture_batch_size=50,
            **source.settings,
        )
        database = migrated_database(settings)
        with database.session() as session:
            user = auth_service.create_user(
                session,
                email="bench@city.example",
                name="Bench",
                role="employee",
                actor=Actor.system("bench"),
            )
            accounts_service.register_account(
                session,
                owner=user,
                platform=source.platform,
                handle=source.handle,
                fetcher=Fetcher.from_settings(settings),  # a feed is fetched to be proven
            )
            for i in range(args.posts):
                posts_service.flag_post(
                    session, user=user, url=source.add_post(i, args.media), note=None
                )
        context = build_capture_context(
            database, settings, store=LocalStore(settings.archive_dir), worker="bench"
        )
        if args.no_snapshots:
            context.after_commit = []
        before = source.requests_served()
        started = time.perf_counter()
        summary = run_due(context)
        elapsed = time.perf_counter() - started
        served = source.requests_served() - before
        context.client.close()
        database.dispose()

    print(
        f"platform: {source.platform}; "
        f"database: {'PostgreSQL' if url.startswith('postgresql') else 'SQLite'}; "
        f"media per post: {1 if args.media else 0}; snapshots: "
        f"{'not rendered' if args.no_snapshots else 'rendered in the pool after each batch'}"
    )
    print(f"posts captured: {summary.claimed} ({summary.outcomes})")
    print(f"elapsed: {elapsed:.2f} s")
    print(f"posts per second: {summary.claimed / elapsed:.1f}")
    print(
        f"HTTP requests per post: {served / max(summary.claimed, 1):.2f} (server count), "
        f"{summary.http_requests / max(summary.claimed, 1):.2f} (collector count)"
    )


if __name__ == "__main__":
    main()
