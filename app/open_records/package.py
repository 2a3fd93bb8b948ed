"""The response package: a ZIP holding one BagIt bag (RFC 8493) with a PDF per released item
(redacted where redacted), one combined PDF stamped with the request number and a running page
number, manifests with the hash of each archived and each released file, the request's audit
log, and a letter to the requester with the reasons and the review rights of 19.35(4)(b)."""

from __future__ import annotations

import datetime as dt
import logging
import tempfile
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from app import leases
from app.audit.service import Actor, record
from app.auth.models import User
from app.config import get_settings
from app.db import Database, utcnow
from app.errors import Conflict, NotFound
from app.leases import new_owner
from app.open_records.bag import Elsewhere, ReleasedFile, Releasing, file_sha256, write_bag
from app.open_records.letters import LetterDocument, ReleasedRow, response_letter_document
from app.open_records.models import (
    PackageStatus,
    Redaction,
    RequestItem,
    RequestStatus,
    ResponsePackage,
)
from app.open_records.package_media import kept_media
from app.open_records.redaction import (
    archived_snapshot_sha256,
    post_of,
    redacted_copy_view,
    release_copy,
    secrets_of,
    withheld_originals,
)
from app.open_records.release_check import needles_of
from app.open_records.requests import get_request, list_items, redactions_of
from app.open_records.separation import Scrubber
from app.posts.models import CapturedVersion, FlaggedPost
from app.snapshots.render import render_snapshot
from app.snapshots.schemas import SnapshotView
from app.snapshots.service import snapshot_version
from app.storage.base import ArchiveStore
from app.storage.local import LocalStore
from app.storage.models import StoredObject
from app.timestamps.service import token_of

# Renders views in parallel (a render pool's render_many): each result is a PDF or an error.
ManyRenderer = Callable[[Sequence[SnapshotView]], Sequence[bytes | Exception]]

log = logging.getLogger("postvault.open_records")

Progress = Callable[[int, int], None]

_T = TypeVar("_T")
_R = TypeVar("_R")


def _wacz_of(session: Session, version_id: int) -> tuple[str | None, int]:
    from app.posts.models import VersionMedia

    sha = session.scalar(
        select(VersionMedia.sha256).where(
            VersionMedia.version_id == version_id, VersionMedia.role == "wacz"
        )
    )
    return sha, (_size_of(session, sha) if sha else 0)


def _size_of(session: Session, sha256: str) -> int:
    size = session.scalar(select(StoredObject.size).where(StoredObject.sha256 == sha256))
    if size is None:
        raise NotFound(f"object {sha256} is not recorded in the store")
    return int(size)


ACTIVE_STATUSES = (PackageStatus.queued, PackageStatus.running)
# A package whose process died this many times is marked failed, not resumed again (a package
# that kills its process every time must not take the next one down with it).
MAX_ATTEMPTS = 3
RECOVERY_ACTOR = Actor.system("open_records.package_recovery")


class _Interrupted(Exception):
    """The run stops part-way: its lease was lost, or the process is shutting down."""


def _stale(now: dt.datetime, lease_seconds: float) -> ColumnElement[bool]:
    """A queued or running package nobody is making: its lease ran out or was let go, or it
    was queued longer than a lease and never started (the process that queued it died)."""
    column = ResponsePackage.lease_expires_at
    return and_(
        ResponsePackage.status.in_(ACTIVE_STATUSES),
        or_(
            column < now,
            and_(
                column.is_(None),
                or_(
                    ResponsePackage.status == PackageStatus.running,
                    ResponsePackage.created_at < now - dt.timedelta(seconds=lease_seconds),
                ),
            ),
        ),
    )


def _fail(
    session: Session, package: ResponsePackage, *, error: str, actor: Actor, now: dt.datetime
) -> None:
    package.status = PackageStatus.failed
    package.error = error
    package.finished_at = now
    package.lease_owner = None
    package.lease_expires_at = None
    record(
        session,
        actor=actor,
        action="request.package_failed",
        object_type="records_request",
        object_id=package.request_id,
        details={"package_id": package.id, "error": error, "attempts": package.attempts},
    )


