"""Seconds to package 1,000 items of an open-records request (BagIt ZIP with per-item PDFs,
the stamped combined PDF, manifests, audit log and letter).

    python -m bench.package [--items 1000] [--redacted 10] [--database-url URL]

Setup (not timed): posts and versions are written, and their PDF/A snapshots rendered in the
process pool, as capture would have done; then the request's package is made and timed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import os
import tempfile
import time
from pathlib import Path

from sqlalchemy import select

from app.accounts.service import register_account
from app.audit.service import Actor
from app.auth import service as auth_service
from app.collectors.versioning import content_hash, source_bytes
from app.config import Settings
from app.db import Database
from app.migrate import migrated_database
from app.open_records import package as package_service
from app.open_records import requests as requests_service
from app.open_records.redaction import add_redaction, archived_snapshot_sha256
from app.platforms.collected import Author, CollectedPost, Reply
from app.posts.models import CapturedVersion, FlaggedPost
from app.snapshots.pool import RenderPool, render_pool
from app.snapshots.service import build_view, record_snapshot, rerender_versions
from app.storage.local import LocalStore
from bench.machine import describe


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--redacted", type=int, default=10, help="items with a redacted span")
    parser.add_argument("--database-url", default=None)
    parser.add_argument(
        "--rendered",
        type=int,
        default=0,
        help="setup only: render this many snapshots and give every other version a copy of "
        "one of them (0: render every version); the packaging timed is the same",
    )
    args = parser.parse_args()
    print(describe())

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            database_url=args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}",
            archive_dir=Path(tmp) / "archive",
        )
        database = migrated_database(settings)
        store = LocalStore(settings.archive_dir)
        started = time.perf_counter()
        with database.session() as session:
            officer = auth_service.create_user(
                session,
                email="o@city.example",
                name="Olive",
                role="records_officer",
                actor=Actor.system("bench"),
            )
            employee = auth_service.create_user(
                session,
                email="e@city.example",
                name="Eve",
                role="employee",
                actor=Actor.system("bench"),
            )
            account, _ = register_account(
                session, owner=employee, platform="mastodon", handle="parks@city.example"
            )
            ids = []
            for i in range(args.items):
                post = FlaggedPost(
                    account_id=account.id,
                    flagged_by_id=employee.id,
                    url=f"https://city.example/@parks/{i}",
                    platform="mastodon",
                    external_id=f"city.example/{i}",
                    status="captured",
                )
                session.add(post)
                session.flush()
                capture = CollectedPost(
                    platform="mastodon",
                    post_id=str(i),
                    url=post.url,
                    author=Author(handle="parks@city.example", display_name="City Parks"),
                    text=f"Post {i}: the pool on Oak St closes in June. Call 555-{i:04d} with questions.",
                    created_at=dt.datetime(2026, 6, 1, tzinfo=dt.UTC),
                    replies=[
                        Reply(
                            id=f"r{i}-{n}",
                            author=Author(handle=f"resident{n}@elsewhere.example"),
                            text=f"Reply {n}",
                        )
                        for n in range(3)
                    ],
                    source={"status": {"id": str(i)}},
                )
                source = source_bytes(capture.source)
                version = CapturedVersion(
                    post_id=post.id,
                    number=1,
                    content_hash=content_hash(capture),
                    source_sha256=hashlib.sha256(source).hexdigest(),
                    source_json=source.decode(),
                    normalized=capture.model_dump(mode="json"),
                    text=capture.text,
                    author_handle="parks@city.example",
                    collector="mastodon",
                    collector_version="bench",
                )
                session.add(version)
                session.flush()
                ids.append(version.id)
        pool = render_pool(settings.render_workers)
        rendered = ids[: args.rendered] if args.rendered else ids
        with database.session() as session:
            report = rerender_versions(
                session, store=store, version_ids=rendered, render_many=pool.render_many
            )
        assert not report.failed, report.failed
        if len(rendered) < len(ids):
            # Copies come from versions left unredacted: a copy of a redacted item's snapshot
            # would hold its redacted number, and the package would rightly be refused.
            sources = rendered[args.redacted :] or rendered
            _copy_snapshots(database, store, sources, ids[len(rendered) :])
        with database.session() as session:
            officer = auth_service.get_user_by_email(session, "o@city.example")
            request = requests_service.create_request(
                session,
                officer=officer,
                received_at=dt.date(2026, 11, 2),
                description="Pool closure posts",
                confirm_nothing_held=True,
            )
            post_ids = list(session.scalars(select(FlaggedPost.id)))
            items = requests_service.add_items(
                session, officer=officer, request_id=request.id, post_ids=post_ids
            )
            for item in items[: args.redacted]:
                redacting = session.get(CapturedVersion, item.version_id)
                assert redacting is not None
                assert redacting.text is not None
                start = redacting.text.index("555-")
                add_redaction(
                    session,
                    officer=officer,
                    request_id=request.id,
                    item_id=item.id,
                    kind="text",
                    start=start,
                    end=start + 8,
                    exemption="personal telephone number",
                )
            package = package_service.start_package(session, officer=officer, request_id=request.id)
            package_id = package.id
        setup = time.perf_counter() - started
        baseline = _reset_peak_rss()
        workers = _worker_pids(pool)
        for pid in workers:
            _reset_peak_rss(pid)
        workers_cpu = sum(_cpu_seconds(pid) for pid in workers)
        cpu = time.process_time()
        began = time.perf_counter()
        result = package_service.run_package(
            database,
            store,
            package_id=package_id,
            actor=Actor.system("bench"),
            render_many=pool.render_many,
            render_elsewhere=pool.submit,
        )
        elapsed = time.perf_counter() - began
        cpu = time.process_time() - cpu
        peak = _peak_rss()
        # The render workers render the redacted copies and the letter and run the leak
        # check: their CPU time and memory are the packaging's too.
        workers_cpu = sum(_cpu_seconds(pid) for pid in workers) - workers_cpu
        workers_peak = [_peak_rss(pid) for pid in workers]
        load = "/".join(f"{v:.1f}" for v in os.getloadavg())
        assert result.status == "done", result.error
        size = len(store.get(result.sha256 or ""))
        database.dispose()

    print(f"items: {args.items} ({args.redacted} redacted, rendered during packaging)")
    print(f"setup (posts + snapshots rendered in the pool): {setup:.1f} s")
    print(f"package: {elapsed:.1f} s ({args.items / elapsed:.1f} items/s), ZIP {size / 1e6:.1f} MB")
    print(
        f"package CPU: {cpu + workers_cpu:.1f} s (this process {cpu:.1f} s, "
        f"{len(workers)} render workers {workers_cpu:.1f} s); load after: {load}"
    )
    print(
        f"peak RSS while packaging: this process {peak / 1e6:.0f} MB "
        f"(before: {baseline / 1e6:.0f} MB); render workers "
        + " + ".join(f"{p / 1e6:.0f}" for p in workers_peak)
        + " MB"
    )


def _copy_snapshots(
    database: Database, store: LocalStore, rendered: list[int], others: list[int]
) -> None:
    """Give each of `others` the snapshot PDF of one of `rendered` (setup for large runs)."""
    with database.session() as session:
        pdfs = [
            store.get(sha)
            for sha in (archived_snapshot_sha256(session, version_id) for version_id in rendered)
            if sha is not None
        ]
        for n, version_id in enumerate(others):
            record_snapshot(
                session,
                store=store,
                view=build_view(session, store=store, version_id=version_id),
                version_id=version_id,
                pdf=pdfs[n % len(pdfs)],
            )


def _status_kb(field: str, pid: int | str = "self") -> int:
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:  # a worker that exited
        return 0
    for line in lines:
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    return 0


def _reset_peak_rss(pid: int | str = "self") -> int:
    """Linux: start the peak (VmHWM) again from the current RSS, so that the peak read after
    packaging is the packaging's, not the setup's. Returns the RSS it starts from."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        pass
    return _status_kb("VmRSS", pid)


def _peak_rss(pid: int | str = "self") -> int:
    return _status_kb("VmHWM", pid)


def _worker_pids(pool: RenderPool) -> list[int]:
    """The render pool's worker processes (the executor's own table: private, but the only
    place that names them)."""
    processes = getattr(pool._executor, "_processes", None) or {}
    return sorted(int(pid) for pid in processes)


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc/<pid>/stat)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


if __name__ == "__main__":
    main()
