"""Rendering in a pool of processes.

WeasyPrint is CPU-bound and holds the GIL, so rendering in a thread of the API process would
stall every request; in separate processes it runs beside the API, and N processes render N
snapshots at once, so throughput grows with the cores the machine has.
"""

from __future__ import annotations

import atexit
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import NamedTuple, TypeVar

from app.snapshots.render import render_snapshot
from app.snapshots.schemas import SnapshotView

log = logging.getLogger("postvault.snapshots")

_T = TypeVar("_T")
_R = TypeVar("_R")


def _exit_with_parent(parent_pid: int) -> None:
    """In each render worker: exit when the process that made the pool is gone. A worker
    holds its own task queue open, so it would otherwise wait for work for ever after its
    parent was killed (one orphaned set per start, ~130 MB each)."""

    def watch() -> None:
        while True:
            time.sleep(1.0)
            try:
                os.kill(parent_pid, 0)
            except ProcessLookupError:
                os._exit(0)
            except PermissionError:  # the pid was reused by a process of another user
                os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


class Rendered(NamedTuple):
    pdf: bytes
    seconds: float  # the render's own time in the worker, not its wait in the queue
    missing_glyphs: list[str] | None  # what the PDF's XMP lists, as record_snapshot reads it


def render_timed(view: SnapshotView) -> Rendered:
    """In a render worker: the PDF, the seconds its render took there, and the characters
    it could not draw (known from its page, so the process recording it does not parse the
    PDF)."""
    started = time.perf_counter()
    pdf = render_snapshot(view)
    seconds = time.perf_counter() - started
    return Rendered(pdf, seconds, pdf.missing_glyphs)


class RenderError(Exception):
    """A render did not produce a PDF (the worker crashed or WeasyPrint failed)."""


class RenderPool:
    def __init__(self, workers: int = 0) -> None:
        self.workers = workers or os.cpu_count() or 1
        # forkserver: workers fork from a clean single-threaded server process, never from
        # the API process with its threads (a fork of a threaded process can deadlock).
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["app.snapshots.render"])
        self._executor = self._new_executor()
        self._lock = threading.Lock()

    def _new_executor(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=multiprocessing.get_context("forkserver"),
            initializer=_exit_with_parent,
            initargs=(os.getpid(),),
        )

    def render(self, view: SnapshotView) -> bytes:
        """Render one view in a worker; the calling thread waits without holding the GIL."""
        result = self.render_many([view])[0]
        if isinstance(result, BaseException):
            raise result
        return result

    def render_many(self, views: Sequence[SnapshotView]) -> list[bytes | RenderError]:
        """Render views in parallel; each result is the PDF or the error that stopped it."""
        futures: list[Future[bytes]] = []
        with self._lock:
            for view in views:
                try:
                    futures.append(self._executor.submit(render_snapshot, view))
                except BrokenProcessPool:
                    self._restart()
                    futures.append(self._executor.submit(render_snapshot, view))
        results: list[bytes | RenderError] = []
        for future in futures:
            try:
                results.append(future.result())
            except BrokenProcessPool as exc:
                with self._lock:
                    self._restart()
                results.append(RenderError(f"a render worker died: {exc}"))
            except Exception as exc:
                results.append(RenderError(f"rendering failed: {type(exc).__name__}: {exc}"))
        return results

    def submit(self, fn: Callable[[_T], _R], argument: _T) -> Future[_R]:
        """Run another render (a module-level function of one picklable argument) in a
        worker."""
        with self._lock:
            try:
                return self._executor.submit(fn, argument)
            except BrokenProcessPool:
                self._restart()
                return self._executor.submit(fn, argument)

    def submit_view(self, view: SnapshotView) -> Future[Rendered]:
        """Start rendering one view in a worker and return at once: the future gives the PDF
        and what the worker read of it (`render_timed`). A worker that died makes the
        future fail with BrokenProcessPool; the next submit starts new workers."""
        with self._lock:
            try:
                return self._executor.submit(render_timed, view)
            except BrokenProcessPool:
                self._restart()
                return self._executor.submit(render_timed, view)

    def _restart(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._executor = self._new_executor()

    def shutdown(self, timeout: float = 5.0) -> None:
        """Stop the workers: queued renders are cancelled, a render still running after
        `timeout` seconds is killed (its version is snapshotted by the backfill job)."""
        executor = self._executor
        processes = list((getattr(executor, "_processes", None) or {}).values())
        executor.shutdown(wait=False, cancel_futures=True)
        deadline = time.monotonic() + timeout
        for process in processes:
            process.join(max(0.0, deadline - time.monotonic()))
        for process in processes:
            if process.is_alive():
                process.kill()
                process.join(1.0)


_pools: dict[int, RenderPool] = {}
_pools_lock = threading.Lock()


def render_pool(workers: int = 0) -> RenderPool:
    """The process-wide pool of `workers` processes (0 = one per CPU core), made once."""
    size = workers or os.cpu_count() or 1
    with _pools_lock:
        pool = _pools.get(size)
        if pool is None:
            pool = _pools[size] = RenderPool(size)
        return pool


@atexit.register
def shutdown_pools() -> None:
    """Stop every pool's workers, then the forkserver and the resource tracker the pools
    started: nothing of the render pool outlives the process (called from the app's
    shutdown, and at exit)."""
    with _pools_lock:
        for pool in _pools.values():
            pool.shutdown()
        _pools.clear()
    # Private but stable since Python 3.8 (the standard library's own tests use them); a
    # later start makes them again on first use.
    from multiprocessing import forkserver, resource_tracker

    for helper in (forkserver._forkserver, resource_tracker._resource_tracker):
        stop = getattr(helper, "_stop", None)
        if stop is not None:
            try:
                stop()
            except (OSError, ChildProcessError):
                log.warning("could not stop %s", type(helper).__name__)
