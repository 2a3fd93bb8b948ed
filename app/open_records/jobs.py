"""Open-records jobs: the daily 19.35(5) hold timer, and resuming response packages a dead
process left queued or running."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from app.audit.service import Actor
from app.config import Settings
from app.db import Database
from app.open_records import hold_timers
from app.open_records.package import recover_packages
from app.retention import holds
from app.retention.calendar import load_calendar, local_today
from app.storage.service import store_from_settings

log = logging.getLogger("postvault.retention")  # where the hold timer always logged


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


def recover_packages_job(
    database: Database, settings: Settings, *, stop: threading.Event | None = None
) -> None:
    resumed = recover_packages(
        database,
        store_from_settings(settings),
        lease_seconds=settings.job_lease_seconds,
        stop=stop,
    )
    if resumed:
        log.info("resumed response packages left by a stopped process: %s", resumed)


recover_packages_job.stoppable = True  # type: ignore[attr-defined]

JOBS: list[tuple[str, Callable[..., None], dict[str, Any]]] = [
    # The job id predates the move from app/retention; kept so a scheduler store keeps its row.
    ("retention.holds_timer", holds_timer_job, {"trigger": "interval", "hours": 24}),
    ("open_records.recover_packages", recover_packages_job, {"trigger": "interval", "minutes": 1}),
]
