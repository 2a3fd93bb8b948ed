"""Capture a few thousand flagged posts from a loopback Mastodon instance; print posts per
second and HTTP requests per post.

    python -m bench.collect [--posts 3000] [--database-url URL] [--media]
    python -m bench.collect --platform mediawiki [--posts 200] ...  (bench/collect_mediawiki.py)
"""

from __future__ import annotations

import argparse
import tempfile
import time
from importlib import import_module
from pathlib import Path

from app.accounts import service as accounts_service
from app.audit.service import Actor
from app.auth import service as auth_service
from app.collectors.service import run_due
from app.config import Settings
from app.migrate import migrated_database
from app.pipeline import build_capture_context
from app.posts import service as posts_service
from app.storage.local import LocalStore
from tests.platforms.mastodon_like import mastodon_instance

# --platform: each platform's bench is its own module with `run(args)`.
PLATFORM_BENCHES = {"mastodon": __name__, "mediawiki": "bench.collect_mediawiki"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--platform", default="mastodon", choices=sorted(PLATFORM_BENCHES))
    parser.add_argument("--posts", type=int, default=None, help="default: 3000 (Mastodon)")
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
    if args.platform != "mastodon":
        import_module(PLATFORM_BENCHES[args.platform]).run(args)
        return
    args.posts = args.posts or 3000

    with tempfile.TemporaryDirectory() as tmp, mastodon_instance() as instance:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        settings = Settings(
            database_url=url,
            archive_dir=Path(tmp) / "archive",
            fetch_allow_hosts=instance.netloc,
            mastodon_plain_http_instances=instance.netloc,
            capture_batch_size=50,
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
                session, owner=user, platform="mastodon", handle=f"parks@{instance.netloc}"
            )
            for i in range(args.posts):
                status_id = str(900000 + i)
                instance.add(
                    status_id,
                    f"<p>Post {i}: the council meets Tuesday about the pool.</p>",
                    media=1 if args.media else 0,
                )
                posts_service.flag_post(
                    session, user=user, url=instance.post_url(status_id), note=None
                )
        context = build_capture_context(
            database, settings, store=LocalStore(settings.archive_dir), worker="bench"
        )
        if args.no_snapshots:
            context.after_commit = []
        assert instance.loopback is not None
        before = len(instance.loopback.requests)
        started = time.perf_counter()
        summary = run_due(context)
        elapsed = time.perf_counter() - started
        served = len(instance.loopback.requests) - before
        context.client.close()
        database.dispose()

    print(
        f"database: {'PostgreSQL' if url.startswith('postgresql') else 'SQLite'}; "
        f"media per post: {1 if args.media else 0}; snapshots: "
        f"{'not rendered' if args.no_snapshots else 'rendered in the pool after each batch'}"
    )
    print(f"posts captured: {summary.claimed} ({summary.outcomes})")
    print(f"elapsed: {elapsed:.2f} s")
    print(f"posts per second: {summary.claimed / elapsed:.1f}")
    print(
        f"HTTP requests per post: {served / max(summary.claimed, 1):.2f} (server count), {summary.http_requests / max(summary.claimed, 1):.2f} (collector count)"
    )


if __name__ == "__main__":
    main()