def start_package(
    session: Session,
    *,
    officer: User,
    request_id: int,
    lease_seconds: float = 120,
    now: dt.datetime | None = None,
) -> ResponsePackage:
    now = now or utcnow()
    request = get_request(session, request_id)
    items = list_items(session, request_id=request_id, include_removed=False)
    if not items and request.status != RequestStatus.denied:
        raise Conflict(f"request {request.number} has nothing in its responsive set to package")
    running = session.scalar(
        select(ResponsePackage)
        .where(
            ResponsePackage.request_id == request_id,
            ResponsePackage.status.in_(ACTIVE_STATUSES),
        )
        .with_for_update()
    )
    if running is not None:
        if session.scalar(
            select(ResponsePackage.id).where(
                ResponsePackage.id == running.id, _stale(now, lease_seconds)
            )
        ):
            # Its process died and nobody resumed it yet: the officer asked for a new one.
            _fail(
                session,
                running,
                error="the process making it stopped; a new package was started instead",
                actor=Actor.of(officer),
                now=now,
            )
        else:
            raise Conflict(f"package {running.id} of request {request.number} is still being made")
    package = ResponsePackage(
        request_id=request_id,
        status=PackageStatus.queued,
        progress=0,
        total=len(items),
        created_by_id=officer.id,
        created_at=now,
    )
    session.add(package)
    session.flush()
    record(
        session,
        actor=Actor.of(officer),
        action="request.package_started",
        object_type="records_request",
        object_id=request_id,
        details={"package_id": package.id, "items": len(items)},
    )
    return package


def get_package(session: Session, *, request_id: int, package_id: int) -> ResponsePackage:
    package = session.get(ResponsePackage, package_id)
    if package is None or package.request_id != request_id:
        raise NotFound(f"no package {package_id} for request {request_id}")
    return package


def release_item(
    session: Session,
    *,
    store: ArchiveStore,
    request_number: str,
    item: RequestItem,
    position: int,
    actor: Actor,
    renderer: Callable[[SnapshotView], bytes] | None = None,
) -> ReleasedFile:
    """The file released for one item: its archived snapshot (made now if missing), or its
    redacted copy (made and checked now if missing)."""
    version = session.get(CapturedVersion, item.version_id)
    assert version is not None  # foreign key
    archived = archived_snapshot_sha256(session, version.id)
    if archived is None:
        archived = snapshot_version(session, store=store, version_id=version.id, actor=actor).sha256
    redactions = redactions_of(session, item.id)
    if redactions:
        released_sha = item.redacted_sha256 or release_copy(
            session,
            store=store,
            item=item,
            request_number=request_number,
            actor=actor,
            renderer=renderer or render_snapshot,
        )
    else:
        released_sha = archived
    token = token_of(session, archived)
    token_bytes, token_time = None, ""
    if token is not None and token.token_sha256 is not None and token.gen_time is not None:
        token_bytes = store.get(token.token_sha256)  # verified against its hash on read
        token_time = token.gen_time.isoformat()
    wacz_sha, wacz_size = (None, 0) if redactions else _wacz_of(session, version.id)
    return ReleasedFile(
        item_id=item.id,
        version_id=version.id,
        post_id=version.post_id,
        version_number=version.number,
        platform=version.post.platform,
        url=version.post.url,
        captured_at=version.captured_at,
        source_sha256=version.source_sha256,
        name=file_name(position, version.post_id, version.number, redacted=bool(redactions)),
        # The bytes stay in the store: they are read (and verified against this hash) when
        # the bag is written.
        released_sha256=released_sha,
        size=_size_of(session, released_sha),
        archived_sha256=archived,
        redacted=bool(redactions),
        reasons=_reasons(redactions),
        timestamp_status=token.status if token is not None else "none",
        timestamp_time=token_time,
        timestamp_token=token_bytes,
        wacz_sha256=wacz_sha,
        wacz_size=wacz_size,
        secrets=tuple(secrets_of(post_of(version), version.text or "", redactions)),
        originals=frozenset(withheld_originals(redactions)),
        media=() if redactions else kept_media(session, version.id),
    )


