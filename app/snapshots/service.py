"""Snapshots of captured versions, reading them back, and fixity checks of the archive.

The capture pipeline calls `snapshot_version(session, store=..., version_id=...)` after it
stores a new version; `rerender_versions` makes new snapshots after a template change, keeping
the old ones; `check_fixity` re-hashes every stored object and records each check.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import ValidationError
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from app.audit.service import Actor, record
from app.auth.models import User
from app.classification.models import Classification
from app.config import Settings, get_settings
from app.db import utcnow
from app.errors import Conflict, DomainError, NotFound
from app.observability.metrics import observe_render
from app.platforms.collected import CollectedPost
from app.posts.models import CapturedVersion, FlaggedPost, VersionMedia
from app.posts.service import get_post
from app.retention.models import RetentionAssignment
from app.snapshots.metadata import read_missing_glyphs
from app.snapshots.models import Snapshot
from app.snapshots.pool import RenderError, render_pool
from app.snapshots.render import SnapshotPDF, render_snapshot
from app.snapshots.schemas import (
    ClassificationInfo,
    FileReference,
    MediaFile,
    RetentionInfo,
    SnapshotView,
)
from app.snapshots.version import RENDERER_VERSION
from app.storage.base import ArchiveStore, FixityError, ObjectMissing, StoreError
from app.storage.models import StoredObject
from app.storage.service import put_object
from app.timestamps.models import TimestampStatus, TimestampToken
from app.timestamps.service import timestamp_object, token_of

log = logging.getLogger("postvault.snapshots")

Renderer = Callable[[SnapshotView], bytes]
ManyRenderer = Callable[[Sequence[SnapshotView]], Sequence[bytes | Exception]]

SYSTEM = Actor.system("snapshots")


class SnapshotUnavailable(DomainError):
    """The archived bytes cannot be served as they are (damaged or missing).

    409: the request is fine, the archive's state is what stops it; the damage is logged at
    ERROR level and shows in the fixity report.
    """

    status_code = 409


# --- building the view --------------------------------------------------------------------


def _collected(
    session: Session, version: CapturedVersion
) -> tuple[CollectedPost, CapturedVersion, str | None]:
    """The post content a version shows, the version it comes from, and a notice.

    A removal version records that the post is gone, not what it said: its page shows the
    last content captured before, and says so.
    """
    normalized = version.normalized or {}
    shown = version
    notice = None
    if normalized.get("kind", "post") != "post":
        reason = str(normalized.get("reason") or "no reason given")
        shown_version = session.scalar(
            select(CapturedVersion)
            .where(
                CapturedVersion.post_id == version.post_id,
                CapturedVersion.number < version.number,
                CapturedVersion.normalized.is_not(None),
            )
            .order_by(CapturedVersion.number.desc())
            .limit(1)
        )
        while (
            shown_version is not None
            and (shown_version.normalized or {}).get("kind", "post") != "post"
        ):
            shown_version = session.scalar(
                select(CapturedVersion)
                .where(
                    CapturedVersion.post_id == version.post_id,
                    CapturedVersion.number < shown_version.number,
                    CapturedVersion.normalized.is_not(None),
                )
                .order_by(CapturedVersion.number.desc())
                .limit(1)
            )
        if shown_version is None or shown_version.normalized is None:
            raise Conflict(
                f"version {version.number} of post {version.post_id} records a removal and no "
                "earlier content is archived to show"
            )
        shown = shown_version
        normalized = shown_version.normalized
        notice = (
            f"The platform said: {reason}. The content shown is version {shown.number}, "
            f"the last captured before the removal."
        )
    try:
        return CollectedPost.model_validate(normalized), shown, notice
    except ValidationError as exc:
        raise Conflict(
            f"version {version.number} of post {version.post_id} has a normalised capture "
            f"this renderer cannot read: {exc.errors()[0].get('msg')}"
        ) from None


def _owners(post: CollectedPost) -> dict[str, str]:
    """Which post or reply each media file (by hash or URL) belongs to."""
    owners: dict[str, str] = {}

    def add(owner: str, refs: Sequence[Any]) -> None:
        for ref in refs:
            if ref is None:
                continue
            if ref.sha256:
                owners.setdefault(ref.sha256, owner)
            owners.setdefault(ref.url, owner)

    add("post", post.media)
    if post.link_card is not None:
        add("link_card", [post.link_card.thumb])
    if post.quote_of is not None:
        add("quote", post.quote_of.media)
    if post.repost_of is not None:
        add("repost", post.repost_of.media)
    for reply in post.replies:
        add(f"reply:{reply.id}", reply.media)
    return owners


def build_view(session: Session, *, store: ArchiveStore, version_id: int) -> SnapshotView:
    """Everything the snapshot of one version shows, read from the database and the store."""
    version = session.get(CapturedVersion, version_id)
    if version is None:
        raise NotFound(f"no captured version {version_id}")
    post_row: FlaggedPost = version.post
    if version.source_json is None or version.normalized is None:
        raise Conflict(
            f"version {version.number} of post {post_row.id} was disposed: nothing to render"
        )
    source = version.source_json.encode("utf-8")
    if hashlib.sha256(source).hexdigest() != version.source_sha256:
        raise SnapshotUnavailable(
            f"the source JSON of version {version.number} of post {post_row.id} no longer "
            "hashes to the value recorded at capture; it is not rendered"
        )
    collected, shown, notice = _collected(session, version)
    count = session.scalar(
        select(func.max(CapturedVersion.number)).where(CapturedVersion.post_id == post_row.id)
    )
    owners = _owners(collected)
    media: list[MediaFile] = []
    rows: list[VersionMedia] = list(shown.media)
    if shown is not version:
        rows += list(version.media)
    seen: set[str] = set()
    # A browser capture's WACZ is embedded up to a size; past it the PDF names it by hash.
    # So are audio and video (a podcast episode's audio file), up to their own size.
    settings = get_settings()
    embed_limits = {
        "wacz": settings.web_wacz_embed_max_bytes,
        "audio": settings.audio_embed_max_bytes,
        "video": settings.audio_embed_max_bytes,
    }
    referenced: list[FileReference] = []
    for row in rows:
        if row.sha256 in seen:
            continue
        seen.add(row.sha256)
        stored = session.get(StoredObject, row.sha256)
        limit = embed_limits.get(row.role)
        if limit is not None and stored is not None and stored.size > limit:
            referenced.append(
                FileReference(
                    sha256=row.sha256,
                    mime_type=stored.mime_type,
                    size=stored.size,
                    role=row.role,
                    source_url=row.source_url,
                )
            )
            continue
        try:
            data = store.get(row.sha256)
        except (FixityError, ObjectMissing) as exc:
            raise SnapshotUnavailable(
                f"media {row.sha256} of version {version.number} of post {post_row.id} cannot "
                f"be read back intact: {exc}"
            ) from exc
        media.append(
            MediaFile(
                sha256=row.sha256,
                mime_type=stored.mime_type if stored else "application/octet-stream",
                data=data,
                role=row.role,
                alt_text=row.alt_text,
                source_url=row.source_url,
                owner="avatar"
                if row.role == "avatar"
                else owners.get(row.sha256) or owners.get(row.source_url or "", "post"),
            )
        )
    classification = session.scalar(
        select(Classification)
        .where(Classification.version_id == version.id, Classification.is_current.is_(True))
        .order_by(Classification.id.desc())
        .limit(1)
    )
    assignment = session.scalar(
        select(RetentionAssignment)
        .where(
            RetentionAssignment.post_id == post_row.id,
            RetentionAssignment.is_current.is_(True),
        )
        .order_by(RetentionAssignment.id.desc())
        .limit(1)
    )
    return SnapshotView(
        post=collected,
        platform=post_row.platform,
        post_url=collected.url or post_row.url,
        post_id=collected.post_id or post_row.external_id,
        version_number=version.number,
        version_count=max(count or 1, version.number),
        version_kind=version.kind,
        notice=notice,
        captured_at=version.captured_at,
        diff_from_previous=version.diff_from_previous,
        collector=version.collector,
        collector_version=version.collector_version,
        classification=ClassificationInfo(
            label=classification.label,
            rule_id=classification.rule_id,
            reasons=list(classification.reasons or []),
            source=classification.source,
        )
        if classification
        else None,
        retention=RetentionInfo(
            series_code=assignment.series_code,
            schedule_id=assignment.schedule_id,
            retention=assignment.retention,
            due_on=assignment.due_on,
            due_reason=assignment.due_reason or None,
        )
        if assignment
        else None,
        source_json=source,
        source_sha256=version.source_sha256,
        media=media,
        referenced_files=referenced,
    )


# --- making snapshots ---------------------------------------------------------------------


def current_snapshot(session: Session, *, version_id: int) -> Snapshot | None:
    return session.scalar(
        select(Snapshot)
        .where(Snapshot.version_id == version_id, Snapshot.is_current.is_(True))
        .order_by(Snapshot.id.desc())
        .limit(1)
    )


def record_snapshot(
    session: Session,
    *,
    store: ArchiveStore,
    view: SnapshotView,
    version_id: int,
    pdf: bytes,
    actor: Actor = SYSTEM,
    settings: Settings | None = None,
    missing_glyphs: list[str] | None | Literal["read"] = "read",
) -> Snapshot:
    """Store a rendered PDF and make it the version's current snapshot (audited), and ask
    the TSA for its trusted timestamp when one is configured (pending if it cannot answer).
    `missing_glyphs` is read from the PDF unless the render worker read it already or the
    renderer handed it with the PDF (`SnapshotPDF`)."""
    sha256 = hashlib.sha256(pdf).hexdigest()
    current = current_snapshot(session, version_id=version_id)
    if current is not None and current.sha256 == sha256:
        return current  # rendering is deterministic: the same input made the same file
    stored = put_object(
        session,
        store,
        pdf,
        mime_type="application/pdf",
        kind="snapshot",
        retain_until=view.retention.due_on if view.retention else None,
    )
    session.execute(
        update(Snapshot)
        .where(Snapshot.version_id == version_id, Snapshot.is_current.is_(True))
        .values(is_current=False)
    )
    if missing_glyphs == "read":
        missing_glyphs = (
            pdf.missing_glyphs if isinstance(pdf, SnapshotPDF) else read_missing_glyphs(pdf)
        )
    snapshot = Snapshot(
        version_id=version_id,
        sha256=stored.sha256,
        size=len(pdf),
        renderer_version=RENDERER_VERSION,
        is_current=True,
        created_at=utcnow(),
        missing_glyph_count=None if missing_glyphs is None else len(missing_glyphs),
        missing_glyphs=missing_glyphs,
    )
    session.add(snapshot)
    session.flush()
    record(
        session,
        actor=actor,
        action="snapshot.created",
        object_type="snapshot",
        object_id=snapshot.id,
        details={
            "version_id": version_id,
            "version_number": view.version_number,
            "sha256": sha256,
            "size": len(pdf),
            "renderer_version": RENDERER_VERSION,
            "source_sha256": view.source_sha256,
            "replaces_snapshot_id": current.id if current is not None else None,
            "missing_glyphs": missing_glyphs,
        },
    )
    retain_until = view.retention.due_on if view.retention else None
    settings = settings or get_settings()
    timestamp_object(
        session,
        store=store,
        settings=settings,
        data=pdf,
        kind="snapshot",
        retain_until=retain_until,
    )
    # The version's web archive (browser capture or upload) is evidence beside the PDF: it
    # gets its own timestamp once, when the version's first snapshot is made.
    wacz_sha = session.scalar(
        select(VersionMedia.sha256).where(
            VersionMedia.version_id == version_id, VersionMedia.role == "wacz"
        )
    )
    if wacz_sha and settings.tsa_url and token_of(session, wacz_sha) is None:
        timestamp_object(
            session,
            store=store,
            settings=settings,
            data=store.get(wacz_sha),
            kind="wacz",
            retain_until=retain_until,
        )
    return snapshot


def snapshot_version(
    session: Session,
    *,
    store: ArchiveStore,
    version_id: int,
    settings: Settings | None = None,
    renderer: Renderer | None = None,
    actor: Actor = SYSTEM,
) -> Snapshot:
    """Render a captured version to PDF/A-3b, store it and record it as the current snapshot.

    Renders in the process pool sized by `settings.render_workers` unless a `renderer` is
    given. Calling it again for unchanged input returns the same snapshot.
    """
    view = build_view(session, store=store, version_id=version_id)
    if renderer is None:
        renderer = render_pool((settings or get_settings()).render_workers).render
    try:
        pdf = renderer(view)
    except RenderError as exc:
        raise SnapshotUnavailable(f"version {version_id} could not be rendered: {exc}") from exc
    return record_snapshot(
        session,
        store=store,
        view=view,
        version_id=version_id,
        pdf=pdf,
        actor=actor,
        settings=settings,
    )


def versions_to_render(session: Session, *, outdated_too: bool = True) -> list[int]:
    """Versions with content and no current snapshot (and, with `outdated_too`, those whose
    snapshot was made by another renderer version), oldest first."""
    current = (
        select(Snapshot.version_id, Snapshot.renderer_version)
        .where(Snapshot.is_current.is_(True))
        .subquery()
    )
    condition: ColumnElement[bool] = current.c.version_id.is_(None)
    if outdated_too:
        condition = or_(condition, current.c.renderer_version != RENDERER_VERSION)
    query = (
        select(CapturedVersion.id)
        .outerjoin(current, current.c.version_id == CapturedVersion.id)
        .where(CapturedVersion.normalized.is_not(None), condition)
        .order_by(CapturedVersion.id)
    )
    return list(session.scalars(query))


def versions_missing_glyphs(session: Session) -> list[int]:
    """Versions whose current snapshot could not draw some characters, oldest first (to
    render again once fonts are installed)."""
    return list(
        session.scalars(
            select(Snapshot.version_id)
            .join(CapturedVersion, CapturedVersion.id == Snapshot.version_id)
            .where(
                Snapshot.is_current.is_(True),
                Snapshot.missing_glyph_count > 0,
                CapturedVersion.normalized.is_not(None),
            )
            .order_by(Snapshot.version_id)
        )
    )


def all_renderable_versions(session: Session) -> list[int]:
    """Every version that still has its content (not disposed), oldest first."""
    return list(
        session.scalars(
            select(CapturedVersion.id)
            .where(CapturedVersion.normalized.is_not(None))
            .order_by(CapturedVersion.id)
        )
    )


@dataclass
class RerenderReport:
    rendered: int = 0
    unchanged: int = 0
    failed: list[tuple[int, str]] = field(default_factory=list)


def rerender_versions(
    session: Session,
    *,
    store: ArchiveStore,
    version_ids: Sequence[int],
    render_many: ManyRenderer | None = None,
    actor: Actor = SYSTEM,
    progress: Callable[[int], object] | None = None,
    settings: Settings | None = None,
) -> RerenderReport:
    """New snapshots of these versions from their stored source and media; the old ones stay
    (no longer current). Views render in parallel when `render_many` is a pool's."""
    if render_many is None:
        render_many = _render_here
    report = RerenderReport()
    views: list[tuple[int, SnapshotView]] = []
    for version_id in version_ids:
        try:
            views.append((version_id, build_view(session, store=store, version_id=version_id)))
        except (DomainError, StoreError) as exc:
            message = getattr(exc, "message", str(exc))
            log.error("snapshot of version %s not rendered: %s", version_id, message)
            report.failed.append((version_id, message))
            if progress:
                progress(1)
    started = time.monotonic()
    results = render_many([view for _, view in views])
    if views:
        # Wall time per snapshot of the batch (rendered in parallel in the pool).
        each = (time.monotonic() - started) / len(views)
        for _ in views:
            observe_render(each)
    for (version_id, view), result in zip(views, results, strict=True):
        if isinstance(result, Exception):
            log.error("snapshot of version %s not rendered: %s", version_id, result)
            report.failed.append((version_id, str(result)))
        else:
            before = current_snapshot(session, version_id=version_id)
            snapshot = record_snapshot(
                session,
                store=store,
                view=view,
                version_id=version_id,
                pdf=result,
                actor=actor,
                settings=settings,
            )
            if before is not None and before.id == snapshot.id:
                report.unchanged += 1
            else:
                report.rendered += 1
        if progress:
            progress(1)
    return report


