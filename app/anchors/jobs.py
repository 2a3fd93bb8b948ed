"""The daily job that anchors the audit chain's head outside the database (and asks the TSA
to sign the anchor when one is configured). Idempotent: nothing new since the last anchor
writes nothing; it also runs at start-up, so a process restarted daily still anchors."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from app.anchors.service import anchor_chain, timestamp_anchor
from app.config import Settings
from app.db import Database
from app.storage.service import store_from_settings

log = logging.getLogger("postvault.audit")


def anchor_job(database: Database, settings: Settings) -> None:
    store = store_from_settings(settings)
    with database.session() as session:
        anchor = anchor_chain(session, store=store, settings=settings)
        anchor_id = anchor.id if anchor is not None else None
        if anchor is not None:
            log.info(
                "audit chain anchored at event %s (%s events): object %s",
                anchor.last_event_id,
                anchor.event_count,
                anchor.object_sha256,
            )
    if anchor_id is None or settings.tsa_url is None:
        return
    # Its own transaction: the anchor is kept even when the TSA is down (retried later).
    with database.session() as session:
        status = timestamp_anchor(session, anchor_id=anchor_id, store=store, settings=settings)
    log.info("audit anchor %s timestamp: %s", anchor_id, status)


JOBS: list[tuple[str, Callable[[Database, Settings], None], dict[str, Any]]] = [
    ("audit.anchor", anchor_job, {"trigger": "interval", "hours": 24}),
]
