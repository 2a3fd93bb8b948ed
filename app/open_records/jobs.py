"""Scheduled: resume response packages a dead process left queued or running."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from app.config import Settings
from app.db import Database
from app.open_records.package import recover_packages
from app.storage.service import store_from_settings

log = logging.getLogger("postvault.open_records")


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
    ("open_records.recover_packages", recover_packages_job, {"trigger": "interval", "minutes": 1}),
]
