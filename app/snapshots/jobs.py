"""Scheduled work: fixity checks spread over the interval, and snapshots still missing."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from typing import Any

from app.config import Settings
from app.db import Database
from app.snapshots import service
from app.snapshots.pool import render_pool
from app.storage import fixity
from app.storage.service import store_from_settings

log = logging.getLogger("postvault.snapshots")

BACKFILL_BATCH = 20


def fixity_job(database: Database, settings: Settings) -> None:
    """Re-hash each object not checked within `fixity_interval_days` (weekly by default).

    It runs daily, so a run after downtime catches up and an object is never left unchecked
    for longer than the interval plus a day.
    """
    store = store_from_settings(settings)
    with database.session() as session:
        report = fixity.check_fixity(
            session, store=store, older_than=dt.timedelta(days=settings.fixity_interval_days)
        )
    if report.problems:
        log.error(
            "fixity check: %d of %d objects failed (%d missing, %d mismatched)",
            len(report.problems),
            report.checked,
            len(report.missing),
            len(report.mismatched),
        )
    elif report.checked:
        log.info("fixity check: %d objects intact", report.checked)


def snapshot_backfill_job(
    database: Database, settings: Settings, *, stop: threading.Event | None = None
) -> None:
    """Snapshot versions that have none (a render that failed after capture, or a capture
    whose process stopped before its snapshots were made). It runs at start-up and every ten
    minutes, batch after batch until none is missing; a version that fails is tried once per
    run, so a broken one never loops."""
    store = store_from_settings(settings)
    tried: set[int] = set()
    while stop is None or not stop.is_set():
        with database.session() as session:
            ids = [
                i for i in service.versions_to_render(session, outdated_too=False) if i not in tried
            ][:BACKFILL_BATCH]
            if not ids:
                return
            tried.update(ids)
            report = service.rerender_versions(
                session,
                store=store,
                version_ids=ids,
                render_many=render_pool(settings.render_workers).render_many,
            )
        if report.failed:
            log.error(
                "snapshot backfill: %d versions failed: %s", len(report.failed), report.failed
            )


snapshot_backfill_job.stoppable = True  # type: ignore[attr-defined]


JOBS: list[tuple[str, Callable[[Database, Settings], None], dict[str, Any]]] = [
    ("fixity_check", fixity_job, {"trigger": "interval", "hours": 24}),
    ("snapshot_backfill", snapshot_backfill_job, {"trigger": "interval", "minutes": 10}),
]
