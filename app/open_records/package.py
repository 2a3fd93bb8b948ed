"""The response package: a ZIP holding one BagIt bag (RFC 8493) with a PDF per released item
(redacted where redacted), one combined PDF stamped with the request number and a running page
number, manifests with the hash of each archived and each released file, the request's audit
log, and a letter to the requester with the reasons and the review rights of 19.35(4)(b)."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import html
import io
import json
import logging
import threading
import zipfile
from collections.abc import Callable
from dataclasses import dataclass

import weasyprint
from pypdf import PdfReader, PdfWriter
from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from app import __version__, leases
from app.audit.models import AuditEvent
from app.audit.service import Actor, record
from app.auth.models import User
from app.classification.models import Classification
from app.db import Database, utcnow
from app.errors import Conflict, NotFound
from app.leases import new_owner
from app.open_records.letters import ReleasedRow, response_letter
from app.open_records.models import (
    PackageStatus,
    RecordsRequest,
    RequestItem,
    RequestStatus,
    ResponsePackage,
)
from app.open_records.package_media import KeptMedia, kept_media
from app.open_records.redaction import (
    RedactionLeak,
    archived_snapshot_sha256,
    post_of,
    release_copy,
    secrets_of,
    withheld_originals,
)
from app.open_records.release_check import payload_leaks
from app.open_records.requests import get_request, list_items, redactions_of
from app.open_records.separation import Scrubber
from app.posts.models import CapturedVersion
from app.retention.assignment import current_assignment
from app.retention.models import Hold
from app.snapshots.service import snapshot_version
from app.storage.base import ArchiveStore
from app.timestamps.service import token_of

log = logging.getLogger("postvault.open_records")


Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class ReleasedFile:
    """One released item, as plain data (it outlives the transaction that prepared it)."""

    item_id: int
    version_id: int
    post_id: int
    version_number: int
    platform: str
    url: str
    captured_at: dt.datetime
    source_sha256: str
    name: str
    data: bytes
    archived_sha256: str
    redacted: bool
    reasons: tuple[str, ...]
    # The archived snapshot's RFC 3161 token: "" / None when there is none (yet).
    timestamp_status: str = ""
    timestamp_time: str = ""
    timestamp_token: bytes | None = None
    # The version's web archive (browser capture or upload), released beside the PDF only
    # when nothing of the item is redacted: a WACZ cannot be redacted.
    wacz: bytes | None = None
    # What the redactions took out: (string, reason) and the originals of withheld or
    # blacked-out files; no file of the package may hold any of them.
    secrets: tuple[tuple[str, str], ...] = ()
    originals: frozenset[str] = frozenset()
    media: tuple[KeptMedia, ...] = ()  # audio/video the snapshot names by hash (same rule)


def _wacz_of(session: Session, store: ArchiveStore, version_id: int) -> bytes | None:
    from app.posts.models import VersionMedia

    sha = session.scalar(
        select(VersionMedia.sha256).where(
            VersionMedia.version_id == version_id, VersionMedia.role == "wacz"
        )
    )
    return store.get(sha) if sha else None  # verified against its hash on read


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
            session, store=store, item=item, request_number=request_number, actor=actor
        )
    else:
        released_sha = archived
    suffix = "-redacted" if redactions else ""
    token = token_of(session, archived)
    token_bytes, token_time = None, ""
    if token is not None and token.token_sha256 is not None and token.gen_time is not None:
        token_bytes = store.get(token.token_sha256)  # verified against its hash on read
        token_time = token.gen_time.isoformat()
    return ReleasedFile(
        item_id=item.id,
        version_id=version.id,
        post_id=version.post_id,
        version_number=version.number,
        platform=version.post.platform,
        url=version.post.url,
        captured_at=version.captured_at,
        source_sha256=version.source_sha256,
        name=f"item-{position:04d}-post-{version.post_id}-v{version.number}{suffix}.pdf",
        data=store.get(released_sha),  # verified against its hash on read
        archived_sha256=archived,
        redacted=bool(redactions),
        reasons=tuple(sorted({r.exemption for r in redactions})),
        timestamp_status=token.status if token is not None else "none",
        timestamp_time=token_time,
        timestamp_token=token_bytes,
        wacz=None if redactions else _wacz_of(session, store, version.id),
        secrets=tuple(secrets_of(post_of(version), version.text or "", redactions)),
        originals=frozenset(withheld_originals(redactions)),
        media=() if redactions else kept_media(session, store, version.id),
    )


def _stamp_pages(pdfs: list[bytes], request_number: str) -> bytes:
    """One PDF of every released page, each stamped with the request number and its running
    page number (an overlay drawn with WeasyPrint, page size by page size)."""
    writer = PdfWriter()
    for data in pdfs:
        for page in PdfReader(io.BytesIO(data)).pages:
            writer.add_page(page)
    # The page list once: pypdf walks its page tree again for every len() of writer.pages.
    pages = list(writer.pages)
    total = len(pages)
    if total == 0:
        return b""
    # One named page per distinct page size (not per page: WeasyPrint matches every page
    # against every @page rule, so a rule per page made the overlay quadratic in its pages).
    sizes: dict[tuple[float, float], str] = {}
    bodies = []
    for i, page in enumerate(pages, start=1):
        size = (float(page.mediabox.width), float(page.mediabox.height))
        name = sizes.setdefault(size, f"s{len(sizes) + 1}")
        bodies.append(
            f'<section class="{name}"><div class="stamp">Open-records request '
            f"{html.escape(request_number)} · page {i} of {total}</div></section>"
        )
    rules = [
        f"@page {name} {{ size: {width}pt {height}pt; margin: 0 }} .{name} {{ page: {name} }}"
        for (width, height), name in sizes.items()
    ]
    css = (
        "\n".join(rules)
        + """
      section { break-after: page; position: relative; height: 100%; }
      .stamp { position: absolute; bottom: 10pt; right: 14pt; font: 8pt 'DejaVu Sans', sans-serif;
               color: #7a0000; background: #fff; padding: 1pt 4pt; border: 0.5pt solid #7a0000; }
    """
    )
    overlay = weasyprint.HTML(
        string=f"<html><head><style>{css}</style></head><body>{''.join(bodies)}</body></html>"
    ).write_pdf()
    stamps = PdfReader(io.BytesIO(overlay)).pages
    for page, stamp in zip(pages, stamps, strict=True):
        page.merge_page(stamp)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _letter(request: RecordsRequest, files: list[ReleasedFile], scrub: Scrubber) -> bytes:
    return response_letter(
        request,
        [ReleasedRow(f.name, f.url, f.version_number, f.reasons, f.redacted) for f in files],
        scrub,
    )


def _audit_log(session: Session, request: RecordsRequest, scrub: Scrubber) -> bytes:
    hold_ids = [
        str(h) for h in session.scalars(select(Hold.id).where(Hold.request_id == request.id))
    ]
    events = session.scalars(
        select(AuditEvent)
        .where(
            or_(
                (AuditEvent.object_type == "records_request")
                & (AuditEvent.object_id == str(request.id)),
                (AuditEvent.object_type == "hold") & (AuditEvent.object_id.in_(hold_ids)),
            )
        )
        .order_by(AuditEvent.id)
    )
    lines = []
    for e in events:
        # Redacted text in an event (a note, a search) is taken out here too; such an event is
        # marked, as its hash no longer recomputes from the copy.
        details = scrub.tree(e.details)
        entry = {
            "id": e.id,
            "occurred_at": e.occurred_at.isoformat(),
            "actor": e.actor,
            "action": e.action,
            "object_type": e.object_type,
            "object_id": e.object_id,
            "details": details,
            "prev_hash": e.prev_hash,
            "hash": e.hash,
        }
        if details != e.details:
            entry["redacted"] = True
        lines.append(json.dumps(entry, sort_keys=True, ensure_ascii=False))
    return ("\n".join(lines) + "\n").encode("utf-8")


def _manifests(
    session: Session, request: RecordsRequest, files: list[ReleasedFile], scrub: Scrubber
) -> tuple[bytes, bytes]:
    rows = []
    for f in files:
        label = session.scalar(
            select(Classification.label).where(
                Classification.version_id == f.version_id, Classification.is_current.is_(True)
            )
        )
        assignment = current_assignment(session, f.post_id)
        rows.append(
            {
                "request": request.number,
                "file": f"data/items/{f.name}",
                "post_id": f.post_id,
                "version": f.version_number,
                "platform": f.platform,
                "url": scrub.text(f.url),
                "captured_at": f.captured_at.isoformat(),
                "classification": label or "",
                "series": assignment.series_code if assignment else "",
                "archived_pdf_sha256": f.archived_sha256,
                "released_sha256": hashlib.sha256(f.data).hexdigest(),
                "redacted": f.redacted,
                "source_sha256": f.source_sha256,
                "archived_pdf_timestamp": f.timestamp_time or f.timestamp_status,
                "archived_pdf_timestamp_token": _token_path(f) if f.timestamp_token else "",
                "wacz_file": f"data/items/{f.name.removesuffix('.pdf')}.wacz" if f.wacz else "",
                "wacz_sha256": hashlib.sha256(f.wacz).hexdigest() if f.wacz else "",
                "media_files": " ".join(m.path(f.name) for m in f.media),
            }
        )
    text = io.StringIO()
    writer = csv.DictWriter(
        text, fieldnames=list(rows[0]) if rows else ["request"], lineterminator="\n"
    )
    writer.writeheader()
    writer.writerows(rows)
    return text.getvalue().encode("utf-8"), json.dumps(
        {"request": request.number, "items": rows}, indent=2, ensure_ascii=False
    ).encode("utf-8")


def _token_path(f: ReleasedFile) -> str:
    """Where the bag carries the RFC 3161 token of an item's archived snapshot."""
    return f"data/timestamps/{f.archived_sha256}.pdf.tsr"


def build_bag(session: Session, *, request: RecordsRequest, files: list[ReleasedFile]) -> bytes:
    """The ZIP of one BagIt bag holding the released files and what describes them."""
    payload: dict[str, bytes] = {f"data/items/{f.name}": f.data for f in files}
    for f in files:
        if f.timestamp_token is not None:
            payload[_token_path(f)] = f.timestamp_token
        if f.wacz is not None:
            payload[f"data/items/{f.name.removesuffix('.pdf')}.wacz"] = f.wacz
        payload.update({m.path(f.name): m.data for m in f.media})
    combined = _stamp_pages([f.data for f in files], request.number)
    if combined:
        payload["data/combined.pdf"] = combined
    scrub = Scrubber([pair for f in files for pair in f.secrets])
    csv_bytes, json_bytes = _manifests(session, request, files, scrub)
    payload["data/manifest.csv"] = csv_bytes
    payload["data/manifest.json"] = json_bytes
    payload["data/audit-log.jsonl"] = _audit_log(session, request, scrub)
    payload["data/letter.pdf"] = _letter(request, files, scrub)
    originals = frozenset().union(*(f.originals for f in files)) if files else frozenset()
    problems = payload_leaks(payload, scrub.secrets, set(originals))
    if problems:
        # Text redacted in one item but left in another (another version of the same post,
        # another post) would go out with the package: it is refused, naming the files.
        raise RedactionLeak(
            "the package was not made: " + "; ".join(problems[:10]) + ". Redact the same text "
            "in those items too, or take them out of the set"
        )

    root = f"request-{request.number}"
    manifest = "".join(
        f"{hashlib.sha256(data).hexdigest()}  {path}\n" for path, data in sorted(payload.items())
    )
    octets = sum(len(d) for d in payload.values())
    tags: dict[str, bytes] = {
        "bagit.txt": b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n",
        "bag-info.txt": (
            f"Source-Organization: PostVault {__version__}\n"
            f"Bagging-Date: {utcnow().date().isoformat()}\n"
            f"External-Identifier: open-records request {request.number}\n"
            f"Payload-Oxum: {octets}.{len(payload)}\n"
        ).encode(),
        "manifest-sha256.txt": manifest.encode(),
    }
    tagmanifest = "".join(
        f"{hashlib.sha256(data).hexdigest()}  {name}\n" for name, data in sorted(tags.items())
    )
    tags["tagmanifest-sha256.txt"] = tagmanifest.encode()
    out = io.BytesIO()
    stamp = (2000, 1, 1, 0, 0, 0)  # fixed member times: the same package bytes for the same content
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in sorted({**tags, **payload}.items()):
            info = zipfile.ZipInfo(f"{root}/{name}", date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return out.getvalue()


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
) -> ResponsePackage:
    """Make the package (the background job): progress is saved as items are prepared.

    The run holds the package's lease and renews it from a heartbeat; a package another run
    holds is left to it. A run stopped part-way (shutdown, lost lease) leaves the package
    `running` with its lease let go or running out, and the recovery job resumes it: items
    already prepared are read back, not made again.
    """
    from app.storage.service import put_object

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
            files: list[ReleasedFile] = []
            # One short transaction per item, its progress saved with it: the job never holds
            # the database for the whole package, and a reader sees it advance.
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
                        )
                    )
                    running.progress = position
                if progress is not None:
                    progress(position, len(item_ids))
            with database.session() as session:
                package = fenced(session)
                request = get_request(session, request_id)
                data = build_bag(session, request=request, files=files)
                obj = put_object(session, store, data, mime_type="application/zip", kind="package")
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
                        "bytes": len(data),
                        "items": package.total,
                    },
                )
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
