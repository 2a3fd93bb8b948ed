"""Wiring of the capture path, in one place: collectors → versions → classification →
retention → snapshots. Each step lives in its own domain package; this module only connects
them, so a reader sees the whole flow here."""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from app.collectors.base import Collector
from app.collectors.http import make_client, policy_from_settings
from app.collectors.registry import COLLECTORS, collector_for
from app.collectors.service import CaptureContext, default_worker_id
from app.config import Settings
from app.db import Database
from app.storage.base import ArchiveStore
from app.storage.service import store_from_settings


def build_capture_context(
    database: Database,
    settings: Settings,
    *,
    store: ArchiveStore | None = None,
    client: httpx.Client | None = None,
    collectors: Mapping[str, Collector] | None = None,
    worker: str | None = None,
) -> CaptureContext:
    client = client or make_client(policy_from_settings(settings))
    return CaptureContext(
        database=database,
        settings=settings,
        store=store or store_from_settings(settings),
        client=client,
        collectors=collectors
        if collectors is not None
        else {p: collector_for(p, settings) for p in COLLECTORS},
        worker=worker or settings.worker_id or default_worker_id(),
    )
