"""Storing what a capture found: new numbered versions (the platform's own edit history
included), the removal version, and their audit events."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from app.audit.service import record
from app.collectors.media import Downloaded as _Downloaded
from app.collectors.media import walk_media as _walk_media
from app.collectors.versioning import content_hash, describe_change, source_bytes
from app.platforms.collected import (
    AccountGone,
    CollectedPost,
    Collector,
    Deleted,
)
from app.posts.models import CapturedVersion, FlaggedPost, VersionKind, VersionMedia
from app.storage.service import put_object, put_object_file

if TYPE_CHECKING:
    from app.collectors.service import CaptureContext


# Built once (its compiled form is cached): every capture reads it.
_VERSIONS_IN_ORDER = (
    select(CapturedVersion)
    .where(CapturedVersion.post_id == bindparam("post_id"))
    .order_by(CapturedVersion.number)
)


def _learn_account_id(
    session: Session, ctx: CaptureContext, post: FlaggedPost, result: CollectedPost
) -> None:
    """Keep the platform's stable id of the account (a Bluesky DID survives handle changes)."""
    account = post.account
    found = result.author.platform_id
    if found and account.platform_account_id is None and result.repost_of is None:
        account.platform_account_id = found
        record(
            session,
            actor=ctx.actor,
            action="account.identified",
            object_type="social_account",
            object_id=account.id,
            details={"platform_account_id": found},
        )


def _history_key(capture: CollectedPost) -> dt.datetime | None:
    return capture.edited_at or capture.created_at


def _store_versions(
    session: Session,
    ctx: CaptureContext,
    post: FlaggedPost,
    result: CollectedPost,
    collector: Collector,
    media: _Downloaded,
    *,
    run_id: int | None = None,
) -> list[CapturedVersion]:
    existing = list(session.scalars(_VERSIONS_IN_ORDER, {"post_id": post.id}))
    # Uploaded evidence stands beside the captures: a capture is compared with the last
    # capture, so an upload in between does not make the same content a new version.
    captured = [v for v in existing if v.kind != VersionKind.upload]
    latest_content = next((v for v in reversed(captured) if v.kind != VersionKind.removal), None)
    current_hash = content_hash(result)
    if (
        latest_content is not None
        and latest_content.content_hash == current_hash
        and captured[-1].kind != VersionKind.removal
    ):
        return []

    added: list[CapturedVersion] = []
    # Mastodon serves its own edit history: keep each earlier state the archive does not hold.
    seen_keys = {v.platform_edited_at or v.platform_created_at for v in existing}
    current_key = _history_key(result)
    for earlier in result.history:
        key = _history_key(earlier)
        if key is None or key in seen_keys or key == current_key:
            continue
        seen_keys.add(key)
        added.append(
            _add_version(
                session,
                ctx,
                post,
                earlier,
                collector,
                media,
                VersionKind.history,
                existing + added,
                run_id=run_id,
            )
        )
    added.append(
        _add_version(
            session,
            ctx,
            post,
            result,
            collector,
            media,
            VersionKind.capture,
            existing + added,
            run_id=run_id,
        )
    )
    return added


def _previous_capture(versions: list[CapturedVersion]) -> CollectedPost | None:
    for version in reversed(versions):
        if (
            version.kind not in (VersionKind.removal, VersionKind.upload)
            and version.normalized is not None
        ):
            return CollectedPost.model_validate(version.normalized)
    return None


