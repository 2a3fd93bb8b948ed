"""`python -m bench.collect --platform mediawiki`: capture revisions of a real MediaWiki 1.39
(Debian's package, SQLite, `php -S`, installed into a temporary directory as the tests do),
then poll them all once more (the removal check), printing posts per second and HTTP requests
per post for both passes, counted by the wiki (its router's request log) and by the collector.

    python -m bench.collect --platform mediawiki [--posts 100] [--media] [--wiki replay]

`--wiki replay` serves the recorded answers of tests/fixtures/mediawiki/ instead: the wiki
then costs next to nothing, and the figure is PostVault's own."""

from __future__ import annotations

import argparse
import io
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import update

from app.accounts import service as accounts_service
from app.audit.service import Actor
from app.auth import service as auth_service
from app.collectors.service import CaptureContext, PassSummary, run_due
from app.config import Settings
from app.db import utcnow
from app.migrate import migrated_database
from app.pipeline import build_capture_context
from app.platforms.fetcher import Fetcher
from app.platforms.mediawiki import PLATFORM
from app.posts import service as posts_service
from app.posts.models import FlaggedPost
from app.storage.local import LocalStore
from tests.platforms.mediawiki.replay import REVISION, replay_wiki
from tests.platforms.mediawiki.wiki import Wiki, run_wiki

DEFAULT_POSTS = 100


def _png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (16, 16), (30, 120, 200)).save(out, format="PNG")
    return out.getvalue()


def _context(database: object, settings: Settings) -> CaptureContext:
    context = build_capture_context(
        database,  # type: ignore[arg-type]
        settings,
        store=LocalStore(settings.archive_dir),
        worker="bench",
    )
    return context


def _timed_pass(
    context: CaptureContext, served: Callable[[], int]
) -> tuple[PassSummary, float, int]:
    before = served()
    started = time.perf_counter()
    summary = run_due(context)
    elapsed = time.perf_counter() - started
    return summary, elapsed, served() - before


def _revisions_on_real_wiki(wiki: Wiki, posts: int, media: bool) -> list[str]:
    alice = wiki.user("Alice")
    file_line = ""
    if media:
        alice.upload("Bench.png", _png())
        file_line = "\n\n[[File:Bench.png]]"
    urls = []
    for i in range(posts):
        title = f"Bench_page_{i}"
        parent = alice.edit(title, f"Draft {i}.", "draft")
        revision = alice.edit(title, f"Minutes {i}: the council meets Tuesday.{file_line}")
        urls.append(f"{wiki.base_url}/index.php?title={title}&diff={revision}&oldid={parent}")
    return urls


@contextmanager
def _wiki(
    kind: str, tmp: Path, posts: int, media: bool
) -> Iterator[tuple[str, str, Callable[[], int], list[str]]]:
    """(netloc, user page, served-requests counter, revision URLs) of a real or replayed wiki."""
    if kind == "real":
        with run_wiki(tmp / "wiki") as wiki:
            started = time.perf_counter()
            urls = _revisions_on_real_wiki(wiki, posts, media)
            print(
                f"revisions made on the wiki: {2 * posts} in {time.perf_counter() - started:.1f} s"
            )
            yield (
                wiki.netloc,
                wiki.page_url("User:Alice"),
                lambda: len(wiki.requests_served()),
                urls,
            )
        return
    with replay_wiki() as replay:
        replay.any_revision = True
        urls = [f"{replay.origin}/index.php?oldid={REVISION + 1 + i}" for i in range(posts)]
        yield replay.netloc, replay.user_page, lambda: len(replay.server.requests), urls


def run(args: argparse.Namespace) -> None:
    posts = args.posts or DEFAULT_POSTS
    kind = getattr(args, "wiki", "real")
    with (
        tempfile.TemporaryDirectory() as tmp,
        _wiki(kind, Path(tmp), posts, args.media) as (
            netloc,
            user_page,
            served,
            revision_urls,
        ),
    ):
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        settings = Settings(
            database_url=url,
            archive_dir=Path(tmp) / "archive",
            fetch_allow_hosts=netloc,
            fetch_plain_http_hosts=netloc,
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
                session,
                owner=user,
                platform=PLATFORM.id,
                profile_url=user_page,
                fetcher=Fetcher.from_settings(settings),
            )
            for revision_url in revision_urls:
                posts_service.flag_post(session, user=user, url=revision_url, note=None)
        context = _context(database, settings)
        if args.no_snapshots:
            context.after_commit = []
        first = _timed_pass(context, served)
        with database.session() as session:
            session.execute(update(FlaggedPost).values(next_poll_at=utcnow()))
        check = _timed_pass(context, served)
        context.client.close()
        database.dispose()

    wiki_name = (
        "a real MediaWiki 1.39 on php -S"
        if kind == "real"
        else "recorded MediaWiki answers replayed (PostVault's own cost)"
    )
    print(
        f"{wiki_name}, loopback; database: "
        f"{'PostgreSQL' if url.startswith('postgresql') else 'SQLite'}; file per revision: "
        f"{1 if args.media else 0}; snapshots: "
        f"{'not rendered' if args.no_snapshots else 'rendered in the pool after each batch'}"
    )
    for name, (summary, elapsed, sent) in (("first capture", first), ("removal check", check)):
        per_post = max(summary.claimed, 1)
        print(
            f"{name}: {summary.claimed} posts ({summary.outcomes}) in {elapsed:.2f} s = "
            f"{summary.claimed / elapsed:.1f} posts/s; HTTP requests per post: "
            f"{sent / per_post:.2f} (server count), {summary.http_requests / per_post:.2f} "
            "(collector count, media downloads included)"
        )
