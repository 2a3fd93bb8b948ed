"""The scheduler: one per process, in memory.

APScheduler 3 must not share a job store between processes (duplicate or missed runs), so each
process runs its own in-memory scheduler and the work itself is claimed in the database
(app/collectors/service.py, app/leases.py): N processes never capture the same post or make the
same package at once.

Jobs run in daemon threads counted by the process's Lifecycle, so stopping waits for work in
flight only as long as the shutdown grace (app/lifecycle.py).
"""

from __future__ import annotations

import datetime as dt
import logging
import signal
import threading
from collections.abc import Callable
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

from app.anchors import jobs as anchor_jobs
from app.classification import jobs as classification_jobs
from app.collectors.jobs import capture_due_posts
from app.collectors.service import CaptureContext
from app.config import Settings
from app.connections import jobs as connection_jobs
from app.db import Database
from app.lifecycle import DaemonThreadExecutor, Lifecycle
from app.notices import jobs as notice_jobs
from app.open_records import jobs as open_records_jobs
from app.retention import jobs as retention_jobs
from app.snapshots import jobs as snapshot_jobs
from app.snapshots.pool import shutdown_pools

log = logging.getLogger("postvault.worker")

JobSpec = tuple[str, Callable[[], None], dict[str, Any]]

# Run once right after start as well as on their trigger: a capture pass, work a dead process
# left half done (packages, disposition runs, snapshots missing after a crash).
START_UP_JOBS = (
    "capture-due-posts",
    "snapshot_backfill",
    "open_records.recover_packages",
    "retention.resume_disposition",
    "retention.schedule_sync",
)
# Run a while after start as well as on their trigger: a process restarted every day still
# anchors the audit chain, and a test's short-lived app does not.
DELAYED_START_UP_JOBS = {"audit.anchor": dt.timedelta(minutes=10)}


def _guarded(name: str, job: Callable[[], None]) -> Callable[[], None]:
    def run() -> None:
        try:
            job()
        except Exception:  # a failing job is logged and runs again at its next time
            log.exception("scheduled job %s failed", name)

    return run


def job_specs(
    database: Database, settings: Settings, context: CaptureContext, stop: threading.Event
) -> list[JobSpec]:
    """Every scheduled job of every domain, with its trigger."""
    specs: list[JobSpec] = [
        (
            "capture-due-posts",
            lambda: capture_due_posts(context),
            {"trigger": "interval", "seconds": settings.capture_interval_seconds},
        ),
    ]
    for name, job, trigger in [
        *open_records_jobs.JOBS,
        *retention_jobs.JOBS,
        *snapshot_jobs.JOBS,
        *classification_jobs.JOBS,
        *notice_jobs.JOBS,
        *connection_jobs.JOBS,
        *anchor_jobs.JOBS,
    ]:
        specs.append((name, _bind(job, database, settings, stop), trigger))
    return specs


def _bind(
    job: Callable[..., None], database: Database, settings: Settings, stop: threading.Event
) -> Callable[[], None]:
    # Long jobs take the stop event (checked between their steps); the daily ones do not.
    if getattr(job, "stoppable", False):
        return lambda: job(database, settings, stop=stop)
    return lambda: job(database, settings)


def build_scheduler(
    database: Database, settings: Settings, context: CaptureContext, lifecycle: Lifecycle
) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(
        timezone="UTC",
        executors={"default": DaemonThreadExecutor(lifecycle)},
        job_defaults={"coalesce": True, "max_instances": 1},
    )
    for name, job, trigger in job_specs(database, settings, context, lifecycle.stop):
        options = dict(trigger)
        kind = options.pop("trigger")
        scheduler.add_job(_guarded(name, job), kind, id=name, name=name, **options)
    return scheduler


def start_scheduler(
    database: Database, settings: Settings, context: CaptureContext, lifecycle: Lifecycle
) -> BackgroundScheduler:
    context.stop = lifecycle.stop
    scheduler = build_scheduler(database, settings, context, lifecycle)
    scheduler.start()
    now = dt.datetime.now(dt.UTC)
    for name in START_UP_JOBS:
        if scheduler.get_job(name) is not None:
            scheduler.modify_job(name, next_run_time=now)
    for name, delay in DELAYED_START_UP_JOBS.items():
        if scheduler.get_job(name) is not None:
            scheduler.modify_job(name, next_run_time=now + delay)
    return scheduler


def stop_gracefully(
    lifecycle: Lifecycle,
    settings: Settings,
    scheduler: BackgroundScheduler | None,
    *,
    stop_pools: bool = True,
) -> list[str]:
    """Stop claiming work, give work in flight the grace to finish, then stop the render
    pool's processes. Returns what was still running when the grace ended (left to its
    lease)."""
    lifecycle.request_stop()
    if scheduler is not None and scheduler.running:
        scheduler.shutdown(wait=False)
    left = lifecycle.wait_idle(settings.shutdown_grace_seconds)
    if left:
        log.warning(
            "stopping with work still running after %ss: %s; its leases return it to the pool",
            settings.shutdown_grace_seconds,
            ", ".join(left),
        )
    if stop_pools:
        shutdown_pools()
    return left


def run_worker(
    database: Database,
    settings: Settings,
    context: CaptureContext,
    lifecycle: Lifecycle | None = None,
) -> None:
    """`postvault worker`: the scheduler alone, until SIGTERM or SIGINT."""
    lifecycle = lifecycle or Lifecycle()
    signalled = threading.Event()

    def _stop(_signum: int, _frame: object) -> None:
        lifecycle.request_stop()
        signalled.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    scheduler = start_scheduler(database, settings, context, lifecycle)
    log.info(
        "worker %s running; capture pass every %ss",
        context.worker,
        settings.capture_interval_seconds,
    )
    try:
        signalled.wait()
    finally:
        stop_gracefully(lifecycle, settings, scheduler)
