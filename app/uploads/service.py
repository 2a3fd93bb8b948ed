"""Evidence people hand over (a WACZ from ArchiveWeb.page, a browser's "Save as PDF", a
screenshot, the original photo or video) becomes a version of the post with its provenance,
classified, indexed, rendered and retained like any capture; and a version's WACZ is served.

Everything about the file is checked before anything is stored; the version, its file, its
provenance and the audit event are written in one transaction, so a refused or failed upload
leaves nothing half-stored.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.audit.service import Actor, record
from app.auth.models import User
from app.collectors.models import CaptureAttempt
from app.collectors.service import CaptureContext, run_after_commit
from app.collectors.versioning import content_hash, source_bytes
from app.db import utcnow
from app.errors import Conflict, DomainError, Invalid, NotFound
from app.platforms.collected import Author, CollectedPost, MediaRef
from app.posts.models import CapturedVersion, FlaggedPost, PostStatus, VersionKind, VersionMedia
from app.posts.service import get_post
from app.storage.base import ArchiveStore, FixityError, ObjectMissing
from app.storage.service import put_object
from app.uploads.checks import KINDS, CheckedFile, check_upload, guess_kind
from app.uploads.models import VersionUpload

COLLECTOR = "upload"
COLLECTOR_VERSION = "upload/1"
MAX_STATEMENT = 500
_ROLES = {"wacz": "wacz", "pdf": "upload_pdf", "screenshot": "screenshot"}


class TooLarge(DomainError):
    status_code = 413


@dataclass(frozen=True)
class UploadResult:
    post_id: int
    version_number: int
    kind: str
    sha256: str
    size: int
    mime_type: str
    tool: str | None


def clean_statement(statement: str) -> str:
    text = " ".join(statement.split())
    if not text:
        raise Invalid("say in one line what the file is and how you made it (statement)")
    if "\n" in statement.strip():
        raise Invalid("the statement must be one line")
    if len(text) > MAX_STATEMENT:
        raise Invalid(f"the statement is longer than {MAX_STATEMENT} characters")
    return text


def _post_urls(session: Session, post: FlaggedPost) -> list[str]:
    """The post's URL and the addresses its captures ended on (after redirects)."""
    urls = [post.url]
    for version in session.scalars(
        select(CapturedVersion).where(CapturedVersion.post_id == post.id)
    ):
        extra = (version.normalized or {}).get("extra") or {}
        for key in ("final_url", "canonical_url"):
            if isinstance(extra.get(key), str) and extra[key] not in urls:
                urls.append(extra[key])
    return urls


def add_upload(
    ctx: CaptureContext,
    *,
    uploader_id: int,
    post_id: int,
    path: Path,
    filename: str,
    kind: str | None,
    statement: str,
) -> UploadResult:
    """Check, store and version one uploaded file (the caller capped its size)."""
    statement = clean_statement(statement)
    filename = Path(filename or "upload").name[:255]
    with path.open("rb") as handle:
        head = handle.read(16)
    if not head:
        raise Invalid("the file is empty")
    chosen = (kind or "").strip().lower() or guess_kind(filename, head)
    if chosen not in KINDS:
        raise Invalid(f"unknown kind of upload '{chosen}': use one of {', '.join(KINDS)}")

    with ctx.database.session() as session:
        uploader = session.get(User, uploader_id)
        if uploader is None:
            raise NotFound("no such user")
        post = get_post(session, viewer=uploader, post_id=post_id)
        if post.status == PostStatus.disposed:
            raise Conflict(f"post {post_id} was disposed: nothing can be added to it")
        urls = _post_urls(session, post)

    # The file is opened by its reader with no transaction open (a WACZ check takes a while).
    checked = check_upload(
        path,
        kind=chosen,
        post_urls=urls,
        max_unpacked_bytes=ctx.settings.upload_max_bytes * 20,
    )
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()

    with ctx.database.session() as session:
        uploader = session.get(User, uploader_id)
        assert uploader is not None
        post = get_post(session, viewer=uploader, post_id=post_id)
        version = _store(session, ctx, post, uploader, checked, data, digest, filename, statement)
        for hook in ctx.on_new_versions:
            hook(session, post, [version], Actor.of(uploader))
        version_id, number = version.id, version.number
    run_after_commit(ctx, [version_id])
    return UploadResult(
        post_id=post_id,
        version_number=number,
        kind=checked.kind,
        sha256=digest,
        size=len(data),
        mime_type=checked.mime_type,
        tool=checked.tool,
    )


