"""Snapshots made while capture goes on.

Capture hands each committed version to the stream and goes on fetching; the stream keeps the
render pool's workers busy meanwhile and records each snapshot as its render completes. Before,
a batch's snapshots rendered after the batch committed, so the pool idled while capture fetched
and capture waited while the pool rendered.

Memory stays bounded: versions waiting are ids (at most `snapshot_backlog` of them; capture
waits when that many are queued), and only a few views (with their media bytes) are held at a
time, enough to keep every worker fed while the results are recorded.

Crash-safe: a snapshot is recorded in its own committed transaction after its render; a version
whose snapshot was not recorded (the process stopped, a render failed) has no current snapshot,
so the backfill job (app/snapshots/jobs.py) makes it. Recording twice does no harm: the same
version renders to the same bytes and `record_snapshot` keeps the snapshot it has.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

from sqlalchemy.orm import Session

from app.audit.service import Actor
from app.config import Settings
from app.db import Database
from app.errors import DomainError
from app.observability.metrics import observe_render
from app.snapshots.pool import Rendered, RenderError, RenderPool, render_pool
from app.snapshots.schemas import SnapshotView
from app.snapshots.service import SYSTEM, build_view, record_snapshot
from app.storage.base import ArchiveStore, StoreError

log = logging.getLogger("postvault.snapshots")

# Idle threads end after this long; the next submit starts them again, so a context that
# stopped capturing (a test's, a finished CLI pass) leaves no thread behind for long.
IDLE_SECONDS = 1.0
# Views in flight per render worker: one rendering, one queued in the pool, one done and
# waiting to be recorded, so recording never leaves a worker without work.
IN_FLIGHT_PER_WORKER = 3
# Snapshots recorded per transaction at most (those whose renders are done by then).
RECORD_BATCH = 25


class Pending:
    """The snapshots of the versions one capture handed in: wait() returns once each is
    recorded or failed (a failure is logged; the backfill job makes it later)."""

    def __init__(
        self,
        count: int,
        on_wait: Callable[[Pending], None] | None = None,
        on_stop: Callable[[], None] | None = None,
    ) -> None:
        self._left = count
        self._condition = threading.Condition()
        self._on_wait = on_wait
        self._on_stop = on_stop
        # Set when the process is stopping: versions not yet rendering are left to the
        # backfill job of the next start.
        self.cancelled = False

    def settle(self) -> None:
        with self._condition:
            self._left -= 1
            self._condition.notify_all()

    @property
    def done(self) -> bool:
        with self._condition:
            return self._left <= 0

    def wait(self, stop: threading.Event | None = None) -> None:
        if self._on_wait is not None and not self.done:
            self._on_wait(self)  # someone waits for these: they go before the backlog
        while not self.done:
            if stop is not None and stop.is_set() and not self.cancelled:
                self.cancelled = True
                if self._on_stop is not None:
                    self._on_stop()
            with self._condition:
                if self._left > 0:
                    self._condition.wait(0.2)


@dataclass
class _InFlight:
    version_id: int
    view: SnapshotView
    future: Future[Rendered]
    pending: Pending


class SnapshotStream:
    """Render committed versions in the pool as capture goes on; record them as they come."""

    def __init__(
        self,
        database: Database,
        settings: Settings,
        store: ArchiveStore,
        *,
        pool: RenderPool | None = None,
        actor: Actor = SYSTEM,
        backlog: int | None = None,
    ) -> None:
        self.database = database
        self.settings = settings
        self.store = store
        self.actor = actor
        self._pool = pool  # None: the process's pool, asked for at each use
        self.backlog = backlog if backlog is not None else settings.snapshot_backlog
        # Versions waiting for a render: those someone waits for (a manual capture, an
        # upload) first, then the backlog in the order captured.
        self._urgent: deque[tuple[int, Pending]] = deque()
        self._queued: deque[tuple[int, Pending]] = deque()
        self._in_flight: queue.Queue[_InFlight] = queue.Queue(
            maxsize=IN_FLIGHT_PER_WORKER * (settings.render_workers or os.cpu_count() or 1)
        )
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._unsettled = 0  # ids handed in and not yet recorded or failed
        self._feeder: threading.Thread | None = None
        self._recorder: threading.Thread | None = None

    @property
    def pool(self) -> RenderPool:
        # Not kept: after shutdown_pools() (an app stopping) the next use makes a new one.
        return self._pool or render_pool(self.settings.render_workers)

    def submit(self, version_ids: list[int]) -> Pending:
        """Queue these committed versions for their snapshots; returns at once unless
        `snapshot_backlog` versions are already waiting (then capture waits for room)."""
        pending = Pending(len(version_ids), on_wait=self._hurry, on_stop=self._drop_queued)
        if not version_ids:
            return pending
        with self._lock:
            self._unsettled += len(version_ids)
            if self._feeder is None:
                self._feeder = threading.Thread(
                    target=self._feed, name="snapshot-feeder", daemon=True
                )
                self._feeder.start()
            if self._recorder is None:
                self._recorder = threading.Thread(
                    target=self._record, name="snapshot-recorder", daemon=True
                )
                self._recorder.start()
        for version_id in version_ids:
            with self._changed:
                while len(self._queued) + len(self._urgent) >= self.backlog:
                    self._changed.wait()
                self._queued.append((version_id, pending))
                self._changed.notify_all()
        return pending

    def _hurry(self, pending: Pending) -> None:
        with self._changed:
            mine = [entry for entry in self._queued if entry[1] is pending]
            if mine:
                self._queued = deque(entry for entry in self._queued if entry[1] is not pending)
                self._urgent.extend(mine)

    def _drop_queued(self) -> None:
        """The process is stopping: versions not yet rendering are left to the backfill job
        of the next start (those rendering are recorded if they finish in the grace)."""
        with self._changed:
            dropped = [*self._urgent, *self._queued]
            self._urgent.clear()
            self._queued.clear()
            self._changed.notify_all()
        for _version_id, pending in dropped:
            self._settle(pending)
        if dropped:
            log.info("stopping: %d snapshots left to the backfill job", len(dropped))

    def __call__(self, version_ids: list[int]) -> Pending:
        """The capture context's after-commit step (app/pipeline.py)."""
        return self.submit(version_ids)

    def _settle(self, pending: Pending, count: int = 1) -> None:
        for _ in range(count):
            pending.settle()
        with self._lock:
            self._unsettled -= count

    def _idle_exit(self, which: str) -> bool:
        """True (and the thread forgotten) when nothing is left to do."""
        with self._lock:
            if self._unsettled > 0:
                return False
            setattr(self, which, None)
            return True

    # --- the feeder: ids -> views -> renders in the pool ----------------------------------

    def _next(self) -> tuple[int, Pending] | None:
        """The next version to render; None when there was none for a while and nothing
        is left to do (the thread then ends)."""
        with self._changed:
            while not (self._urgent or self._queued):
                if not self._changed.wait(IDLE_SECONDS) and self._unsettled <= 0:
                    self._feeder = None
                    return None
            entry = self._urgent.popleft() if self._urgent else self._queued.popleft()
            self._changed.notify_all()  # room in the backlog
            return entry

    def _feed(self) -> None:
        while True:
            entry = self._next()
            if entry is None:
                return
            version_id, pending = entry
            try:
                self._start_render(version_id, pending)
            except Exception:  # a bug here must not stop the stream: the backfill job retries
                log.exception("snapshot of version %s not started", version_id)
                self._settle(pending)

    def _start_render(self, version_id: int, pending: Pending) -> None:
        if pending.cancelled:
            self._settle(pending)  # stopping: the backfill job of the next start makes it
            return
        try:
            with self.database.session() as session:
                view = build_view(session, store=self.store, version_id=version_id)
        except (DomainError, StoreError) as exc:
            message = getattr(exc, "message", str(exc))
            log.error("snapshot of version %s not rendered: %s", version_id, message)
            self._settle(pending)
            return
        future = self.pool.submit_view(view)
        # Blocks while the workers have enough: the views held stay few.
        self._in_flight.put(_InFlight(version_id, view, future, pending))

    # --- the recorder: renders done -> snapshots recorded, in the order handed in ---------

    def _record(self) -> None:
        while True:
            try:
                first = self._in_flight.get(timeout=IDLE_SECONDS)
            except queue.Empty:
                if self._idle_exit("_recorder"):
                    return
                continue
            batch = [first]
            # In order of hand-in, so the snapshots are recorded in the same order on every
            # run; with the head done, those already done behind it join its transaction.
            wait([first.future])  # the head's render (done, failed or cancelled)
            while len(batch) < RECORD_BATCH:
                try:
                    item = self._in_flight.queue[0]
                except IndexError:
                    break
                if not item.future.done():
                    break
                batch.append(self._in_flight.get_nowait())
            self._record_batch(batch)

    def _record_batch(self, batch: list[_InFlight]) -> None:
        try:
            done = [(item, out) for item in batch if (out := self._result(item)) is not None]
            try:
                # One transaction for the batch; no savepoint per snapshot (on SQLite a
                # savepoint that reads before it writes fails at once when capture commits
                # meanwhile, instead of waiting its turn).
                with self.database.session() as session:
                    for item, out in done:
                        self._record_one(session, item, out)
            except Exception:
                if len(done) <= 1:
                    raise
                # One snapshot stopped the batch: each in its own transaction, so only the
                # one that fails is left to the backfill job.
                for item, out in done:
                    try:
                        with self.database.session() as session:
                            self._record_one(session, item, out)
                    except Exception as exc:
                        self._not_recorded(item, exc)
        except Exception as exc:
            for item in batch:
                self._not_recorded(item, exc)
        finally:
            for item in batch:
                self._settle(item.pending)

    def _record_one(self, session: Session, item: _InFlight, rendered: Rendered) -> None:
        record_snapshot(
            session,
            store=self.store,
            view=item.view,
            version_id=item.version_id,
            pdf=rendered.pdf,
            missing_glyphs=rendered.missing_glyphs,
            actor=self.actor,
            settings=self.settings,
        )

    def _not_recorded(self, item: _InFlight, exc: Exception) -> None:
        message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
        log.error(
            "snapshot of version %s not recorded (the backfill job retries): %s",
            item.version_id,
            message,
        )

    def _result(self, item: _InFlight) -> Rendered | None:
        try:
            rendered = item.future.result()
        except BrokenProcessPool as exc:  # the pool starts new workers at the next submit
            error: Exception = RenderError(f"a render worker died: {exc}")
        except Exception as exc:
            error = RenderError(f"rendering failed: {type(exc).__name__}: {exc}")
        else:
            observe_render(rendered.seconds)
            return rendered
        log.error(
            "snapshot of version %s not rendered (the backfill job retries): %s",
            item.version_id,
            error,
        )
        return None
