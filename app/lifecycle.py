"""Stopping cleanly: one `Lifecycle` per process (serve or worker).

On SIGTERM the process stops claiming new work at once (`stop` is set; capture passes,
package runs and backfills check it between steps), lets work already started finish within
a bounded grace (POSTVAULT_SHUTDOWN_GRACE_SECONDS), and exits. Work still running after the
grace is abandoned to its lease: background work runs in daemon threads, so it never holds
the process open, and a lease that is no longer renewed returns the work to the pool.
"""

from __future__ import annotations

import logging
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from typing import Any

from apscheduler.executors.base import BaseExecutor, run_job

log = logging.getLogger("postvault.lifecycle")


class Lifecycle:
    def __init__(self) -> None:
        self.stop = threading.Event()
        self._stop_at: float | None = None
        self._active: dict[int, str] = {}
        self._next = 0
        self._changed = threading.Condition()

    def request_stop(self) -> None:
        """Claim nothing more from now on; the grace counts from the first request."""
        if self._stop_at is None:
            self._stop_at = time.monotonic()
        self.stop.set()

    @contextmanager
    def working(self, name: str) -> Iterator[None]:
        """Mark a piece of work as in flight while the block runs."""
        with self._changed:
            self._next += 1
            key = self._next
            self._active[key] = name
        try:
            yield
        finally:
            with self._changed:
                del self._active[key]
                self._changed.notify_all()

    def in_flight(self) -> list[str]:
        with self._changed:
            return sorted(self._active.values())

    def wait_idle(self, timeout: float) -> list[str]:
        """Wait until `timeout` seconds after the stop was requested for work in flight to
        end; returns what is still running (empty when everything finished)."""
        self.request_stop()
        assert self._stop_at is not None
        deadline = self._stop_at + timeout
        with self._changed:
            while self._active:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._changed.wait(left)
            return sorted(self._active.values())


class DaemonThreadExecutor(BaseExecutor):  # type: ignore[misc]
    """APScheduler executor running each job in a daemon thread, counted as work in flight:
    the default pool's threads are joined at interpreter exit, so one job stuck in a slow
    fetch would hold a stopping process open past any grace."""

    def __init__(self, lifecycle: Lifecycle) -> None:
        super().__init__()
        self.lifecycle = lifecycle

    def _do_submit_job(self, job: Any, run_times: list[Any]) -> None:
        def run() -> None:
            with self.lifecycle.working(job.id):
                try:
                    events = run_job(job, job._jobstore_alias, run_times, self._logger.name)
                except BaseException:
                    self._run_job_error(job.id, *sys.exc_info()[1:])
                else:
                    self._run_job_success(job.id, events)

        threading.Thread(target=run, name=f"postvault-{job.id}", daemon=True).start()


class BackgroundJobs:
    """Long jobs started from the API (response packages), one at a time in a daemon thread:
    the request answers at once and the job's progress is read from the database."""

    def __init__(self, lifecycle: Lifecycle) -> None:
        self.lifecycle = lifecycle
        self._queue: queue.SimpleQueue[tuple[Future[Any], Callable[[], Any]] | None] = (
            queue.SimpleQueue()
        )
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        if self.lifecycle.stop.is_set():
            # Not started: the row stays queued and the recovery job of the next start runs it.
            future.cancel()
            return future
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._work, name="postvault-job", daemon=True
                )
                self._thread.start()
        self._queue.put((future, lambda: fn(*args, **kwargs)))
        return future

    def _work(self) -> None:
        while True:
            entry = self._queue.get()
            if entry is None:
                return
            future, call = entry
            if self.lifecycle.stop.is_set() or not future.set_running_or_notify_cancel():
                future.cancel()
                continue
            with self.lifecycle.working("background job"):
                try:
                    future.set_result(call())
                except BaseException as exc:
                    log.exception("background job failed")
                    future.set_exception(exc)

    def shutdown(self) -> None:
        """Start nothing more; the job running (if any) is waited for by `wait_idle`."""
        self._queue.put(None)