def _render_here(views: Sequence[SnapshotView]) -> list[bytes | Exception]:
    results: list[bytes | Exception] = []
    for view in views:
        try:
            results.append(render_snapshot(view))
        except Exception as exc:
            results.append(RenderError(f"rendering failed: {type(exc).__name__}: {exc}"))
    return results


def rerender_all(
    session: Session,
    *,
    store: ArchiveStore,
    settings: Settings | None = None,
    render_many: ManyRenderer | None = None,
    outdated_only: bool = True,
    actor: Actor = SYSTEM,
) -> RerenderReport:
    """Re-render every version (or only those whose snapshot is missing or outdated) in one
    transaction; `postvault snapshots rerender` does the same in committed batches."""
    if outdated_only:
        ids = versions_to_render(session, outdated_too=True)
    else:
        ids = all_renderable_versions(session)
    if render_many is None:
        render_many = render_pool((settings or get_settings()).render_workers).render_many
    return rerender_versions(
        session,
        store=store,
        version_ids=ids,
        render_many=render_many,
        actor=actor,
        settings=settings,
    )


# --- reading a snapshot -------------------------------------------------------------------


def read_snapshot(
    session: Session,
    *,
    store: ArchiveStore,
    viewer: User,
    post_id: int,
    number: int,
    download: bool = False,
) -> tuple[Snapshot, bytes]:
    """The current snapshot of version `number` of a post the viewer may see, verified
    against its hash, with the view audited."""
    post = get_post(session, viewer=viewer, post_id=post_id)
    version = session.scalar(
        select(CapturedVersion).where(
            CapturedVersion.post_id == post.id, CapturedVersion.number == number
        )
    )
    if version is None:
        raise NotFound(f"post {post_id} has no version {number}")
    snapshot = current_snapshot(session, version_id=version.id)
    if snapshot is None:
        raise NotFound(f"version {number} of post {post_id} has no snapshot yet")
    try:
        data = store.get(snapshot.sha256)
    except FixityError:
        log.error(
            "snapshot %s (%s) of post %s version %s fails its fixity check",
            snapshot.id,
            snapshot.sha256,
            post_id,
            number,
        )
        raise SnapshotUnavailable(
            "the stored snapshot does not match its recorded SHA-256; it is not served and "
            "the damage is logged for the records officers"
        ) from None
    except ObjectMissing:
        log.error("snapshot %s (%s) is missing from the store", snapshot.id, snapshot.sha256)
        raise SnapshotUnavailable(
            "the stored snapshot is missing from the archive; the loss is logged for the "
            "records officers"
        ) from None
    record(
        session,
        actor=Actor.of(viewer),
        action="snapshot.viewed",
        object_type="snapshot",
        object_id=snapshot.id,
        details={
            "post_id": post_id,
            "version_number": number,
            "sha256": snapshot.sha256,
            "disposition": "attachment" if download else "inline",
        },
    )
    return snapshot, data


