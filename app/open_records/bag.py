"""The response package's BagIt bag (RFC 8493), written as a ZIP to a file.

The ZIP is streamed: each released PDF and web archive is read from the store (verified
against its hash) when its member is written, and the combined PDF is written to a
temporary file and copied in, hashed as it is copied. Nothing holds every file at once, so
memory stays the same whatever the item count. Members keep their sorted order and fixed
times: the same content gives the same bytes.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import logging
import zipfile
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol, TypeVar

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app import __version__
from app.audit.models import AuditEvent
from app.classification.models import Classification
from app.db import utcnow
from app.open_records.combined import CombinedWriter, stamp_label
from app.open_records.letters import (
    LetterDocument,
    ReleasedRow,
    render_document,
    response_letter_document,
)
from app.open_records.models import RecordsRequest
from app.open_records.package_media import KeptMedia
from app.open_records.pdf_text import Haystack
from app.open_records.redaction import RedactionLeak
from app.open_records.release_check import (
    NOTHING,
    Findings,
    check_file,
    file_findings,
    needles_of,
    problems_of,
)
from app.open_records.separation import Scrubber
from app.retention.assignment import current_assignments
from app.retention.models import Hold
from app.storage.base import ArchiveStore

ZIP_TIME = (2000, 1, 1, 0, 0, 0)  # fixed member times: the same package bytes for the same content
_CHUNK = 1 << 20
log = logging.getLogger("postvault.open_records")

_T = TypeVar("_T")
_R = TypeVar("_R")


class Elsewhere(Protocol):
    """Runs a module-level function of one picklable argument in a render worker (a render
    pool's submit)."""

    def __call__(self, fn: Callable[[_T], _R], argument: _T, /) -> Future[_R]: ...


@dataclass(frozen=True)
class ReleasedFile:
    """One released item, as plain data (it outlives the transaction that prepared it). The
    files themselves stay in the store, named by their hashes."""

    item_id: int
    version_id: int
    post_id: int
    version_number: int
    platform: str
    url: str
    captured_at: dt.datetime
    source_sha256: str
    name: str
    released_sha256: str
    size: int
    archived_sha256: str
    redacted: bool
    reasons: tuple[str, ...]
    # The archived snapshot's RFC 3161 token: "" / None when there is none (yet).
    timestamp_status: str = ""
    timestamp_time: str = ""
    timestamp_token: bytes | None = None
    # The version's web archive (browser capture or upload), released beside the PDF only
    # when nothing of the item is redacted: a WACZ cannot be redacted.
    wacz_sha256: str | None = None
    wacz_size: int = 0
    # What the redactions took out: (string, reason) and the originals of withheld or
    # blacked-out files; no file of the package may hold any of them.
    secrets: tuple[tuple[str, str], ...] = ()
    originals: frozenset[str] = frozenset()
    media: tuple[KeptMedia, ...] = ()  # audio/video the snapshot names by hash (same rule)


def _wacz_path(f: ReleasedFile) -> str:
    return f"data/items/{f.name.removesuffix('.pdf')}.wacz"


def _letter_document(
    request: RecordsRequest, files: list[ReleasedFile], scrub: Scrubber
) -> LetterDocument:
    return response_letter_document(
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


# Ids per query when the manifests read their items' labels and series (a bounded IN list).
_BATCH = 500


def _current_labels(session: Session, version_ids: list[int]) -> dict[int, str]:
    """Each version's current classification label (as one query per version read it)."""
    labels: dict[int, str] = {}
    unique = sorted(set(version_ids))
    for start in range(0, len(unique), _BATCH):
        for version_id, label in session.execute(
            select(Classification.version_id, Classification.label)
            .where(
                Classification.version_id.in_(unique[start : start + _BATCH]),
                Classification.is_current.is_(True),
            )
            .order_by(Classification.id)
        ):
            labels.setdefault(version_id, label)
    return labels


def _current_series(session: Session, post_ids: list[int]) -> dict[int, str]:
    """Each post's current retention series (retention.assignment.current_assignment's)."""
    series: dict[int, str] = {}
    unique = sorted(set(post_ids))
    for start in range(0, len(unique), _BATCH):
        current = current_assignments(session, unique[start : start + _BATCH])
        series.update((post_id, row.series_code) for post_id, row in current.items())
    return series


def _manifests(
    session: Session, request: RecordsRequest, files: list[ReleasedFile], scrub: Scrubber
) -> tuple[bytes, bytes]:
    labels = _current_labels(session, [f.version_id for f in files])
    series = _current_series(session, [f.post_id for f in files])
    # Written row by row (no list of every row's dictionary): the bytes are those of one
    # csv.DictWriter over all rows and of json.dumps(..., indent=2) of the whole document.
    table = io.StringIO()
    writer: csv.DictWriter[str] | None = None
    items: list[bytes] = []
    for f in files:
        row = {
            "request": request.number,
            "file": f"data/items/{f.name}",
            "post_id": f.post_id,
            "version": f.version_number,
            "platform": f.platform,
            "url": scrub.text(f.url),
            "captured_at": f.captured_at.isoformat(),
            "classification": labels.get(f.version_id) or "",
            "series": series.get(f.post_id, ""),
            "archived_pdf_sha256": f.archived_sha256,
            "released_sha256": f.released_sha256,
            "redacted": f.redacted,
            "source_sha256": f.source_sha256,
            "archived_pdf_timestamp": f.timestamp_time or f.timestamp_status,
            "archived_pdf_timestamp_token": _token_path(f) if f.timestamp_token else "",
            "wacz_file": _wacz_path(f) if f.wacz_sha256 else "",
            "wacz_sha256": f.wacz_sha256 or "",
            "media_files": " ".join(m.path(f.name) for m in f.media),
        }
        if writer is None:
            writer = csv.DictWriter(table, fieldnames=list(row), lineterminator="\n")
            writer.writeheader()
        writer.writerow(row)
        # The row as json.dumps lays it out two levels down (its values are all scalars).
        dumped = json.dumps(row, indent=2, ensure_ascii=False)
        items.append(("    " + dumped.replace("\n", "\n    ")).encode("utf-8"))
    if writer is None:
        csv.DictWriter(table, fieldnames=["request"], lineterminator="\n").writeheader()
    number = json.dumps(request.number, ensure_ascii=False).encode("utf-8")
    document = (
        b'{\n  "request": ' + number + b',\n  "items": '
        + (b"[\n" + b",\n".join(items) + b"\n  ]" if items else b"[]")
        + b"\n}"
    )  # fmt: skip
    return table.getvalue().encode("utf-8"), document


def _token_path(f: ReleasedFile) -> str:
    """Where the bag carries the RFC 3161 token of an item's archived snapshot."""
    return f"data/timestamps/{f.archived_sha256}.pdf.tsr"


def _members(
    files: list[ReleasedFile], small: dict[str, bytes], combined: Path | None
) -> dict[str, tuple[int, str | None, bytes | Path | None]]:
    """Each payload path: its size, its SHA-256 when known (a store key), and where its bytes
    come from (bytes in hand, a file, or None: the store object named by the hash)."""
    members: dict[str, tuple[int, str | None, bytes | Path | None]] = {}
    for f in files:
        members[f"data/items/{f.name}"] = (f.size, f.released_sha256, None)
        if f.timestamp_token is not None:
            token = f.timestamp_token
            members[_token_path(f)] = (len(token), hashlib.sha256(token).hexdigest(), token)
        if f.wacz_sha256 is not None:
            members[_wacz_path(f)] = (f.wacz_size, f.wacz_sha256, None)
        for m in f.media:
            members[m.path(f.name)] = (m.size, m.sha256, None)
    if combined is not None:
        members["data/combined.pdf"] = (combined.stat().st_size, None, combined)
    for path, data in small.items():
        members[path] = (len(data), hashlib.sha256(data).hexdigest(), data)
    return members


def _copy_hashed(source: IO[bytes], target: IO[bytes]) -> str:
    digest = hashlib.sha256()
    for chunk in iter(lambda: source.read(_CHUNK), b""):
        digest.update(chunk)
        target.write(chunk)
    return digest.hexdigest()


class Releasing:
    """The released PDFs of a package as its items are released, one at a time: each is read
    once from the store (verified against its hash), its leak check is given to the render
    workers (`render_elsewhere`) and its pages are added to the combined PDF, so the checks
    run in parallel while the next items are prepared. `needles` and `originals` are what the
    package's leak check looks for (its items' redactions, known before they are released);
    `write_bag` checks every PDF again should they differ from its own."""

    def __init__(
        self,
        store: ArchiveStore,
        out: Path,
        *,
        needles: dict[str, str],
        originals: frozenset[str],
        render_elsewhere: Elsewhere | None,
        letter_document: LetterDocument | None = None,
    ) -> None:
        self.store = store
        self.needles = needles
        self.originals = originals
        # The letter, laid out in a render worker from the start (it lists every item: for a
        # large package it is a long render), when its document is known in advance.
        self.letter: tuple[LetterDocument, Future[bytes]] | None = None
        if letter_document is not None and render_elsewhere is not None:
            try:
                self.letter = (letter_document, render_elsewhere(render_document, letter_document))
            except Exception:  # no worker to give it to: write_bag lays it out
                log.warning("the letter could not be given to a render worker", exc_info=True)
        self.checks = _Checks(render_elsewhere, needles, originals)
        self.combined = CombinedWriter(out.with_name(out.name + ".combined.pdf"))

    def add(self, f: ReleasedFile) -> None:
        data = self.store.get(f.released_sha256)
        self.checks.add(f"data/items/{f.name}", data)
        self.combined.add(data)

    def close(self) -> None:
        """Stop the checks still running and remove the combined PDF (the bag holds a copy)."""
        self.checks.cancel()
        if self.letter is not None:
            self.letter[1].cancel()
        self.combined.discard()


def write_bag(
    session: Session,
    *,
    store: ArchiveStore,
    request: RecordsRequest,
    files: list[ReleasedFile],
    out: Path,
    render_elsewhere: Elsewhere | None = None,
    released: Releasing | None = None,
) -> None:
    """Write the ZIP of one BagIt bag holding the released files and what describes them.

    With `render_elsewhere` (a render pool's submit), the letter is laid out in a render
    worker while this process writes the manifests, and the leak check of the released PDFs
    runs in the render workers, in parallel. `released` holds the released PDFs already
    checked and merged as their items were released (`Releasing`); without it they are read,
    checked and merged here."""
    small: dict[str, bytes] = {}
    scrub = Scrubber([pair for f in files for pair in f.secrets])
    document = _letter_document(request, files, scrub)
    letter: Future[bytes] | None = None
    if released is not None and released.letter is not None and released.letter[0] == document:
        letter = released.letter[1]  # begun as the items were released
    elif render_elsewhere is not None:
        if released is not None and released.letter is not None:
            log.info("the letter's contents changed while the items were released; laid out again")
            released.letter[1].cancel()
        try:
            letter = render_elsewhere(render_document, document)
        except Exception:  # no worker to give it to: it is laid out here
            log.warning("the letter could not be given to a render worker", exc_info=True)
    needles = needles_of(scrub.secrets)
    originals = frozenset().union(*(f.originals for f in files)) if files else frozenset()
    made_here = released is None
    if released is None:
        released = Releasing(
            store, out, needles=needles, originals=originals, render_elsewhere=render_elsewhere
        )
    try:
        if made_here:
            for f in files:
                released.add(f)
        csv_bytes, json_bytes = _manifests(session, request, files, scrub)
        small["data/manifest.csv"] = csv_bytes
        small["data/manifest.json"] = json_bytes
        small["data/audit-log.jsonl"] = _audit_log(session, request, scrub)
        checks = released.checks
        if (released.needles, released.originals) != (needles, originals):
            # A redaction changed while the items were released: every PDF is checked for
            # what the package's files now take out.
            log.warning("the redactions changed during packaging; the PDFs are checked again")
            checks.cancel()
            checks = _Checks(render_elsewhere, needles, originals)
            for f in files:
                checks.add(f"data/items/{f.name}", store.get(f.released_sha256))
        combined_path = released.combined.path
        pages = released.combined.finish(request.number)
        small["data/letter.pdf"] = _letter_result(letter, document)
        members = _members(files, small, combined_path if pages else None)
        for path, (_size, sha, source) in members.items():
            if not checks.looking:
                break  # nothing to look for: each file is read, verified, for the ZIP only
            if path in checks.paths or isinstance(source, Path):
                continue  # the combined PDF: see _combined_findings
            if source is None:
                assert sha is not None
                source = store.get(sha)  # verified against its hash on read
            checks.add(path, source)
        found = checks.results()
        if pages:
            found["data/combined.pdf"] = _combined_findings(
                found, files, request.number, pages, needles
            )
        problems = [problem for path in sorted(found) for problem in problems_of(path, found[path])]
        if problems:
            # Text redacted in one item but left in another (another version of the same
            # post, another post) would go out with the package: it is refused, naming the
            # files.
            raise RedactionLeak(
                "the package was not made: " + "; ".join(problems[:10]) + ". Redact the same "
                "text in those items too, or take them out of the set"
            )
        _write_zip(store, request, members, out)
    finally:
        released.close()


Member = tuple[int, str | None, bytes | Path | None]

# Leak checks given to the render workers and not yet collected: enough to keep every worker
# busy, few enough that the PDFs waiting for a worker stay a few megabytes.
_IN_FLIGHT = 16


class _Checks:
    """The leak check of each payload file (release_check.file_findings), as it is read: the
    PDFs in the render workers when there are any (in parallel, a few at a time), the other
    files here. A check whose worker fails is made here instead."""

    def __init__(
        self, elsewhere: Elsewhere | None, needles: dict[str, str], originals: frozenset[str]
    ) -> None:
        self._needles = needles
        self._originals = originals
        self._elsewhere = elsewhere if needles or originals else None
        self._pending: deque[tuple[str, bytes, Future[Findings]]] = deque()
        self.found: dict[str, Findings] = {}
        self.paths: set[str] = set()

    @property
    def looking(self) -> bool:
        """Whether anything was taken out, so that there is something to look for."""
        return bool(self._needles or self._originals)

    def add(self, path: str, data: bytes) -> None:
        self.paths.add(path)
        if not self._needles and not self._originals:
            return  # nothing was taken out: there is nothing to find
        if self._elsewhere is not None and data.startswith(b"%PDF"):
            try:
                future = self._elsewhere(check_file, (path, data, self._needles, self._originals))
            except Exception:  # no worker to give it to: the checks are made here
                log.warning("the leak check could not be given to a render worker", exc_info=True)
                self._elsewhere = None
            else:
                self._pending.append((path, data, future))
                while len(self._pending) > _IN_FLIGHT:
                    self._collect()
                return
        self._keep(path, file_findings(path, data, self._needles, self._originals))

    def _collect(self) -> None:
        path, data, future = self._pending.popleft()
        try:
            findings = future.result()
        except Exception:  # the worker died (or the check failed: it fails here again)
            log.warning("the leak check of %s failed in a render worker", path, exc_info=True)
            findings = file_findings(path, data, self._needles, self._originals)
        self._keep(path, findings)

    def _keep(self, path: str, findings: Findings) -> None:
        if findings != NOTHING:  # only what a file still holds is kept, not a row per file
            self.found[path] = findings

    def results(self) -> dict[str, Findings]:
        while self._pending:
            self._collect()
        return self.found

    def cancel(self) -> None:
        for _path, _data, future in self._pending:
            future.cancel()
        self._pending.clear()


def _combined_findings(
    found: Mapping[str, Findings],
    files: list[ReleasedFile],
    request_number: str,
    pages: int,
    needles: Mapping[str, str],
) -> Findings:
    """What the combined PDF holds, from the checks of the PDFs it is made of: it is their
    pages as they are (their drawn text, annotations and the streams they use), each with its
    stamp, and none of their document-level parts (metadata, bookmarks, forms). So it holds
    what their pages hold and what its stamps say; reading its text again would double the
    leak check's cost, and hold the whole combined PDF in memory, for nothing more."""
    items = [found.get(f"data/items/{f.name}", NOTHING) for f in files]
    labels = "\n".join(stamp_label(request_number, n, pages) for n in range(1, pages + 1))
    haystack = Haystack(labels)
    stamped = {secret for secret, needle in needles.items() if haystack.holds(needle)}
    on_pages = frozenset(stamped).union(*(i.on_pages for i in items))
    return Findings(carried=any(i.carried for i in items), leaked=on_pages, on_pages=on_pages)


def _letter_result(letter: Future[bytes] | None, document: LetterDocument) -> bytes:
    if letter is not None:
        try:
            return letter.result()
        except Exception:  # the worker died: the letter is laid out here instead
            log.warning("the letter's render worker failed; rendering it here", exc_info=True)
    return render_document(document)


def _bag_info(request: RecordsRequest, octets: int, count: int) -> bytes:
    return (
        f"Source-Organization: PostVault {__version__}\n"
        f"Bagging-Date: {utcnow().date().isoformat()}\n"
        f"External-Identifier: open-records request {request.number}\n"
        f"Payload-Oxum: {octets}.{count}\n"
    ).encode()


def _write_zip(
    store: ArchiveStore,
    request: RecordsRequest,
    members: dict[str, tuple[int, str | None, bytes | Path | None]],
    out: Path,
) -> None:
    root = f"request-{request.number}"
    tags: dict[str, bytes] = {
        "bagit.txt": b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n",
        "bag-info.txt": _bag_info(request, sum(m[0] for m in members.values()), len(members)),
    }
    hashes: dict[str, str] = {}

    def info(name: str) -> zipfile.ZipInfo:
        member = zipfile.ZipInfo(f"{root}/{name}", date_time=ZIP_TIME)
        member.compress_type = zipfile.ZIP_DEFLATED
        return member

    with out.open("wb") as handle, zipfile.ZipFile(handle, "w") as archive:
        # Sorted as before: bag-info.txt, bagit.txt, data/..., then the manifests, which are
        # made from the hashes taken while the payload was written.
        for name in sorted(tags):
            archive.writestr(info(name), tags[name])
        for path in sorted(members):
            size, sha, source = members[path]
            if isinstance(source, Path):
                with (
                    source.open("rb") as data,
                    archive.open(
                        info(path), "w", force_zip64=size >= zipfile.ZIP64_LIMIT
                    ) as member,
                ):
                    hashes[path] = _copy_hashed(data, member)
            else:
                assert sha is not None
                archive.writestr(info(path), store.get(sha) if source is None else source)
                hashes[path] = sha
        manifest = "".join(f"{hashes[path]}  {path}\n" for path in sorted(hashes)).encode()
        tags["manifest-sha256.txt"] = manifest
        tagmanifest = "".join(
            f"{hashlib.sha256(data).hexdigest()}  {name}\n" for name, data in sorted(tags.items())
        )
        archive.writestr(info("manifest-sha256.txt"), manifest)
        archive.writestr(info("tagmanifest-sha256.txt"), tagmanifest.encode())


def file_sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()
