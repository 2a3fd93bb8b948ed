"""The scheduler: one per process, in memory.

APScheduler 3 must not share a job store between processes (duplicate or missed runs), so each
process runs its own in-memory scheduler and the work itself is claimed in the database
(app/collectors/service.py): N processes never capture the same post at once.
"""

from __future__ import annotations

import datetime as dt
import logging
import signal
import threading
from collections.abc import Callable
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

from app.classification import jobs as classification_jobs
from app.collectors.jobs import capture_due_posts
from app.collectors.service import CaptureContext
from app.config import Settings
from app.db import Database
from app.notices import jobs as notice_jobs
from app.open_records import jobs as open_records_jobs
from app.retention import jobs as retention_jobs
from app.snapshots import jobs as snapshot_jobs

log = logging.getLogger("postvault.worker")

JobSpec = tuple[str, Callable[[], None], dict[str, Any]]


def _guarded(name: str, job: Callable[[], None]) -> Callable[[], None]:
    def run() -> None:
        try:
            job()
        except Exception:  # a failing job is logged and runs again at its next time
            log.exception("scheduled job %s failed", name)

    return run


def job_specs(database: Database, settings: Settings, context: CaptureContext) -> list[JobSpec]:
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
    ]:
        specs.append((name, _bind(job, database, settings), trigger))
    return specs


def _bind(
    job: Callable[[Database, Settings], None], database: Database, settings: Settings
) -> Callable[[], None]:
    return lambda: job(database, settings)


def build_scheduler(
    database: Database, settings: Settings, context: CaptureContext
) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(
        timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1}
    )
    for name, job, trigger in job_specs(database, settings, context):
        options = dict(trigger)
        kind = options.pop("trigger")
        scheduler.add_job(_guarded(name, job), kind, id=name, name=name, **options)
    return scheduler


def start_scheduler(
    database: Database, settings: Settings, context: CaptureContext
) -> BackgroundScheduler:
    scheduler = build_scheduler(database, settings, context)
    scheduler.start()
    # First capture pass right away rather than one interval after start.
    scheduler.modify_job("capture-due-posts", next_run_time=dt.datetime.now(dt.UTC))
    return scheduler


def run_worker(database: Database, settings: Settings, context: CaptureContext) -> None:
    """`postvault worker`: the scheduler alone, until SIGTERM or SIGINT."""
    stop = threading.Event()

    def _stop(_signum: int, _frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    scheduler = start_scheduler(database, settings, context)
    log.info(
        "worker %s running; capture pass every %ss",
        context.worker,
        settings.capture_interval_seconds,
    )
    try:
        stop.wait()
    finally:
        scheduler.shutdown(wait=True)
