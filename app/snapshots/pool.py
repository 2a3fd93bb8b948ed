"""Rendering in a pool of processes.

WeasyPrint is CPU-bound and holds the GIL, so rendering in a thread of the API process would
stall every request; in separate processes it runs beside the API, and N processes render N
snapshots at once, so throughput grows with the cores the machine has.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from app.snapshots.render import render_snapshot
from app.snapshots.schemas import SnapshotView


class RenderError(Exception):
    """A render did not produce a PDF (the worker crashed or WeasyPrint failed)."""


class RenderPool:
    def __init__(self, workers: int = 0) -> None:
        self.workers = workers or os.cpu_count() or 1
        # forkserver: workers fork from a clean single-threaded server process, never from
        # the API process with its threads (a fork of a threaded process can deadlock).
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["app.snapshots.render"])
        self._executor = ProcessPoolExecutor(max_workers=self.workers, mp_context=context)
        self._lock = threading.Lock()

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

    def _restart(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        context = multiprocessing.get_context("forkserver")
        self._executor = ProcessPoolExecutor(max_workers=self.workers, mp_context=context)

    def shutdown(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)


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
def _shutdown_pools() -> None:
    with _pools_lock:
        for pool in _pools.values():
            pool.shutdown()
        _pools.clear()