def _add_version(
    session: Session,
    ctx: CaptureContext,
    post: FlaggedPost,
    capture: CollectedPost,
    collector: Collector,
    media: _Downloaded,
    kind: VersionKind,
    before: list[CapturedVersion],
    *,
    run_id: int | None = None,
) -> CapturedVersion:
    source = source_bytes(capture.source)
    version = CapturedVersion(
        post_id=post.id,
        number=(before[-1].number + 1) if before else 1,
        kind=kind,
        captured_at=ctx.clock(),
        content_hash=content_hash(capture),
        source_sha256=hashlib.sha256(source).hexdigest(),
        source_json=source.decode("utf-8"),
        normalized=capture.model_dump(mode="json", exclude={"history", "validators"}),
        text=capture.text if not capture.title else f"{capture.title}\n\n{capture.text}",
        author_handle=capture.author.handle,
        author_name=capture.author.display_name,
        platform_created_at=capture.created_at,
        platform_edited_at=capture.edited_at,
        platform_version_id=capture.platform_version_id,
        replies_captured=capture.replies_captured,
        collector=collector.platform,
        collector_version=collector.version,
        diff_from_previous=describe_change(_previous_capture(before), capture),
        capture_run_id=run_id,
    )
    session.add(version)
    session.flush()
    position = 0
    seen: set[tuple[str, str]] = set()
    # The rows are added once every file is recorded: one flush for all of them, not one per
    # file (recording a file reads the database, which would flush the rows added so far).
    links: list[VersionMedia] = []
    for ref in _walk_media(capture):
        sha = ref.sha256 or media.by_url.get(ref.url)
        if not sha or (sha, ref.role) in seen:
            continue
        seen.add((sha, ref.role))
        data = media.data.get(sha)
        if data is not None:
            put_object(session, ctx.store, data, mime_type=media.types[sha], kind="media")
        elif sha in media.spooled:
            put_object_file(
                session, ctx.store, media.spooled[sha], mime_type=media.types[sha], kind="media"
            )
        elif not ctx.store.exists(sha):
            continue  # known from an earlier version but no longer stored: do not link a ghost
        links.append(
            VersionMedia(
                version_id=version.id,
                position=position,
                sha256=sha,
                role=ref.role,
                source_url=ref.url,
                alt_text=ref.alt_text,
            )
        )
        position += 1
    archived: dict[str, str] = {}
    for held in capture.files:  # a browser capture's WACZ and screenshot
        if held.role == "media" or (held.sha256, held.role) in seen:
            continue
        seen.add((held.sha256, held.role))
        put_object(session, ctx.store, held.data, mime_type=held.mime_type, kind=held.role)
        links.append(
            VersionMedia(
                version_id=version.id, position=position, sha256=held.sha256, role=held.role
            )
        )
        archived[held.role] = held.sha256
        position += 1
    session.add_all(links)
    _audit_version(
        session,
        ctx,
        version,
        collector=f"{collector.platform}/{collector.version}",
        **({"archived_files": archived} if archived else {}),
        media_files=len(seen),
        media_errors=capture.extra.get("media_errors", []),
    )
    return version


def _store_removal(
    session: Session,
    ctx: CaptureContext,
    post: FlaggedPost,
    result: Deleted | AccountGone,
    collector: Collector | None,
    *,
    run_id: int | None = None,
) -> CapturedVersion | None:
    existing = list(
        session.scalars(
            select(CapturedVersion)
            .where(CapturedVersion.post_id == post.id)
            .order_by(CapturedVersion.number)
        )
    )
    source_doc: dict[str, Any] = {
        "outcome": result.kind,
        "reason": result.reason,
        "responses": result.source,
    }
    source = source_bytes(source_doc)
    last = _previous_capture(existing)
    version = CapturedVersion(
        post_id=post.id,
        number=(existing[-1].number + 1) if existing else 1,
        kind=VersionKind.removal,
        captured_at=ctx.clock(),
        content_hash=hashlib.sha256(source).hexdigest(),
        source_sha256=hashlib.sha256(source).hexdigest(),
        source_json=source.decode("utf-8"),
        normalized={"kind": result.kind, "reason": result.reason},
        text=None,
        author_handle=last.author.handle if last else None,
        author_name=last.author.display_name if last else None,
        replies_captured=False,
        collector=collector.platform if collector else post.platform,
        collector_version=collector.version if collector else "",
        diff_from_previous=f"the post is gone: {result.reason}",
        capture_run_id=run_id,
    )
    session.add(version)
    _audit_version(session, ctx, version)
    return version


def _audit_version(
    session: Session, ctx: CaptureContext, version: CapturedVersion, **details: Any
) -> None:
    """Every new version is an audited change of state, with the hashes that identify it."""
    session.flush()
    record(
        session,
        actor=ctx.actor,
        action="capture.version_added",
        object_type="post",
        object_id=version.post_id,
        details={
            "version": version.number,
            "kind": version.kind,
            "content_hash": version.content_hash,
            "source_sha256": version.source_sha256,
            "capture_run_id": version.capture_run_id,
            **details,
        },
    )
