"""Wiring of the capture path, in one place: collectors → versions → classification and
search index → retention → snapshots. Each step lives in its own domain package; this module
only connects them, so a reader sees the whole flow here."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import httpx
from sqlalchemy.orm import Session

from app.audit.service import Actor
from app.classification import service as classification_service
from app.classification.config import CONFIG_FILE_NAME, load_classifier_config
from app.classification.models import ClassificationOverride, Label
from app.classification.service import classify_version
from app.collectors.registry import COLLECTORS, collector_for
from app.collectors.service import CaptureContext, default_worker_id
from app.config import Settings
from app.db import Database
from app.platforms.collected import Collector
from app.platforms.http import make_client, policy_from_settings
from app.posts.models import CapturedVersion, FlaggedPost, VersionKind
from app.retention.assignment import assign_retention, assign_retention_many
from app.retention.schedules import current_schedules, load_schedules
from app.search.service import index_version
from app.snapshots.stream import SnapshotStream
from app.storage.base import ArchiveStore
from app.storage.service import store_from_settings

log = logging.getLogger("postvault.pipeline")


def check_configuration(settings: Settings) -> None:
    """Load and validate the schedules and the classifier configuration; raises ScheduleError
    or ConfigError naming the file and field, so a bad file stops start-up."""
    load_classifier_config(settings.schedules_dir / CONFIG_FILE_NAME)
    load_schedules(settings.schedules_dir)


class _RecomputeRetention:
    """The retention hook: `assign_retention` for one post, `assign_retention_many` for the
    posts a re-classification relabelled (the same outcome, read and written in batches)."""

    __name__ = "recompute_retention"

    def __init__(self, settings: Settings) -> None:
        self.folder = settings.schedules_dir
        self.timezone = settings.retention_timezone

    def __call__(self, session: Session, post_id: int, actor: Actor) -> None:
        assign_retention(
            session,
            post_id=post_id,
            actor=actor,
            schedules=current_schedules(self.folder),
            timezone=self.timezone,
        )

    def with_label(
        self,
        session: Session,
        post_id: int,
        actor: Actor,
        *,
        override: ClassificationOverride | None,
        classified: Label | None,
    ) -> None:
        assign_retention(
            session,
            post_id=post_id,
            actor=actor,
            schedules=current_schedules(self.folder),
            timezone=self.timezone,
            known_label=(override, classified),
        )

    def many(self, session: Session, post_ids: Sequence[int], actor: Actor) -> None:
        assign_retention_many(
            session,
            post_ids=post_ids,
            actor=actor,
            schedules=current_schedules(self.folder),
            timezone=self.timezone,
        )


class _NotingRetention:
    """The retention hook as a capture passes it to the classifier: it notes whether it ran
    for the captured post, so that the pipeline does not compute the same assignment again."""

    def __init__(self, retention: _RecomputeRetention, post_id: int) -> None:
        self.retention = retention
        self.post_id = post_id
        self.scheduled = False  # retention computed since the latest classification

    def __call__(self, session: Session, post_id: int, actor: Actor) -> None:
        self.retention(session, post_id, actor)
        self.scheduled = self.scheduled or post_id == self.post_id

    def with_label(
        self,
        session: Session,
        post_id: int,
        actor: Actor,
        *,
        override: ClassificationOverride | None,
        classified: Label | None,
    ) -> None:
        self.retention.with_label(session, post_id, actor, override=override, classified=classified)
        self.scheduled = self.scheduled or post_id == self.post_id


def recompute_retention(settings: Settings) -> _RecomputeRetention:
    """Reassign a post's series and due date, by the schedules as the folder holds them now
    (a changed file is read again; the schedule sync job applies it to every post)."""
    current_schedules(settings.schedules_dir)  # a bad folder stops start-up
    return _RecomputeRetention(settings)


def label_changed_hooks(settings: Settings) -> list[classification_service.LabelChangedHook]:
    """What a label change (rules or an officer's override) sets off: the post's retention is
    recomputed. The app, the capture context and the jobs pass these explicitly."""
    return [recompute_retention(settings)]


def install_hooks(settings: Settings) -> None:
    """For one-shot CLI commands only: the same hooks as the fallback list, for service calls
    that pass none. The app and the capture path pass theirs (label_changed_hooks)."""
    hooks = classification_service.ON_LABEL_CHANGED
    hooks[:] = [h for h in hooks if getattr(h, "__name__", "") != "recompute_retention"]
    hooks.append(recompute_retention(settings))


def build_capture_context(
    database: Database,
    settings: Settings,
    *,
    store: ArchiveStore | None = None,
    client: httpx.Client | None = None,
    collectors: Mapping[str, Collector] | None = None,
    worker: str | None = None,
) -> CaptureContext:
    config = load_classifier_config(settings.schedules_dir / CONFIG_FILE_NAME)
    retention = recompute_retention(settings)
    label_hooks: list[classification_service.LabelChangedHook] = [retention]

    def classify_index_and_schedule(
        session: Session, post: FlaggedPost, versions: list[CapturedVersion], actor: Actor
    ) -> None:
        # In the capture's transaction. Dead publication links are checked by the
        # verify-primaries job, never while a capture holds the database.
        noting = _NotingRetention(retention, post.id)
        hooks = [noting if hook is retention else hook for hook in label_hooks]
        for version in versions:
            if version.kind != VersionKind.removal:
                noting.scheduled = False
                classify_version(
                    session,
                    version_id=version.id,
                    config=config,
                    actor=actor,
                    on_label_changed=hooks,
                )
                index_version(session, version.id)  # the search index only
        if not noting.scheduled:
            # Idempotent: writes only when something changed. Skipped when the label change
            # of the last classification just computed it (the same answer, read twice).
            retention(session, post.id, actor)

    def removal_starts_retention_clock(session: Session, post: FlaggedPost, actor: Actor) -> None:
        retention(session, post.id, actor)  # the post_removed event

    archive = store or store_from_settings(settings)

    # After each capture committed, its versions go to the render pool while capture goes on;
    # each snapshot is recorded in its own transaction as its render completes. A failure is
    # retried by the snapshot backfill job.
    snapshots = SnapshotStream(database, settings, archive, actor=Actor.system("snapshots"))

    if collectors is None:
        collectors = {platform: collector_for(platform, settings) for platform in COLLECTORS}
    return CaptureContext(
        database=database,
        settings=settings,
        store=archive,
        client=client or make_client(policy_from_settings(settings)),
        collectors=collectors,
        worker=worker or settings.worker_id or default_worker_id(),
        on_new_versions=[classify_index_and_schedule],
        on_removed=[removal_starts_retention_clock],
        on_label_changed=label_hooks,
        after_commit=[snapshots],
    )
