"""Snapshots made while capture goes on (app/snapshots/stream.py): the same bytes as a render
here, and a version whose snapshot was not recorded is left for the backfill job."""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future
from typing import cast

from sqlalchemy import func, select

from app.config import Settings
from app.db import Database
from app.snapshots import service
from app.snapshots.models import Snapshot
from app.snapshots.pool import Rendered, RenderPool
from app.snapshots.render import render_snapshot
from app.snapshots.schemas import SnapshotView
from app.snapshots.stream import SnapshotStream
from app.storage.local import LocalStore
from tests.snapshots.conftest import ArchivePost


def _current(db: Database, version_ids: list[int]) -> dict[int, str]:
    with db.session() as session:
        return {
            v: s.sha256
            for v in version_ids
            if (s := service.current_snapshot(session, version_id=v)) is not None
        }


def test_the_stream_records_what_this_process_renders(
    db: Database, store: LocalStore, archive_post: ArchivePost, settings: Settings
) -> None:
    version_ids = [archive_post().version_ids[0] for _ in range(3)]
    one_worker = settings.model_copy(update={"render_workers": 1})
    stream = SnapshotStream(db, one_worker, store)

    stream.submit(version_ids).wait()

    recorded = _current(db, version_ids)
    assert sorted(recorded) == sorted(version_ids)
    with db.session() as session:
        for version_id in version_ids:
            view = service.build_view(session, store=store, version_id=version_id)
            assert store.get(recorded[version_id]) == render_snapshot(view)

    # Handing the same versions in again does no harm: the same bytes, the same snapshot.
    stream.submit(version_ids).wait()
    assert _current(db, version_ids) == recorded
    with db.session() as session:
        count = session.scalar(
            select(func.count()).select_from(Snapshot).where(Snapshot.version_id.in_(version_ids))
        )
    assert count == len(version_ids)


def test_a_version_that_cannot_be_shown_does_not_stop_the_others(
    db: Database, store: LocalStore, archive_post: ArchivePost, settings: Settings
) -> None:
    version_id = archive_post().version_ids[0]
    stream = SnapshotStream(db, settings.model_copy(update={"render_workers": 1}), store)

    stream.submit([987654321, version_id]).wait()  # no such version, then a real one

    assert list(_current(db, [version_id])) == [version_id]


class _HeldPool:
    """A pool whose renders finish when the test says (it stands for a busy pool)."""

    workers = 1

    def __init__(self) -> None:
        self.futures: list[Future[Rendered]] = []
        self.submitted = threading.Event()

    def submit_view(self, view: SnapshotView) -> Future[Rendered]:
        future: Future[Rendered] = Future()
        self.futures.append(future)
        self.submitted.set()
        return future


def test_stopping_leaves_the_versions_not_recorded_to_the_backfill_job(
    db: Database, store: LocalStore, archive_post: ArchivePost, settings: Settings
) -> None:
    version_ids = [archive_post().version_ids[0] for _ in range(4)]
    pool = _HeldPool()
    stream = SnapshotStream(db, settings, store, pool=cast(RenderPool, pool))
    pending = stream.submit(version_ids)
    assert pool.submitted.wait(30)

    stop = threading.Event()
    stop.set()
    waiter = threading.Thread(target=pending.wait, args=(stop,), daemon=True)
    waiter.start()
    # The process stops while the first render runs, and its worker is stopped too: the
    # versions queued are dropped, the one rendering fails, nothing is recorded.
    deadline = time.monotonic() + 60  # a guard against a hang, not a speed target
    while not pending.done:
        assert time.monotonic() < deadline, "the stream did not settle after the stop"
        if pending.cancelled:
            for future in list(pool.futures):
                if not future.done():
                    future.set_exception(RuntimeError("the render worker was stopped"))
        time.sleep(0.05)
    waiter.join(30)
    assert not waiter.is_alive()

    assert _current(db, version_ids) == {}
    with db.session() as session:
        assert set(version_ids) <= set(service.versions_to_render(session, outdated_too=False))
