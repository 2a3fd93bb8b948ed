"""Daily retention jobs: proposing and running disposition, and bringing the archive store's own
locks in step with due dates and holds. (The 19.35(5) hold timer is app.open_records.jobs.)"""

from __future__ import annotations

import logging
import threading
from typing import Any

from app.audit.service import Actor
from app.config import Settings
from app.db import Database
from app.errors import Conflict
from app.retention import disposition, transfer
from app.retention.approvals import sync_schedules
from app.retention.calendar import local_today
from app.retention.object_lock import sync_object_locks
from app.retention.request_files import request_files_policy
from app.retention.run_lease import resume_disposition, run_batch_leased
from app.retention.schedules import ScheduleError, current_schedules
from app.storage.service import store_from_settings

log = logging.getLogger("postvault.retention")


def disposition_job(database: Database, settings: Settings) -> None:
    """Propose a destruction batch (posts, request files) and a transfer batch of what fell
    due; run approved batches whose checks pass today."""
    actor = Actor.system("retention.disposition")
    today = local_today(settings.retention_timezone)
    policy = None
    try:
        policy, problem = request_files_policy(
            current_schedules(settings.schedules_dir),
            settings.request_files_series,
            timezone=settings.retention_timezone,
        )
    except ScheduleError as exc:
        problem = f"the schedules are invalid ({exc}): request files are kept"
    if problem:
        log.warning("%s", problem)
    with database.session() as session:
        try:
            batch = disposition.propose_batch(
                session, actor=actor, today=today, request_files=policy
            )
        except Conflict as exc:  # all that is due is in a series whose approval lapsed
            log.error("no disposition batch proposed: %s", exc.message)
            batch = None
        proposed = batch.id if batch else None
        transfer_batch = transfer.propose_transfer_batch(session, actor=actor, today=today)
        transfer_proposed = transfer_batch.id if transfer_batch else None
        runnable = disposition.runnable_batch_ids(session, today=today)
    if proposed:
        log.info("disposition batch %s proposed; a records officer approves it", proposed)
    if transfer_proposed:
        log.info("transfer batch %s proposed; a records officer approves it", transfer_proposed)
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


def schedule_sync_job(database: Database, settings: Settings) -> None:
    """Apply a changed schedule file to every post (at start-up, then hourly); a lapsed or
    lapsing approval is logged every run."""
    schedules = current_schedules(settings.schedules_dir)
    with database.session() as session:
        sync_schedules(
            session,
            schedules=schedules,
            actor=Actor.system("retention.schedules"),
            timezone=settings.retention_timezone,
        )
    for notice in schedules.approval_notices(local_today(settings.retention_timezone)):
        (log.error if notice.expired else log.warning)("%s", notice.message)


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


def resume_disposition_job(
    database: Database, settings: Settings, *, stop: threading.Event | None = None
) -> None:
    """Resume disposition runs a stopped or dead process left `running` (start-up, and every
    minute: a batch must not sit half destroyed until the next daily run)."""
    resumed = resume_disposition(
        database,
        store_from_settings(settings),
        today=local_today(settings.retention_timezone),
        timezone=settings.retention_timezone,
        lease_seconds=settings.job_lease_seconds,
        stop=stop,
    )
    if resumed:
        log.info("resumed disposition batches left running by a stopped process: %s", resumed)


resume_disposition_job.stoppable = True  # type: ignore[attr-defined]

JOBS: list[tuple[str, Any, dict[str, Any]]] = [
    ("retention.disposition", disposition_job, {"trigger": "interval", "hours": 24}),
    # The job id predates the move from app/storage; kept so a scheduler store keeps its row.
    ("storage.object_locks", object_lock_job, {"trigger": "interval", "hours": 24}),
    ("retention.resume_disposition", resume_disposition_job, {"trigger": "interval", "minutes": 1}),
    ("retention.schedule_sync", schedule_sync_job, {"trigger": "interval", "hours": 1}),
]