def _render_redacted(
    database: Database,
    store: ArchiveStore,
    *,
    item_ids: Sequence[int],
    request_number: str,
    render_many: ManyRenderer | None,
) -> dict[int, bytes | Exception]:
    """The redacted copies still to be made, rendered together in the pool (in parallel); each
    is checked for leaks and stored as its item is released, exactly as one made alone."""
    views: dict[int, SnapshotView] = {}
    with database.session() as session:
        for item_id in item_ids:
            item = session.get(RequestItem, item_id)
            assert item is not None
            if item.redacted_sha256 is None and redactions_of(session, item.id):
                views[item_id] = redacted_copy_view(
                    session, store=store, item=item, request_number=request_number
                )
    if not views:
        return {}  # no render pool is started for a package without new redactions
    if render_many is None:
        from app.snapshots.pool import render_pool

        render_many = render_pool(get_settings().render_workers).render_many
    return dict(zip(views, render_many(list(views.values())), strict=True))


@dataclass(frozen=True)
class _Plan:
    """What the package will hold, read before its items are released: what its leak check
    looks for (the redacted strings, normalised as write_bag's check reads them, and the
    withheld or blacked-out originals) and its letter's document, so that the checks and the
    letter can start in the render workers while the items are released. write_bag makes
    both again from the released files and does not use these if they differ."""

    needles: dict[str, str]
    originals: frozenset[str]
    letter_document: LetterDocument


def _plan(session: Session, request_id: int, item_ids: Sequence[int]) -> _Plan:
    wanted = set(item_ids)
    by_item: dict[int, list[Redaction]] = {}
    for redaction in session.scalars(
        select(Redaction)
        .join(RequestItem, RequestItem.id == Redaction.item_id)
        .where(RequestItem.request_id == request_id)
        .order_by(Redaction.item_id, Redaction.id)
    ):
        if redaction.item_id in wanted:
            by_item.setdefault(redaction.item_id, []).append(redaction)
    versions = {
        item_id: (post_id, number, url)
        for item_id, post_id, number, url in session.execute(
            select(RequestItem.id, CapturedVersion.post_id, CapturedVersion.number, FlaggedPost.url)
            .join(CapturedVersion, CapturedVersion.id == RequestItem.version_id)
            .join(FlaggedPost, FlaggedPost.id == CapturedVersion.post_id)
            .where(RequestItem.request_id == request_id)
        )
        if item_id in wanted
    }
    pairs: list[tuple[str, str]] = []
    originals: set[str] = set()
    rows: list[ReleasedRow] = []
    for position, item_id in enumerate(item_ids, start=1):  # the order write_bag reads them
        redactions = by_item.get(item_id, [])
        post_id, number, url = versions[item_id]
        if redactions:
            item = session.get(RequestItem, item_id)
            assert item is not None
            version = session.get(CapturedVersion, item.version_id)
            assert version is not None  # foreign key
            pairs.extend(secrets_of(post_of(version), version.text or "", redactions))
            originals |= withheld_originals(redactions)
        rows.append(
            ReleasedRow(
                file_name(position, post_id, number, redacted=bool(redactions)),
                url,
                number,
                _reasons(redactions),
                bool(redactions),
            )
        )
    scrub = Scrubber(pairs)
    document = response_letter_document(get_request(session, request_id), rows, scrub)
    return _Plan(needles_of(scrub.secrets), frozenset(originals), document)


def file_name(position: int, post_id: int, version_number: int, *, redacted: bool) -> str:
    """The name of an item's released PDF in the bag."""
    suffix = "-redacted" if redacted else ""
    return f"item-{position:04d}-post-{post_id}-v{version_number}{suffix}.pdf"


def _reasons(redactions: Sequence[Redaction]) -> tuple[str, ...]:
    return tuple(sorted({r.exemption for r in redactions}))


def _prerendered(pdf: bytes | Exception) -> Callable[[SnapshotView], bytes]:
    def renderer(_view: SnapshotView) -> bytes:
        if isinstance(pdf, Exception):
            raise pdf
        return pdf

    return renderer


def _in_render_pool(fn: Callable[[_T], _R], argument: _T) -> Future[_R]:
    from app.snapshots.pool import render_pool

    return render_pool(get_settings().render_workers).submit(fn, argument)


