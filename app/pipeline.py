"""Wiring of the capture path, in one place: collectors → versions → classification →
retention → snapshots. Each step lives in its own domain package; this module only connects
them, so a reader sees the whole flow here."""

from __future__ import annotations

from collections.abc import Mapping

import httpx
from sqlalchemy.orm import Session

from app.audit.service import Actor
from app.classification.config import CONFIG_FILE_NAME, load_classifier_config
from app.classification.service import classify_version
from app.collectors.base import Collector
from app.collectors.http import make_client, policy_from_settings
from app.collectors.registry import COLLECTORS, collector_for
from app.collectors.service import CaptureContext, default_worker_id
from app.config import Settings
from app.db import Database
from app.open_records.search import index_version
from app.posts.models import CapturedVersion, FlaggedPost, VersionKind
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
    classifier_config = load_classifier_config(settings.schedules_dir / CONFIG_FILE_NAME)

    def classify_and_index(
        session: Session, _post: FlaggedPost, versions: list[CapturedVersion], actor: Actor
    ) -> None:
        # In the capture's transaction, from what the archive holds; dead publication links
        # are checked by the verify-primaries job, never while a capture holds the database.
        for version in versions:
            if version.kind != VersionKind.removal:
                classify_version(
                    session, version_id=version.id, config=classifier_config, actor=actor
                )
                index_version(session, version.id)

    if collectors is None:
        collectors = {platform: collector_for(platform, settings) for platform in COLLECTORS}
    return CaptureContext(
        database=database,
        settings=settings,
        store=store or store_from_settings(settings),
        client=client or make_client(policy_from_settings(settings)),
        collectors=collectors,
        worker=worker or settings.worker_id or default_worker_id(),
        on_new_versions=[classify_and_index],
    )
