"""Capture a few thousand flagged posts from a loopback platform; print posts per second and
HTTP requests per post.

    python -m bench.collect [--platform mastodon|x|mediawiki|tumblr|podcast] [--posts 3000]
                            [--database-url URL] [--workers 2]
                            [--media] [--no-snapshots]

With snapshots on it also prints (b) how fast the same render workers render the same
versions when given them directly, (c) the ratio of the two rates (target: at least 90%), and
(d) the peak memory of this process and its render workers (target: under 600 MB).

Each platform is a *source* (`bench/sources.py`-style context manager in SOURCES below): it
starts its loopback server, says which settings reach it and which account posts there, adds
posts, and counts the requests its server answered. Adding a platform is one module and one
line in SOURCES.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.accounts import service as accounts_service
from app.audit.service import Actor
from app.auth import service as auth_service
from app.collectors.service import run_due
from app.config import Settings
from app.db import Database
from app.migrate import migrated_database
from app.pipeline import build_capture_context
from app.platforms.fetcher import Fetcher
from app.posts import service as posts_service
from app.snapshots.pool import Rendered, RenderPool, render_pool, shutdown_pools
from app.snapshots.service import (
    all_renderable_versions,
    build_view,
    current_snapshot,
    versions_to_render,
)
from app.snapshots.stream import IN_FLIGHT_PER_WORKER
from app.storage.local import LocalStore
from bench.machine import describe
from bench.processes import ProcessFigures, family


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


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _workers() -> list[ProcessFigures]:
    return [f for f in family() if f.name == "render worker"]


def _warm(pool: RenderPool) -> None:
    """Start the pool's workers before the clock runs (both figures then start warm)."""
    for future in [pool.submit(str.encode, "warm") for _ in range(pool.workers)]:
        future.result()


def render_directly(
    database: Database, store: LocalStore, pool: RenderPool, version_ids: list[int]
) -> dict[int, str]:
    """Render these versions in the pool as fast as it goes: views read in this process
    while the workers render, as many in flight as the snapshot stream keeps, nothing
    recorded. Returns the SHA-256 of each version's PDF."""
    window = IN_FLIGHT_PER_WORKER * pool.workers
    in_flight: deque[tuple[int, Future[Rendered]]] = deque()
    hashes: dict[int, str] = {}

    def take() -> None:
        version_id, future = in_flight.popleft()
        hashes[version_id] = hashlib.sha256(future.result().pdf).hexdigest()

    for version_id in version_ids:
        with database.session() as session:
            view = build_view(session, store=store, version_id=version_id)
        in_flight.append((version_id, pool.submit_view(view)))
        if len(in_flight) >= window:
            take()
    while in_flight:
        take()
    return hashes


