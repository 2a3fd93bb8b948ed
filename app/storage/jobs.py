"""Daily: bring the archive store's own locks in step with due dates and holds."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from app.config import Settings
from app.db import Database
from app.storage.object_lock import sync_object_locks
from app.storage.service import store_from_settings

log = logging.getLogger("postvault.storage")


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


JOBS: list[tuple[str, Callable[[Database, Settings], None], dict[str, Any]]] = [
    ("storage.object_locks", object_lock_job, {"trigger": "interval", "hours": 24}),
]
