"""The capture path: claim due posts, collect them, keep every distinct version.

Work is claimed in the database, not in a shared scheduler store: a short transaction sets a
lease (owner, expiry) on due posts; HTTP happens with no transaction open; the finish is fenced
on the lease owner, so a worker that lost its lease (killed, or too slow) writes nothing. Each
poll has a unique (post, poll_slot) row, so a poll is written once however workers race.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

import httpx
from sqlalchemy import Table, bindparam, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, joinedload

from app.audit.service import Actor, record
from app.collectors.media import MEDIA_TYPES as MEDIA_TYPES
from app.collectors.media import Downloaded as _Downloaded
from app.collectors.media import download_media as _download_media
from app.collectors.media import known_media as _known_media
from app.collectors.models import CaptureAttempt
from app.collectors.ownership import author_mismatch
from app.collectors.versions_store import (
    _learn_account_id,
    _store_removal,
    _store_versions,
)
from app.config import Settings
from app.db import Database, utcnow
from app.errors import Conflict
from app.observability.metrics import observe_capture
from app.platforms.collected import (
    AccountGone,
    CaptureTarget,
    CollectedPost,
    Collector,
    CollectResult,
    Deleted,
    NotVisible,
    RateLimited,
    TransientFailure,
    Unchanged,
)
from app.platforms.fetcher import Fetcher
from app.posts.models import CapturedVersion, FlaggedPost, PostStatus, VersionKind
from app.storage.base import ArchiveStore

log = logging.getLogger("postvault.capture")

# Capture right after flagging, then at about these offsets, then monthly while the post
# exists: removal dates matter to retention.
POLL_OFFSETS = (
    dt.timedelta(0),
    dt.timedelta(hours=1),
    dt.timedelta(hours=6),
    dt.timedelta(days=1),
    dt.timedelta(days=3),
    dt.timedelta(days=7),
    dt.timedelta(days=30),
)
MONTHLY = dt.timedelta(days=30)


def poll_due_at(
    flagged_at: dt.datetime, polls_done: int, offsets: tuple[dt.timedelta, ...] = POLL_OFFSETS
) -> dt.datetime:
    """When poll number `polls_done` (0-based) of a post flagged at `flagged_at` is due."""
    if polls_done < len(offsets):
        return flagged_at + offsets[polls_done]
    return flagged_at + offsets[-1] + MONTHLY * (polls_done - len(offsets) + 1)


def poll_offsets(platform: str) -> tuple[dt.timedelta, ...]:
    """A platform's own schedule (`poll_offsets` on its descriptor: X polls often while its
    replies can be searched), else POLL_OFFSETS."""
    from app.platforms.registry import registry

    if platform in registry:
        offsets = getattr(registry.get(platform), "poll_offsets", None)
        if offsets:
            return tuple(offsets)
    return POLL_OFFSETS


def failure_backoff(failures: int) -> dt.timedelta:
    """5 min, 10, 20 ... capped at 6 hours: a failing post is retried, never forgotten."""
    delay: dt.timedelta = dt.timedelta(minutes=5) * (2 ** min(max(failures - 1, 0), 10))
    return min(delay, dt.timedelta(hours=6))


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


NewVersionsHook = Callable[[Session, FlaggedPost, list[CapturedVersion], Actor], None]
# (session, post_id, actor): the shape of app.classification.service.LabelChangedHook, named
# here so that collectors need not import classification.
LabelChangedHook = Callable[[Session, int, Actor], None]
RemovedHook = Callable[[Session, FlaggedPost, Actor], None]


class AfterCommitWork(Protocol):
    """What an after-commit step started and goes on doing (snapshots rendering in the pool
    while capture goes on); `wait` returns once it is done, sooner when `stop` is set."""

    @property
    def done(self) -> bool: ...

    def wait(self, stop: threading.Event | None = None) -> None: ...


# Called with the ids of the versions a capture committed; returns None when the step is done,
# or the work it started in the background.
AfterCommitHook = Callable[[list[int]], AfterCommitWork | None]


@dataclass
class CaptureContext:
    """Everything a capture needs, passed in: tests hand in loopback clients and stores."""

    database: Database
    settings: Settings
    store: ArchiveStore
    client: httpx.Client
    collectors: Mapping[str, Collector]
    worker: str = field(default_factory=default_worker_id)
    on_new_versions: list[NewVersionsHook] = field(default_factory=list)
    on_removed: list[RemovedHook] = field(default_factory=list)
    after_commit: list[AfterCommitHook] = field(default_factory=list)
    clock: Callable[[], dt.datetime] = utcnow
    # Set when the process is stopping: a pass claims nothing more (app/lifecycle.py).
    stop: threading.Event = field(default_factory=threading.Event)
    # Called when a post's effective label changes (classification passes them on).
    on_label_changed: list[LabelChangedHook] = field(default_factory=list)
    # Media downloads share the collectors' limiter; None = built from `settings`.
    fetcher: Fetcher | None = None

    @property
    def actor(self) -> Actor:
        return Actor.system(f"collector@{self.worker}")


@dataclass(frozen=True)
class CaptureReport:
    post_id: int
    outcome: (
        str  # new_version | unchanged | removed | not_visible | rate_limited | failed | skipped
    )
    versions_added: list[int] = field(default_factory=list)  # version numbers
    detail: str | None = None
    http_requests: int = 0
    version_ids: list[int] = field(default_factory=list)  # for the after-commit steps


# ---------------------------------------------------------------------------------------------
# Claims


def claim_due(ctx: CaptureContext, *, limit: int) -> list[int]:
    """Lease up to `limit` due posts to this worker; returns their ids."""
    now = ctx.clock()
    expires = now + dt.timedelta(seconds=ctx.settings.capture_lease_seconds)
    with ctx.database.session() as session:
        query = (
            select(FlaggedPost.id)
            .where(
                FlaggedPost.next_poll_at <= now,
                FlaggedPost.status != PostStatus.disposed,
                or_(FlaggedPost.lease_expires_at.is_(None), FlaggedPost.lease_expires_at < now),
            )
            .order_by(FlaggedPost.next_poll_at, FlaggedPost.id)
            .limit(limit)
        )
        if not ctx.database.is_sqlite:
            query = query.with_for_update(skip_locked=True)
        candidates = list(session.scalars(query))
        if not candidates:
            return []
        # The lease condition is repeated in the UPDATE, so even without SKIP LOCKED (SQLite)
        # two claimers cannot both win a post.
        session.execute(
            update(FlaggedPost)
            .where(
                FlaggedPost.id.in_(candidates),
                or_(FlaggedPost.lease_expires_at.is_(None), FlaggedPost.lease_expires_at < now),
            )
            .values(lease_owner=ctx.worker, lease_expires_at=expires)
            .execution_options(synchronize_session=False)
        )
        claimed = session.scalars(
            select(FlaggedPost.id).where(
                FlaggedPost.id.in_(candidates), FlaggedPost.lease_owner == ctx.worker
            )
        )
        return list(claimed)


def claim_one(ctx: CaptureContext, post_id: int) -> bool:
    now = ctx.clock()
    expires = now + dt.timedelta(seconds=ctx.settings.capture_lease_seconds)
    with ctx.database.session() as session:
        result = session.execute(
            update(FlaggedPost)
            .where(
                FlaggedPost.id == post_id,
                or_(FlaggedPost.lease_expires_at.is_(None), FlaggedPost.lease_expires_at < now),
            )
            .values(lease_owner=ctx.worker, lease_expires_at=expires)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0))


# Built once (their compiled form is cached): every capture makes these lookups.
# The post's account comes in the same read (every capture reads it, for the target and for
# the author check); only the post's row is locked.
_POST_FOR_UPDATE = (
    select(FlaggedPost)
    .options(joinedload(FlaggedPost.account, innerjoin=True))
    .where(FlaggedPost.id == bindparam("post_id"))
    .with_for_update(of=FlaggedPost)
)
_ATTEMPT = select(CaptureAttempt).where(
    CaptureAttempt.post_id == bindparam("post_id"), CaptureAttempt.poll_slot == bindparam("slot")
)
_ATTEMPTS = CaptureAttempt.__table__
assert isinstance(_ATTEMPTS, Table)
_NEW_ATTEMPT_SQLITE = sqlite_insert(_ATTEMPTS).on_conflict_do_nothing(
    index_elements=["post_id", "poll_slot"]
)
_NEW_ATTEMPT_POSTGRESQL = postgresql_insert(_ATTEMPTS).on_conflict_do_nothing(
    index_elements=["post_id", "poll_slot"]
)
_LATEST_CAPTURE = (
    select(CapturedVersion)
    .where(
        CapturedVersion.post_id == bindparam("post_id"),
        CapturedVersion.kind.not_in((VersionKind.removal, VersionKind.upload)),
    )
    .order_by(CapturedVersion.number.desc())
    .limit(1)
)
_VERSION_COUNT = (
    select(func.count())
    .select_from(CapturedVersion)
    .where(CapturedVersion.post_id == bindparam("post_id"))
)


def _fenced_post(session: Session, ctx: CaptureContext, post_id: int) -> FlaggedPost | None:
    """The post, locked, if this worker still holds its lease; None if the lease was lost."""
    post = session.scalars(_POST_FOR_UPDATE, {"post_id": post_id}).first()
    if post is None or post.lease_owner != ctx.worker:
        return None
    return post


def _release(post: FlaggedPost) -> None:
    post.lease_owner = None
    post.lease_expires_at = None


# ---------------------------------------------------------------------------------------------
# One capture


def _target(session: Session, post: FlaggedPost) -> CaptureTarget:
    latest = session.scalars(_LATEST_CAPTURE, {"post_id": post.id}).first()
    return CaptureTarget(
        post_id=post.id,
        platform=post.platform,
        external_id=post.external_id,
        url=post.url,
        account_handle=post.account.handle,
        account_platform_id=post.account.platform_account_id,
        account_profile_url=post.account.profile_url,
        access_token=post.account.access_token,
        validators=dict(post.fetch_state or {}),
        previous_platform_version_id=latest.platform_version_id if latest else None,
        previous_edited_at=latest.platform_edited_at if latest else None,
    )


def _start_attempt(session: Session, ctx: CaptureContext, post_id: int, slot: str) -> bool:
    """Record the start of this poll; False when the poll was already completed."""
    existing = _attempt(session, post_id, slot)
    if existing is not None:
        if existing.finished_at is not None:
            return False
        # A worker that died mid-poll left this; its lease expired and the claim is ours now.
        existing.worker = ctx.worker
        existing.started_at = ctx.clock()
        return True
    # One INSERT that yields to a concurrent writer of the same poll ((post, poll_slot) is
    # unique): what a savepoint around an ORM insert did, without the savepoint.
    inserted = session.execute(
        _NEW_ATTEMPT_SQLITE if ctx.database.is_sqlite else _NEW_ATTEMPT_POSTGRESQL,
        {"post_id": post_id, "poll_slot": slot, "worker": ctx.worker, "started_at": ctx.clock()},
    )
    return bool(getattr(inserted, "rowcount", 0))


def capture_post(
    ctx: CaptureContext, post_id: int, *, slot: str | None = None, after_commit: bool = True
) -> CaptureReport:
    """Capture one post this worker has leased. `slot` names the poll (default: the post's
    next scheduled poll); a manual capture passes its own. With `after_commit` False the
    caller runs the after-commit steps (snapshots) itself, for a whole batch at once."""
    with ctx.database.session() as session:
        post = _fenced_post(session, ctx, post_id)
        if post is None:
            return CaptureReport(post_id, "skipped", detail="lease lost before the capture started")
        scheduled = slot is None
        slot = slot or f"scheduled:{post.polls_done}"
        if not _start_attempt(session, ctx, post_id, slot):
            # Already done (a worker finished it and died before moving the schedule on).
            _advance_schedule(post, ctx.clock(), scheduled=True)
            _release(post)
            return CaptureReport(post_id, "skipped", detail=f"poll {slot} was already captured")
        target = _target(session, post)
        known = _known_media(session, post_id)
        collector = ctx.collectors.get(post.platform)
    if collector is None:
        return _finish_failure(
            ctx, post_id, slot, scheduled, f"no collector for platform {target.platform}", 0
        )

    started = time.monotonic()
    try:
        result: CollectResult = collector.collect(target, ctx.client)
    except Exception as exc:  # a collector bug must not stop the other posts
        log.exception("collector %s crashed on post %s", target.platform, post_id)
        result = TransientFailure(error=f"collector error: {type(exc).__name__}: {exc}")

    media = _Downloaded()
    try:
        if isinstance(result, CollectedPost):
            media = _download_media(ctx, result, known)
        observe_capture(target.platform, time.monotonic() - started)
        report = _finish(ctx, post_id, slot, scheduled, result, collector, media)
    finally:
        media.discard_spooled()  # streamed media is in the store now, or not kept at all
    if after_commit:
        run_after_commit(ctx, report.version_ids)
    return report


def run_after_commit(ctx: CaptureContext, version_ids: list[int]) -> None:
    """The steps that follow a committed capture (snapshots), done when this returns; a
    failure is logged, the versions are safe, and the snapshot backfill job tries again."""
    for work in start_after_commit(ctx, version_ids):
        work.wait(ctx.stop)


def start_after_commit(ctx: CaptureContext, version_ids: list[int]) -> list[AfterCommitWork]:
    """Start the steps that follow a committed capture; returns the work still going on (a
    pass waits for it at its end, so capture goes on while the snapshots render)."""
    if not version_ids:
        return []
    started: list[AfterCommitWork] = []
    for after in ctx.after_commit:
        try:
            work = after(version_ids)
        except Exception:
            log.exception("after-capture step failed for versions %s", version_ids)
            continue
        if work is not None:
            started.append(work)
    return started


def _advance_schedule(post: FlaggedPost, now: dt.datetime, *, scheduled: bool) -> None:
    if scheduled:
        post.polls_done += 1
    due = poll_due_at(post.flagged_at, post.polls_done, poll_offsets(post.platform))
    # A post flagged long ago and captured late is not polled in a burst to catch up.
    post.next_poll_at = max(due, now + dt.timedelta(minutes=30)) if post.polls_done else due


def _finish_failure(
    ctx: CaptureContext, post_id: int, slot: str, scheduled: bool, error: str, requests: int
) -> CaptureReport:
    return _finish(
        ctx,
        post_id,
        slot,
        scheduled,
        TransientFailure(error=error, http_requests=requests),
        None,
        _Downloaded(),
    )


def _attempt(session: Session, post_id: int, slot: str) -> CaptureAttempt | None:
    """The run (capture attempt) of this poll."""
    return session.scalars(_ATTEMPT, {"post_id": post_id, "slot": slot}).first()


def _close_attempt(
    session: Session,
    ctx: CaptureContext,
    post_id: int,
    slot: str,
    outcome: str,
    *,
    keep_slot: bool,
    error: str | None = None,
    version_id: int | None = None,
    requests: int = 0,
    attempt: CaptureAttempt | None = None,
) -> None:
    """Record the poll's outcome on its attempt (`attempt` when the caller read it already in
    this transaction)."""
    attempt = attempt or _attempt(session, post_id, slot)
    if attempt is None:
        return
    attempt.finished_at = ctx.clock()
    attempt.outcome = outcome
    attempt.error = error
    attempt.version_id = version_id
    attempt.http_requests = requests
    if not keep_slot:
        # The poll did not happen (rate limit, failure): keep the attempt as history under its
        # own name and leave the slot free for the retry.
        n = session.scalar(
            select(func.count())
            .select_from(CaptureAttempt)
            .where(CaptureAttempt.post_id == post_id)
        )
        attempt.poll_slot = f"{slot}/{outcome}/{n}"


def _finish(
    ctx: CaptureContext,
    post_id: int,
    slot: str,
    scheduled: bool,
    result: CollectResult,
    collector: Collector | None,
    media: _Downloaded,
) -> CaptureReport:
    now = ctx.clock()
    requests = result.http_requests + media.requests
    new_versions: list[CapturedVersion] = []
    with ctx.database.session() as session:
        post = _fenced_post(session, ctx, post_id)
        if post is None:
            return CaptureReport(
                post_id, "skipped", detail="lease lost during the capture; another worker has it"
            )

        if isinstance(result, RateLimited):
            post.next_poll_at = max(result.retry_at, now + dt.timedelta(seconds=5))
            _close_attempt(
                session,
                ctx,
                post_id,
                slot,
                "rate_limited",
                keep_slot=False,
                error=result.reason,
                requests=requests,
            )
            _release(post)
            return CaptureReport(
                post_id,
                "rate_limited",
                detail=f"{result.host} until {result.retry_at.isoformat()}",
                http_requests=requests,
            )

        if isinstance(result, TransientFailure):
            post.failure_count += 1
            post.last_error = result.error
            post.last_error_at = now
            if (
                post.failure_count >= ctx.settings.capture_max_failures
                and post.status != PostStatus.failing
            ):
                post.status = PostStatus.failing
                record(
                    session,
                    actor=ctx.actor,
                    action="capture.failing",
                    object_type="post",
                    object_id=post.id,
                    details={"failures": post.failure_count, "last_error": result.error},
                )
            post.next_poll_at = now + failure_backoff(post.failure_count)
            _close_attempt(
                session,
                ctx,
                post_id,
                slot,
                "failed",
                keep_slot=False,
                error=result.error,
                requests=requests,
            )
            _release(post)
            return CaptureReport(post_id, "failed", detail=result.error, http_requests=requests)

        # The platform answered: the poll counts.
        post.failure_count = 0
        post.last_error = None
        post.last_seen_at = (
            now if not isinstance(result, Deleted | AccountGone) else post.last_seen_at
        )
        outcome = "unchanged"
        detail: str | None = None
        version_id: int | None = None
        attempt = _attempt(session, post_id, slot)
        run_id = attempt.id if attempt else None  # provenance of every version it makes

        mismatch = (
            author_mismatch(post.account, result) if isinstance(result, CollectedPost) else None
        )
        if isinstance(result, CollectedPost) and mismatch is None:
            assert collector is not None
            added = _store_versions(session, ctx, post, result, collector, media, run_id=run_id)
            # Counted before the post's own columns change below (the count does not depend
            # on them): those changes then go in one flush with the status.
            count = session.scalar(_VERSION_COUNT, {"post_id": post.id}) or 0
            _learn_account_id(session, ctx, post, result)
            if result.validators:
                post.fetch_state = dict(result.validators)
            post.last_captured_at = now
            post.first_captured_at = post.first_captured_at or now
            if post.removed_at is not None:
                record(
                    session,
                    actor=ctx.actor,
                    action="capture.reappeared",
                    object_type="post",
                    object_id=post.id,
                    details={"removed_at": post.removed_at},
                )
                post.removed_at = None
            if count:
                post.status = PostStatus.edited if count > 1 else PostStatus.captured
            else:  # never `captured` with nothing archived
                outcome, detail = "not_captured", "the capture stored no version"
                _nothing_archived(session, ctx, post, now, "capture.nothing_archived", detail)
            if added:
                outcome = "new_version"
                new_versions = added
                version_id = added[-1].id
                for hook in ctx.on_new_versions:
                    hook(session, post, added, ctx.actor)
        elif isinstance(result, CollectedPost):
            outcome = "author_mismatch"
            detail = mismatch
            _nothing_archived(session, ctx, post, now, "capture.author_mismatch", detail)
        elif isinstance(result, Unchanged) and not _has_versions(session, post.id):
            # "Unchanged" with nothing archived is not a capture: never `captured` with zero
            # versions (a feed entry no longer in the feed, whose page still answers).
            outcome = "not_captured"
            detail = result.reason or "the platform answered but gave nothing to archive"
            _nothing_archived(session, ctx, post, now, "capture.nothing_archived", detail)
        elif isinstance(result, Unchanged):
            post.last_captured_at = now
            if post.status in (PostStatus.waiting, PostStatus.failing, PostStatus.unavailable):
                post.status = PostStatus.captured
        elif isinstance(result, Deleted | AccountGone):
            outcome = "removed"
            detail = result.reason
            if post.removed_at is None:
                removal = _store_removal(session, ctx, post, result, collector, run_id=run_id)
                new_versions = [removal] if removal else []
                version_id = removal.id if removal else None
                post.removed_at = now
                post.status = PostStatus.removed
                record(
                    session,
                    actor=ctx.actor,
                    action="capture.removed",
                    object_type="post",
                    object_id=post.id,
                    details={"kind": result.kind, "reason": result.reason},
                )
                for removed_hook in ctx.on_removed:
                    removed_hook(session, post, ctx.actor)
        elif isinstance(result, NotVisible):
            outcome = "not_visible"
            detail = result.reason
            post.last_error = result.reason
            post.last_error_at = now
            wanted = PostStatus.reconnect_needed if result.reconnect else PostStatus.unavailable
            if result.reconnect:
                from app.connections.service import grant_lapsed

                grant_lapsed(session, post.account, result.reason, actor=ctx.actor)
            if post.status != wanted:
                post.status = wanted
                record(
                    session,
                    actor=ctx.actor,
                    action="capture.reconnect_needed"
                    if result.reconnect
                    else "capture.not_visible",
                    object_type="post",
                    object_id=post.id,
                    details={"reason": result.reason},
                )

        _close_attempt(
            session,
            ctx,
            post_id,
            slot,
            outcome,
            keep_slot=True,
            error=detail,
            version_id=version_id,
            requests=requests,
            attempt=attempt,
        )
        _advance_schedule(post, now, scheduled=scheduled)
        _release(post)
        numbers = sorted(v.number for v in new_versions)
        new_version_ids = [v.id for v in new_versions]
    return CaptureReport(post_id, outcome, numbers, detail, requests, new_version_ids)


def _has_versions(session: Session, post_id: int) -> bool:
    return (
        session.scalar(select(CapturedVersion.id).where(CapturedVersion.post_id == post_id))
        is not None
    )


def _nothing_archived(
    session: Session,
    ctx: CaptureContext,
    post: FlaggedPost,
    now: dt.datetime,
    action: str,
    reason: str | None,
) -> None:
    """The poll happened and archived nothing: the post shows why (officers and its owner
    see the reason on the post) and the audit log records the outcome."""
    post.last_error = reason
    post.last_error_at = now
    if post.status in (PostStatus.captured, PostStatus.edited) and not _has_versions(
        session, post.id
    ):
        post.status = PostStatus.unavailable
    if post.status in (PostStatus.waiting, PostStatus.failing):
        post.status = PostStatus.unavailable
    record(
        session,
        actor=ctx.actor,
        action=action,
        object_type="post",
        object_id=post.id,
        details={"reason": reason},
    )


# ---------------------------------------------------------------------------------------------
# Passes and manual captures


@dataclass
class PassSummary:
    claimed: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    http_requests: int = 0

    def add(self, report: CaptureReport) -> None:
        self.outcomes[report.outcome] = self.outcomes.get(report.outcome, 0) + 1
        self.http_requests += report.http_requests


def run_due(
    ctx: CaptureContext,
    *,
    max_posts: int | None = None,
    on_progress: Callable[[CaptureReport], None] | None = None,
) -> PassSummary:
    """Claim and capture due posts in batches until none are due (or `max_posts` done)."""
    summary = PassSummary()
    in_flight: list[AfterCommitWork] = []
    while (max_posts is None or summary.claimed < max_posts) and not ctx.stop.is_set():
        batch = ctx.settings.capture_batch_size
        if max_posts is not None:
            batch = min(batch, max_posts - summary.claimed)
        ids = claim_due(ctx, limit=batch)
        if not ids:
            break
        summary.claimed += len(ids)
        for post_id in ids:
            if ctx.stop.is_set():
                break  # the posts claimed and not started return to the pool with their lease
            report = capture_post(ctx, post_id, after_commit=False)
            # Each capture's snapshots start as soon as it committed and render in the pool
            # while the next posts are fetched. When stopping, the snapshot backfill of the
            # next start makes them instead.
            if not ctx.stop.is_set():
                in_flight = [w for w in in_flight if not w.done]
                in_flight += start_after_commit(ctx, report.version_ids)
            summary.add(report)
            if on_progress is not None:
                on_progress(report)
    # The pass ends when its snapshots are made (or, when stopping, those already rendering).
    for work in in_flight:
        work.wait(ctx.stop)
    return summary


def count_due(database: Database, now: dt.datetime) -> int:
    with database.session() as session:
        return (
            session.scalar(
                select(func.count())
                .select_from(FlaggedPost)
                .where(FlaggedPost.next_poll_at <= now, FlaggedPost.status != PostStatus.disposed)
            )
            or 0
        )


def capture_now(ctx: CaptureContext, post_id: int) -> CaptureReport:
    """Capture a post at once, outside its schedule (the caller checked who may)."""
    if not claim_one(ctx, post_id):
        raise Conflict(f"post {post_id} is being captured right now; try again in a moment")
    return capture_post(ctx, post_id, slot=f"manual:{ctx.clock().isoformat()}")


def list_versions(session: Session, *, post: FlaggedPost) -> list[CapturedVersion]:
    return list(
        session.scalars(
            select(CapturedVersion)
            .where(CapturedVersion.post_id == post.id)
            .order_by(CapturedVersion.number)
        )
    )