def differing(database: Database, hashes: dict[int, str]) -> int:
    """How many versions' PDFs differ from their recorded snapshot (rendering is
    deterministic, so none should)."""
    with database.session() as session:
        recorded: dict[int, str | None] = {}
        for version_id in hashes:
            snapshot = current_snapshot(session, version_id=version_id)
            recorded[version_id] = snapshot.sha256 if snapshot else None
    return sum(1 for version_id, sha in hashes.items() if recorded[version_id] != sha)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--platform", choices=sorted([*SOURCES, "mediawiki"]), default="mastodon")
    parser.add_argument("--posts", type=int, default=3000)
    parser.add_argument(
        "--wiki", choices=["real", "replay"], default="real", help="mediawiki: which wiki"
    )
    parser.add_argument(
        "--database-url", default=None, help="default: a new SQLite file (give an empty one)"
    )
    parser.add_argument("--media", action="store_true", help="one photo per post")
    parser.add_argument(
        "--no-snapshots",
        action="store_true",
        help="capture only: leave rendering the PDF snapshots to the backfill job",
    )
    parser.add_argument("--workers", type=int, default=2, help="render workers (default 2)")
    args = parser.parse_args()
    print(describe())
    if args.platform == "mediawiki":
        # A real wiki (or its replay) has its own set-up: bench/collect_mediawiki.py.
        from bench import collect_mediawiki

        collect_mediawiki.run(args)
        return

    direct: tuple[int, int] | None = None
    direct_elapsed = direct_cpu_self = direct_workers_cpu = 0.0
    with tempfile.TemporaryDirectory() as tmp, SOURCES[args.platform]() as source:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        settings = Settings(
            database_url=url,
            archive_dir=Path(tmp) / "archive",
            capture_batch_size=50,
            render_workers=args.workers,
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
        store = LocalStore(settings.archive_dir)
        context = build_capture_context(database, settings, store=store, worker="bench")
        pool = render_pool(settings.render_workers)
        if args.no_snapshots:
            context.after_commit = []
        else:
            _warm(pool)
        before = source.requests_served()
        workers_before = {w.pid: w.cpu_seconds for w in _workers()}
        cpu_before = _cpu_seconds()
        started = time.perf_counter()
        summary = run_due(context)
        elapsed = time.perf_counter() - started
        cpu_self = _cpu_seconds() - cpu_before
        served = source.requests_served() - before
        # Peaks now, before the direct renders below add their own.
        peaks = family()
        workers_cpu = sum(w.cpu_seconds - workers_before.get(w.pid, 0.0) for w in _workers())
        with database.session() as session:
            version_ids = all_renderable_versions(session)
            snapshotted = len(version_ids) - len(versions_to_render(session, outdated_too=False))
        if not args.no_snapshots:
            workers_before = {w.pid: w.cpu_seconds for w in _workers()}
            direct_cpu_before = _cpu_seconds()
            direct_started = time.perf_counter()
            hashes = render_directly(database, store, pool, version_ids)
            direct_elapsed = time.perf_counter() - direct_started
            direct_cpu_self = _cpu_seconds() - direct_cpu_before
            direct_workers_cpu = sum(
                w.cpu_seconds - workers_before.get(w.pid, 0.0) for w in _workers()
            )
            direct = (len(hashes), differing(database, hashes))
        context.client.close()
        shutdown_pools()
        database.dispose()

    print(
        f"platform: {source.platform}; "
        f"database: {'PostgreSQL' if url.startswith('postgresql') else 'SQLite'}; "
        f"media per post: {1 if args.media else 0}; snapshots: "
        f"{'not rendered' if args.no_snapshots else 'rendered in the pool while capture goes on'}"
        f"; render workers: {args.workers}"
    )
    print(f"posts captured: {summary.claimed} ({summary.outcomes})")
    print(f"versions: {len(version_ids)}, with their snapshot recorded: {snapshotted}")
    print(
        f"elapsed: {elapsed:.2f} s; CPU: {cpu_self:.1f} s this process (capture, recording, "
        f"the loopback server), {workers_cpu:.1f} s render workers"
    )
    print(f"posts per second: {summary.claimed / elapsed:.1f}")
    print(
        f"HTTP requests per post: {served / max(summary.claimed, 1):.2f} (server count), "
        f"{summary.http_requests / max(summary.claimed, 1):.2f} (collector count)"
    )
    if direct is not None:
        rendered, differ = direct
        captured_rate = len(version_ids) / elapsed
        direct_rate = rendered / direct_elapsed
        ratio = captured_rate / direct_rate
        print(
            f"(a) capture + snapshots through run_due: {captured_rate:.1f} versions/s "
            f"({summary.claimed / elapsed:.1f} posts/s)"
        )
        print(
            f"(b) the same {args.workers} workers given the same {rendered} versions directly "
            f"(views read here, nothing recorded): {direct_rate:.1f} versions/s; "
            f"elapsed {direct_elapsed:.2f} s; CPU {direct_cpu_self:.1f} s this process, "
            f"{direct_workers_cpu:.1f} s render workers; bytes differing from the recorded "
            f"snapshot: {differ}"
        )
        print(f"(c) a/b: {ratio:.0%} ({'meets' if ratio >= 0.9 else 'misses'} the 90% target)")
        # What the CPU allows, load aside: in (a) every version costs its render plus its
        # capture and recording, all on the same cores; in (b) only its render.
        cores = os.cpu_count() or 1
        per_version_a = (cpu_self + workers_cpu) / max(len(version_ids), 1)
        per_render_b = direct_workers_cpu / max(rendered, 1)
        ceiling = cores * per_render_b / (min(args.workers, cores) * per_version_a)
        print(
            f"    CPU per version: (a) {per_version_a * 1000:.0f} ms (render, capture and "
            f"recording), (b) {per_render_b * 1000:.0f} ms (render); with {cores} cores and "
            f"nothing else running a/b could reach at most {min(ceiling, 1.0):.0%}; render "
            f"workers busy {workers_cpu / (args.workers * elapsed):.0%} of (a)'s wall time, "
            f"{direct_workers_cpu / (args.workers * direct_elapsed):.0%} of (b)'s"
        )
    mine = [p for p in peaks if p.name in ("this process", "render worker")]
    print(
        "(d) peak memory (sum of each process's VmHWM, an upper bound: pages the workers "
        f"share with the forkserver count in each) of this process and its render workers "
        f"during the capture: {sum(p.peak_rss_mb for p in mine):.0f} MB "
        f"({'within' if sum(p.peak_rss_mb for p in mine) < 600 else 'over'} 600 MB): "
        + ", ".join(f"{p.name} {p.peak_rss_mb:.0f}" for p in peaks)
    )
    print(f"load after: {'/'.join(f'{v:.1f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
