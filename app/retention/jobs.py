"""Daily retention jobs: the 19.35(5) hold timer, proposing and running disposition, and
bringing the archive store's own locks in step with due dates and holds."""

from __future__ import annotations

import logging
from typing import Any

from app.audit.service import Actor
from app.config import Settings
from app.db import Database
from app.open_records import hold_timers
from app.retention import disposition, disposition_run, holds
from app.retention.calendar import load_calendar, local_today
from app.retention.object_lock import sync_object_locks
from app.storage.service import store_from_settings

log = logging.getLogger("postvault.retention")


def holds_timer_job(database: Database, settings: Settings) -> None:
    """Release open-records holds whose 19.35(5) period ended; extend saved-search holds."""
    calendar = load_calendar(settings.holiday_calendar, settings.holidays_dir)
    actor = Actor.system("retention.holds_timer")
    today = local_today(settings.retention_timezone)
    with database.session() as session:
        released = hold_timers.release_timed_open_records_holds(
            session,
            today=today,
            calendar=calendar,
            actor=actor,
            timezone=settings.retention_timezone,
        )
        extended = holds.extend_scoped_holds(session, actor=actor)
    if released or extended:
        log.info("holds released by the 19.35(5) timer: %s; extended: %s", released, extended)


def disposition_job(database: Database, settings: Settings) -> None:
    """Propose a batch of what fell due; run approved batches whose checks pass today."""
    actor = Actor.system("retention.disposition")
    today = local_today(settings.retention_timezone)
    with database.session() as session:
        batch = disposition.propose_batch(session, actor=actor, today=today)
        proposed = batch.id if batch else None
        runnable = disposition.runnable_batch_ids(session, today=today)
    if proposed:
        log.info("disposition batch %s proposed; a records officer approves it", proposed)
    store = store_from_settings(settings)
    for batch_id in runnable:
        result = disposition_run.run_batch(
            database,
            batch_id=batch_id,
            store=store,
            actor=actor,
            today=today,
            timezone=settings.retention_timezone,
        )
        log.info(
            "disposition batch %s %s: %d destroyed, %d skipped",
            batch_id,
            result.status,
            len(result.destroyed),
            len(result.skipped),
        )


def object_lock_job(database: Database, settings: Settings) -> None:
    if settings.storage_backend != "s3":
        return  # a local folder has no locks of its own; PostVault's workflow protects it
    with database.session() as session:
        result = sync_object_locks(session, store=store_from_settings(settings))
    log.info(
        "object locks: %d objects of %d posts in step, %d failed",
        result.objects,
        result.posts,
        result.failed,
    )


JOBS: list[tuple[str, Any, dict[str, Any]]] = [
    ("retention.holds_timer", holds_timer_job, {"trigger": "interval", "hours": 24}),
    ("retention.disposition", disposition_job, {"trigger": "interval", "hours": 24}),
    # The job id predates the move from app/storage; kept so a scheduler store keeps its row.
    ("storage.object_locks", object_lock_job, {"trigger": "interval", "hours": 24}),
]