def _bag_path(store: ArchiveStore) -> Path:
    if isinstance(store, LocalStore):
        return store.temporary_path("package.")
    handle = tempfile.NamedTemporaryFile(prefix="postvault-package.", suffix=".zip", delete=False)
    handle.close()
    return Path(handle.name)


def run_package(
    database: Database,
    store: ArchiveStore,
    *,
    package_id: int,
    actor: Actor,
    progress: Progress | None = None,
    lease_seconds: float = 120,
    stop: threading.Event | None = None,
    clock: Callable[[], dt.datetime] = utcnow,
    render_many: ManyRenderer | None = None,
    render_elsewhere: Elsewhere | None = None,
) -> ResponsePackage:
    """Make the package (the background job): progress is saved as items are prepared.

    The redacted copies still to be made render together in the render pool (`render_many`,
    by default the pool sized by the render_workers setting); the archived PDFs are merged
    as they are, and the ZIP is written to a file in the store's temporary folder and linked
    into place, not built in memory.

    The run holds the package's lease and renews it from a heartbeat; a package another run
    holds is left to it. A run stopped part-way (shutdown, lost lease) leaves the package
    `running` with its lease let go or running out, and the recovery job resumes it: items
    already prepared are read back, not made again.
    """
    from app.storage.service import put_finished_file

    owner = new_owner()
    with database.session() as session:
        package = session.get(ResponsePackage, package_id)
        if package is None:
            raise NotFound(f"no package {package_id}")
        if package.status in (PackageStatus.done, PackageStatus.failed):
            return package
        won = leases.claim(
            session,
            ResponsePackage,
            package_id,
            owner=owner,
            statuses=ACTIVE_STATUSES,
            lease_seconds=lease_seconds,
            now=clock(),
            values={"status": PackageStatus.running, "attempts": ResponsePackage.attempts + 1},
        )
    if not won:
        log.info("package %s is being made by another run", package_id)
        with database.session() as session:
            current = session.get(ResponsePackage, package_id)
            assert current is not None
            return current

    def fenced(session: Session) -> ResponsePackage:
        """The package, if this run still holds it and is not told to stop."""
        if stop is not None and stop.is_set():
            raise _Interrupted("the process is shutting down")
        if beat.lost.is_set() or not leases.holds(session, ResponsePackage, package_id, owner):
            raise _Interrupted("the lease was lost to another run")
        package = session.get(ResponsePackage, package_id)
        assert package is not None
        return package

    with leases.Heartbeat(
        database, ResponsePackage, package_id, owner=owner, seconds=lease_seconds
    ) as beat:
        try:
            with database.session() as session:
                package = fenced(session)
                request = get_request(session, package.request_id)
                request_id, number = request.id, request.number
                item_ids = [
                    i.id for i in list_items(session, request_id=request_id, include_removed=False)
                ]
                package.total = len(item_ids)
            rendered = _render_redacted(
                database, store, item_ids=item_ids, request_number=number, render_many=render_many
            )
            elsewhere = render_elsewhere or _in_render_pool
            with database.session() as session:
                plan = _plan(session, request_id, item_ids)
            bag = _bag_path(store)
            released = Releasing(
                store,
                bag,
                needles=plan.needles,
                originals=plan.originals,
                render_elsewhere=elsewhere,
                letter_document=plan.letter_document,
            )
            try:
                files: list[ReleasedFile] = []
                # One short transaction per item, its progress saved with it: the job never
                # holds the database for the whole package, and a reader sees it advance.
                for position, item_id in enumerate(item_ids, start=1):
                    with database.session() as session:
                        running = fenced(session)
                        item = session.get(RequestItem, item_id)
                        assert item is not None
                        files.append(
                            release_item(
                                session,
                                store=store,
                                request_number=number,
                                item=item,
                                position=position,
                                actor=actor,
                                renderer=(
                                    _prerendered(rendered.pop(item_id))
                                    if item_id in rendered
                                    else None
                                ),
                            )
                        )
                        running.progress = position
                    # Checked (in the render workers) and merged while the next is prepared.
                    released.add(files[-1])
                    if progress is not None:
                        progress(position, len(item_ids))
                with database.session() as session:
                    package = fenced(session)
                    request = get_request(session, request_id)
                    write_bag(
                        session,
                        store=store,
                        request=request,
                        files=files,
                        out=bag,
                        render_elsewhere=elsewhere,
                        released=released,
                    )
                    size, sha256 = bag.stat().st_size, file_sha256(bag)
                    obj = put_finished_file(
                        session,
                        store,
                        bag,
                        sha256=sha256,
                        mime_type="application/zip",
                        kind="package",
                    )
                    package = fenced(session)
                    package.sha256 = obj.sha256
                    package.status = PackageStatus.done
                    package.finished_at = clock()
                    package.lease_owner = None
                    package.lease_expires_at = None
                    record(
                        session,
                        actor=actor,
                        action="request.packaged",
                        object_type="records_request",
                        object_id=request.id,
                        details={
                            "package_id": package.id,
                            "sha256": obj.sha256,
                            "bytes": size,
                            "items": package.total,
                        },
                    )
            finally:
                released.close()
                bag.unlink(missing_ok=True)
        except _Interrupted as why:
            log.warning("package %s stopped part-way (%s); it will be resumed", package_id, why)
            leases.let_go(database, ResponsePackage, package_id, owner=owner)
        except Exception as exc:
            log.exception("package %s failed", package_id)
            with database.session() as session:
                if leases.holds(session, ResponsePackage, package_id, owner):
                    failed = session.get(ResponsePackage, package_id)
                    assert failed is not None
                    _fail(
                        session,
                        failed,
                        error=f"{type(exc).__name__}: {exc}",
                        actor=actor,
                        now=clock(),
                    )
    with database.session() as session:
        done = session.get(ResponsePackage, package_id)
        assert done is not None
        return done


