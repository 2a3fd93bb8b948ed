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
from app.snapshots.pool import render_pool
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
                    text=f"Post {i}: the pool on Oak St closes in June. Call 555-01{i % 100:02d} with questions.",
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
            _copy_snapshots(database, store, rendered, ids[len(rendered) :])
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
        peak = _peak_rss()
        assert result.status == "done", result.error
        size = len(store.get(result.sha256 or ""))
        database.dispose()

    print(f"items: {args.items} ({args.redacted} redacted, rendered during packaging)")
    print(f"setup (posts + snapshots rendered in the pool): {setup:.1f} s")
    print(f"package: {elapsed:.1f} s ({args.items / elapsed:.1f} items/s), ZIP {size / 1e6:.1f} MB")
    print(
        f"peak RSS while packaging (this process, not the render workers): {peak / 1e6:.0f} MB "
        f"(before: {baseline / 1e6:.0f} MB)"
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


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    return 0


def _reset_peak_rss() -> int:
    """Linux: start the peak (VmHWM) again from the current RSS, so that the peak read after
    packaging is the packaging's, not the setup's. Returns the RSS it starts from."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass
    return _status_kb("VmRSS")


def _peak_rss() -> int:
    return _status_kb("VmHWM")


if __name__ == "__main__":
    main()
