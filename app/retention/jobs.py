"""Daily retention jobs: the 19.35(5) hold timer, and proposing and running disposition."""

from __future__ import annotations

import logging
import threading
from typing import Any

from app.audit.service import Actor
from app.config import Settings
from app.db import Database
from app.errors import Conflict
from app.retention import service
from app.retention.calendar import load_calendar
from app.retention.run_lease import resume_disposition, run_batch_leased
from app.storage.service import store_from_settings

log = logging.getLogger("postvault.retention")


def holds_timer_job(database: Database, settings: Settings) -> None:
    """Release open-records holds whose 19.35(5) period ended; extend saved-search holds."""
    calendar = load_calendar(settings.holiday_calendar, settings.holidays_dir)
    actor = Actor.system("retention.holds_timer")
    today = service.local_today(settings.retention_timezone)
    with database.session() as session:
        released = service.release_timed_open_records_holds(
            session,
            today=today,
            calendar=calendar,
            actor=actor,
            timezone=settings.retention_timezone,
        )
        extended = service.extend_scoped_holds(session, actor=actor)
    if released or extended:
        log.info("holds released by the 19.35(5) timer: %s; extended: %s", released, extended)


def disposition_job(database: Database, settings: Settings) -> None:
    """Propose a batch of what fell due; run approved batches whose checks pass today."""
    actor = Actor.system("retention.disposition")
    today = service.local_today(settings.retention_timezone)
    with database.session() as session:
        batch = service.propose_batch(session, actor=actor, today=today)
        proposed = batch.id if batch else None
        runnable = service.runnable_batch_ids(session, today=today)
    if proposed:
        log.info("disposition batch %s proposed; a records officer approves it", proposed)
    store = store_from_settings(settings)
    for batch_id in runnable:
        try:
            result = run_batch_leased(
                database,
                batch_id=batch_id,
                store=store,
                actor=actor,
                today=today,
                timezone=settings.retention_timezone,
                lease_seconds=settings.job_lease_seconds,
            )
        except Conflict as exc:  # another process runs it, or its checks no longer pass
            log.info("disposition batch %s not run: %s", batch_id, exc.message)
            continue
        log.info(
            "disposition batch %s %s: %d destroyed, %d skipped",
            batch_id,
            result.status,
            len(result.destroyed),
            len(result.skipped),
        )


def resume_disposition_job(
    database: Database, settings: Settings, *, stop: threading.Event | None = None
) -> None:
    """Resume disposition runs a stopped or dead process left `running` (start-up, and every
    minute: a batch must not sit half destroyed until the next daily run)."""
    resumed = resume_disposition(
        database,
        store_from_settings(settings),
        today=service.local_today(settings.retention_timezone),
        timezone=settings.retention_timezone,
        lease_seconds=settings.job_lease_seconds,
        stop=stop,
    )
    if resumed:
        log.info("resumed disposition batches left running by a stopped process: %s", resumed)


resume_disposition_job.stoppable = True  # type: ignore[attr-defined]

JOBS: list[tuple[str, Any, dict[str, Any]]] = [
    ("retention.holds_timer", holds_timer_job, {"trigger": "interval", "hours": 24}),
    ("retention.disposition", disposition_job, {"trigger": "interval", "hours": 24}),
    ("retention.resume_disposition", resume_disposition_job, {"trigger": "interval", "minutes": 1}),
]