def recover_packages(
    database: Database,
    store: ArchiveStore,
    *,
    lease_seconds: float = 120,
    stop: threading.Event | None = None,
    clock: Callable[[], dt.datetime] = utcnow,
) -> list[int]:
    """Find packages left queued or running by a process that died, and resume them (or mark
    them failed after MAX_ATTEMPTS runs). Returns the ids resumed. Run at start-up and
    periodically; safe to run in several processes at once (the claim decides)."""
    now = clock()
    resume: list[int] = []
    with database.session() as session:
        for package in session.scalars(
            select(ResponsePackage)
            .where(_stale(now, lease_seconds))
            .order_by(ResponsePackage.id)
            .with_for_update(skip_locked=True)
        ):
            if package.attempts >= MAX_ATTEMPTS:
                _fail(
                    session,
                    package,
                    error=f"the process making it stopped {package.attempts} times; "
                    "start a new package",
                    actor=RECOVERY_ACTOR,
                    now=now,
                )
                continue
            resume.append(package.id)
            record(
                session,
                actor=RECOVERY_ACTOR,
                action="request.package_resumed",
                object_type="records_request",
                object_id=package.request_id,
                details={
                    "package_id": package.id,
                    "was": package.status,
                    "progress": package.progress,
                    "previous_owner": package.lease_owner,
                },
            )
    for package_id in resume:
        if stop is not None and stop.is_set():
            break
        run_package(
            database,
            store,
            package_id=package_id,
            actor=RECOVERY_ACTOR,
            lease_seconds=lease_seconds,
            stop=stop,
            clock=clock,
        )
    return resume


def download(
    session: Session, *, store: ArchiveStore, officer: User, request_id: int, package_id: int
) -> tuple[ResponsePackage, bytes]:
    package = get_package(session, request_id=request_id, package_id=package_id)
    if package.status != PackageStatus.done or package.sha256 is None:
        raise Conflict(f"package {package_id} is {package.status}, not ready to download")
    from app.storage.models import StoredObject

    stored = session.get(StoredObject, package.sha256)
    if stored is not None and stored.destroyed_at is not None:
        # Request files have a retention too (POSTVAULT_REQUEST_FILES_SERIES).
        raise NotFound(
            f"package {package_id} was destroyed on {stored.destroyed_at:%Y-%m-%d} at the end "
            "of the request files' retention series; the disposition certificate lists it"
        )
    data = store.get(package.sha256)
    record(
        session,
        actor=Actor.of(officer),
        action="request.package_downloaded",
        object_type="records_request",
        object_id=request_id,
        details={"package_id": package.id, "sha256": package.sha256},
    )
    return package, data