def read_snapshot_timestamp(
    session: Session, *, store: ArchiveStore, viewer: User, post_id: int, number: int
) -> tuple[Snapshot, TimestampToken, bytes]:
    """The RFC 3161 TimeStampResp of the current snapshot of version `number` (over the
    SHA-256 of exactly the bytes snapshot.pdf serves), verified against its own hash, with
    the view audited."""
    post = get_post(session, viewer=viewer, post_id=post_id)
    version = session.scalar(
        select(CapturedVersion).where(
            CapturedVersion.post_id == post.id, CapturedVersion.number == number
        )
    )
    if version is None:
        raise NotFound(f"post {post_id} has no version {number}")
    snapshot = current_snapshot(session, version_id=version.id)
    if snapshot is None:
        raise NotFound(f"version {number} of post {post_id} has no snapshot yet")
    token = token_of(session, snapshot.sha256)
    if token is None:
        raise NotFound(
            f"the snapshot of version {number} of post {post_id} has no trusted timestamp "
            "(no time-stamping authority was configured when it was made)"
        )
    if token.status != TimestampStatus.stamped or token.token_sha256 is None:
        raise NotFound(
            f"the trusted timestamp of the snapshot of version {number} of post {post_id} is "
            "pending: the time-stamping authority has not given a valid token yet; PostVault "
            "asks again every few minutes"
        )
    try:
        data = store.get(token.token_sha256)
    except (FixityError, ObjectMissing):
        log.error("timestamp token %s of snapshot %s is damaged or missing", token.id, snapshot.id)
        raise SnapshotUnavailable(
            "the stored timestamp token does not match its recorded SHA-256 or is missing; it "
            "is not served and the damage is logged for the records officers"
        ) from None
    record(
        session,
        actor=Actor.of(viewer),
        action="timestamp.viewed",
        object_type="snapshot",
        object_id=snapshot.id,
        details={"post_id": post_id, "version_number": number, "token_sha256": token.token_sha256},
    )
    return snapshot, token, data
