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
import html
import io
import json
import logging
import zipfile
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import weasyprint
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app import __version__
from app.audit.models import AuditEvent
from app.classification.models import Classification
from app.db import utcnow
from app.open_records.combined import write_combined
from app.open_records.models import RecordsRequest, RequestStatus
from app.retention.assignment import current_assignment
from app.retention.models import Hold
from app.storage.base import ArchiveStore

REVIEW_RIGHTS = (
    "This determination is subject to review by mandamus under section 19.37(1) of the "
    "Wisconsin Statutes, or upon application to the Attorney General or a district attorney "
    "(Wis. Stat. 19.35(4)(b))."
)
ZIP_TIME = (2000, 1, 1, 0, 0, 0)  # fixed member times: the same package bytes for the same content
_CHUNK = 1 << 20
log = logging.getLogger("postvault.open_records")


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


def _wacz_path(f: ReleasedFile) -> str:
    return f"data/items/{f.name.removesuffix('.pdf')}.wacz"


def render_letter(body: str) -> bytes:
    """The letter's PDF from its HTML (a module-level function: it runs in a render worker)."""
    pdf: bytes = weasyprint.HTML(string=body).write_pdf()
    return pdf


def letter_html(request: RecordsRequest, files: list[ReleasedFile]) -> str:
    rows = []
    for f in files:
        reasons = f.reasons
        rows.append(
            f"<tr><td>{html.escape(f.name)}</td><td>{html.escape(f.url)}</td>"
            f"<td>{f.version_number}</td><td>{html.escape('; '.join(reasons) or '—')}</td></tr>"
        )
    denied = request.status in (RequestStatus.denied, RequestStatus.partly_denied)
    redacted_any = any(f.redacted for f in files)
    decision = {
        RequestStatus.granted: "Your request is granted.",
        RequestStatus.partly_denied: "Your request is granted in part and denied in part.",
        RequestStatus.denied: "Your request is denied.",
    }.get(
        RequestStatus(request.status), "The records below are released in response to your request."
    )
    decision_reasons = (
        f"<p><strong>Reasons:</strong> {html.escape(request.decision_reason or '')}</p>"
        if request.decision_reason
        else ""
    )
    rights = f"<p>{REVIEW_RIGHTS}</p>" if denied or redacted_any else ""
    redaction_note = (
        "<p>Some records are released with parts redacted. Each redaction is marked where it was "
        "made, with its reason (Wis. Stat. 19.36(6)).</p>"
        if redacted_any
        else ""
    )
    body = f"""<html><head><style>
      @page {{ size: letter; margin: 2cm; }} body {{ font: 11pt 'DejaVu Sans', sans-serif; }}
      table {{ border-collapse: collapse; width: 100%; font-size: 8.5pt; table-layout: fixed; }}
      td, th {{ border: 0.5pt solid #999; padding: 3pt; text-align: left; vertical-align: top; word-break: break-all; }}
    </style></head><body>
      <p>{utcnow().date().isoformat()}</p>
      <p>To: {html.escape(request.requester_name or "Requester")}</p>
      <h1 style="font-size:14pt">Open-records request {html.escape(request.number)}</h1>
      <p>Received {request.received_on.isoformat()}: “{html.escape(request.description)}”</p>
      <p>{decision}</p>{decision_reasons}{redaction_note}
      <p>{len(files)} record(s) released:</p>
      <table><colgroup><col style="width:27%"><col style="width:35%"><col style="width:8%"><col style="width:30%"></colgroup><tr><th>File</th><th>Post</th><th>Version</th><th>Redaction reasons</th></tr>{"".join(rows)}</table>
      {rights}
    </body></html>"""
    return body


def _audit_log(session: Session, request: RecordsRequest) -> bytes:
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
    lines = [
        json.dumps(
            {
                "id": e.id,
                "occurred_at": e.occurred_at.isoformat(),
                "actor": e.actor,
                "action": e.action,
                "object_type": e.object_type,
                "object_id": e.object_id,
                "details": e.details,
                "prev_hash": e.prev_hash,
                "hash": e.hash,
            },
            sort_keys=True,
            ensure_ascii=False,
        )
        for e in events
    ]
    return ("\n".join(lines) + "\n").encode("utf-8")


def _manifests(
    session: Session, request: RecordsRequest, files: list[ReleasedFile]
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
                "url": f.url,
                "captured_at": f.captured_at.isoformat(),
                "classification": label or "",
                "series": assignment.series_code if assignment else "",
                "archived_pdf_sha256": f.archived_sha256,
                "released_sha256": f.released_sha256,
                "redacted": f.redacted,
                "source_sha256": f.source_sha256,
                "archived_pdf_timestamp": f.timestamp_time or f.timestamp_status,
                "archived_pdf_timestamp_token": _token_path(f) if f.timestamp_token else "",
                "wacz_file": _wacz_path(f) if f.wacz_sha256 else "",
                "wacz_sha256": f.wacz_sha256 or "",
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


def write_bag(
    session: Session,
    *,
    store: ArchiveStore,
    request: RecordsRequest,
    files: list[ReleasedFile],
    out: Path,
    render_elsewhere: Callable[[Callable[[str], bytes], str], Future[bytes]] | None = None,
) -> None:
    """Write the ZIP of one BagIt bag holding the released files and what describes them.

    With `render_elsewhere` (a render pool's submit), the letter is laid out in a render
    worker while this process merges the combined PDF."""
    small: dict[str, bytes] = {}
    body = letter_html(request, files)
    letter: Future[bytes] | None = None
    if render_elsewhere is not None:
        try:
            letter = render_elsewhere(render_letter, body)
        except Exception:  # no worker to give it to: it is laid out here
            log.warning("the letter could not be given to a render worker", exc_info=True)
    csv_bytes, json_bytes = _manifests(session, request, files)
    small["data/manifest.csv"] = csv_bytes
    small["data/manifest.json"] = json_bytes
    small["data/audit-log.jsonl"] = _audit_log(session, request)
    combined_path = out.with_name(out.name + ".combined.pdf")
    try:
        pages = write_combined(
            (store.get(f.released_sha256) for f in files), request.number, combined_path
        )
        small["data/letter.pdf"] = _letter_result(letter, body)
        members = _members(files, small, combined_path if pages else None)
        _write_zip(store, request, members, out)
    finally:
        combined_path.unlink(missing_ok=True)


def _letter_result(letter: Future[bytes] | None, body: str) -> bytes:
    if letter is not None:
        try:
            return letter.result()
        except Exception:  # the worker died: the letter is laid out here instead
            log.warning("the letter's render worker failed; rendering it here", exc_info=True)
    return render_letter(body)


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