def _store(
    session: Session,
    ctx: CaptureContext,
    post: FlaggedPost,
    uploader: User,
    checked: CheckedFile,
    data: bytes,
    digest: str,
    filename: str,
    statement: str,
) -> CapturedVersion:
    now = utcnow()
    provenance = {
        "kind": checked.kind,
        "filename": filename,
        "sha256": digest,
        "size": len(data),
        "mime_type": checked.mime_type,
        "tool": checked.tool,
        "statement": statement,
        "uploaded_by": uploader.email,
        "uploaded_at": now.isoformat(),
    }
    role = _ROLES.get(checked.kind) or (
        "video" if checked.mime_type.startswith("video/") else "image"
    )
    media = []
    if checked.kind == "original":
        media = [
            MediaRef(
                url=f"upload:{filename}",
                role="video" if role == "video" else "image",
                mime_type=checked.mime_type,
                sha256=digest,
                size=len(data),
                width=checked.width,
                height=checked.height,
            )
        ]
    collected = CollectedPost(
        platform=post.platform,
        post_id=post.external_id,
        url=post.url,
        author=Author(handle=post.account.handle, profile_url=post.account.profile_url),
        text=checked.text or statement,
        media=media,
        replies_captured=False,
        extra={"provenance": provenance},
    )
    source = source_bytes({"upload": provenance})
    number = (
        session.scalar(
            select(func.max(CapturedVersion.number)).where(CapturedVersion.post_id == post.id)
        )
        or 0
    ) + 1
    put_object(session, ctx.store, data, mime_type=checked.mime_type, kind="upload")
    # An upload is a run of its own (no poll, no request to the platform): the version's
    # provenance names it like a capture's, and the run names the uploader.
    run = CaptureAttempt(
        post_id=post.id,
        poll_slot=f"upload:{number}",
        worker=f"upload:user:{uploader.id}",
        started_at=now,
        finished_at=now,
        outcome="uploaded",
        http_requests=0,
    )
    session.add(run)
    session.flush()
    version = CapturedVersion(
        post_id=post.id,
        number=number,
        kind=VersionKind.upload,
        captured_at=now,
        content_hash=content_hash(collected),
        source_sha256=hashlib.sha256(source).hexdigest(),
        source_json=source.decode("utf-8"),
        normalized=collected.model_dump(mode="json", exclude={"history", "validators"}),
        text=collected.text,
        author_handle=post.account.handle,
        replies_captured=False,
        collector=COLLECTOR,
        collector_version=COLLECTOR_VERSION,
        diff_from_previous=f"{checked.kind} uploaded by {uploader.email}: {statement}",
        capture_run_id=run.id,
    )
    session.add(version)
    session.flush()
    run.version_id = version.id
    session.add(
        VersionMedia(
            version_id=version.id,
            position=0,
            sha256=digest,
            role=role,
            source_url=f"upload:{filename}",
        )
    )
    session.add(
        VersionUpload(
            version_id=version.id,
            uploaded_by_id=uploader.id,
            uploaded_at=now,
            kind=checked.kind,
            sha256=digest,
            size=len(data),
            mime_type=checked.mime_type,
            filename=filename,
            tool=checked.tool,
            statement=statement,
        )
    )
    if post.first_captured_at is None:
        post.first_captured_at = now
    if post.status == PostStatus.waiting:
        post.status = PostStatus.captured
    record(
        session,
        actor=Actor.of(uploader),
        action="upload.added",
        object_type="post",
        object_id=post.id,
        details={
            "version": number,
            "capture_run_id": run.id,
            "kind": checked.kind,
            "sha256": digest,
            "size": len(data),
            "tool": checked.tool,
            "statement": statement,
        },
    )
    session.flush()
    return version


def read_capture_wacz(
    session: Session, *, store: ArchiveStore, viewer: User, post_id: int, number: int
) -> tuple[str, bytes]:
    """The WACZ of a version (a browser capture's or an uploaded one), verified against its
    hash, the view audited."""
    post = get_post(session, viewer=viewer, post_id=post_id)
    version = session.scalar(
        select(CapturedVersion).where(
            CapturedVersion.post_id == post.id, CapturedVersion.number == number
        )
    )
    if version is None:
        raise NotFound(f"post {post_id} has no version {number}")
    row = session.scalar(
        select(VersionMedia).where(
            VersionMedia.version_id == version.id, VersionMedia.role == "wacz"
        )
    )
    if row is None:
        raise NotFound(f"version {number} of post {post_id} has no web archive")
    try:
        data = store.get(row.sha256)
    except (FixityError, ObjectMissing) as exc:
        raise Conflict(
            f"the web archive of version {number} cannot be read back intact ({exc}); the "
            "records officers see it in the fixity report"
        ) from None
    record(
        session,
        actor=Actor.of(viewer),
        action="capture.wacz_viewed",
        object_type="post",
        object_id=post.id,
        details={"version_number": number, "sha256": row.sha256},
    )
    return row.sha256, data


def read_capture_wacz_timestamp(
    session: Session, *, store: ArchiveStore, viewer: User, post_id: int, number: int
) -> tuple[str, bytes]:
    """The RFC 3161 TimeStampResp over the SHA-256 of exactly the bytes capture.wacz serves
    (the WACZ is stamped with the version's first snapshot), the view audited."""
    from app.timestamps.models import TimestampStatus
    from app.timestamps.service import token_of

    post = get_post(session, viewer=viewer, post_id=post_id)
    row = session.scalar(
        select(VersionMedia)
        .join(CapturedVersion, CapturedVersion.id == VersionMedia.version_id)
        .where(
            CapturedVersion.post_id == post.id,
            CapturedVersion.number == number,
            VersionMedia.role == "wacz",
        )
    )
    if row is None:
        raise NotFound(f"version {number} of post {post_id} has no web archive")
    token = token_of(session, row.sha256)
    if token is None:
        raise NotFound(
            f"the web archive of version {number} of post {post_id} has no trusted timestamp "
            "(no time-stamping authority was configured when it was archived)"
        )
    if token.status != TimestampStatus.stamped or token.token_sha256 is None:
        raise NotFound(
            f"the trusted timestamp of the web archive of version {number} of post {post_id} "
            "is pending: PostVault asks the time-stamping authority again every few minutes"
        )
    try:
        data = store.get(token.token_sha256)
    except (FixityError, ObjectMissing) as exc:
        raise Conflict(
            f"the timestamp of version {number}'s web archive cannot be read back intact ({exc})"
        ) from None
    record(
        session,
        actor=Actor.of(viewer),
        action="capture.wacz_timestamp_viewed",
        object_type="post",
        object_id=post.id,
        details={"version_number": number, "sha256": row.sha256},
    )
    return row.sha256, data
