"""Redaction (Wis. Stat. 19.36(6)): release the non-exempt part, with the reason at each cut.

A redacted copy is rendered anew from the archived version with the redacted text replaced,
everywhere it occurs, by a printed reason. Text can be taken from any field of the item (the
post's text, replies, author names and handles, alt text, link cards, quoted posts, the facts
of a web capture: separation.text_fields); media can be withheld whole, or a region of an image
blacked out (its pixels replaced and the picture re-encoded without metadata). A web capture's
WACZ is never part of a redacted copy (it cannot be redacted), nor is its screenshot while text
is redacted, unless the officer blacked out regions of it. The original snapshot is never touched; the redacted copy is its own object with
its own hash, and the PDF is checked before it is kept: if any redacted text can still be found
in it (page text read by PDFium and pypdf, annotations, form fields, bookmarks, metadata, any
embedded file or stream), it is refused.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.service import Actor, record
from app.auth.models import User
from app.errors import Conflict, Invalid
from app.open_records import pdf_text
from app.open_records.models import Redaction, RedactionKind, RequestItem
from app.open_records.pdf_text import Haystack, normalise
from app.open_records.requests import get_item, get_request, redactions_of
from app.open_records.separation import (
    POST_TEXT,
    ImageUnreadable,
    Scrubber,
    black_out,
    marker,
    picture_size,
    text_fields,
)
from app.platforms.collected import CollectedPost
from app.posts.models import CapturedVersion
from app.snapshots.models import Snapshot
from app.snapshots.render import render_snapshot
from app.snapshots.schemas import MediaFile, SnapshotView
from app.snapshots.service import build_view
from app.storage.base import ArchiveStore
from app.storage.service import put_object

Renderer = Callable[[SnapshotView], bytes]


class RedactionLeak(Conflict):
    """The rendered copy still contains redacted text; it is not kept."""


__all__ = ["marker", "text_fields"]  # re-exported: where callers found them before

PICTURE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp", "image/tiff")


def archived_snapshot_sha256(session: Session, version_id: int) -> str | None:
    return session.scalar(
        select(Snapshot.sha256)
        .where(Snapshot.version_id == version_id, Snapshot.is_current.is_(True))
        .order_by(Snapshot.id.desc())
        .limit(1)
    )


def post_of(version: CapturedVersion) -> CollectedPost | None:
    if not version.normalized or version.normalized.get("kind", "post") != "post":
        return None
    try:
        return CollectedPost.model_validate(version.normalized)
    except ValueError:
        return None


def item_fields(version: CapturedVersion) -> dict[str, str]:
    """The text fields of an item a text redaction can name (separation.text_fields)."""
    post = post_of(version)
    if post is None:
        return {POST_TEXT: version.text} if version.text else {}
    return text_fields(post, version.text or "")


def add_redaction(
    session: Session,
    *,
    officer: User,
    request_id: int,
    item_id: int,
    kind: str,
    exemption: str,
    start: int | None = None,
    end: int | None = None,
    media_sha256: str | None = None,
    field: str | None = None,
    box: dict[str, int] | None = None,
    store: ArchiveStore | None = None,
) -> Redaction:
    """Mark what the released copy of an item leaves out: a span of one of its text fields
    (`field`, None for the post's text), a media file whole, or a region (`box`) of an image
    (`store` reads the image to check the box lies on it)."""
    request = get_request(session, request_id)
    item = get_item(session, request_id=request_id, item_id=item_id)
    if item.removed_at is not None:
        raise Conflict(f"item {item_id} was removed from the set")
    version = session.get(CapturedVersion, item.version_id)
    assert version is not None  # foreign key
    if kind == RedactionKind.text:
        field = None if field in (None, POST_TEXT) else field
        if field is None:
            text = version.text or ""
        else:
            fields = item_fields(version)
            if field not in fields:
                raise Invalid(
                    f"item {item_id} has no text field {field!r}; its fields are listed at "
                    f"GET /api/v1/requests/{request_id}/items/{item_id}/fields"
                )
            text = fields[field]
        if start is None or end is None or not 0 <= start < end <= len(text):
            raise Invalid(
                f"the span must lie within the field's text (0 to {len(text)})"
                if field
                else f"the span must lie within the item's text (0 to {len(text)})"
            )
        media_sha256, box = None, None
    elif kind in (RedactionKind.media, RedactionKind.region):
        files = {m.sha256: m for m in version.media}
        if media_sha256 not in files:
            raise Invalid(f"media {media_sha256} is not part of version {version.number}")
        start = end = None
        field = None
        if kind == RedactionKind.region:
            if box is None:
                raise Invalid("a region redaction needs box: x, y, width and height in pixels")
            if store is None:
                raise Invalid("a region redaction needs the archive to read the image")
            stored = _mime_of(session, media_sha256)
            if stored not in PICTURE_TYPES:
                raise Invalid(
                    f"media {media_sha256[:12]}… is {stored or 'not a picture'}: only a picture "
                    "can have a region blacked out; withhold the file whole instead"
                )
            try:
                width, height = picture_size(store.get(media_sha256))
            except ImageUnreadable as exc:
                raise Invalid(f"media {media_sha256[:12]}…: {exc}") from None
            left, top = box["x"], box["y"]  # not a platform id: the region's corner
            if left >= width or top >= height:
                raise Invalid(
                    f"the box starts outside the picture, which is {width} × {height} pixels"
                )
        else:
            box = None
    else:
        raise Invalid("kind is text, media or region")
    redaction = Redaction(
        item_id=item.id,
        kind=kind,
        field=field,
        start=start,
        end=end,
        media_sha256=media_sha256,
        box=dict(box) if box else None,
        exemption=exemption.strip(),
        created_by_id=officer.id,
    )
    session.add(redaction)
    item.redacted_sha256 = None  # the released copy must be made again
    session.flush()
    record(
        session,
        actor=Actor.of(officer),
        action="request.redacted",
        object_type="records_request",
        object_id=request.id,
        details={
            "item_id": item.id,
            "version_id": item.version_id,
            "redaction_id": redaction.id,
            "kind": kind,
            "field": field,
            "start": start,
            "end": end,
            "media_sha256": media_sha256,
            "box": redaction.box,
            "exemption": redaction.exemption,
        },
    )
    return redaction


def _mime_of(session: Session, sha256: str) -> str | None:
    from app.storage.models import StoredObject

    stored = session.get(StoredObject, sha256)
    return stored.mime_type.lower() if stored is not None else None


def secrets_of(
    post: CollectedPost | None, version_text: str, redactions: Sequence[Redaction]
) -> list[tuple[str, str]]:
    """(redacted string, reason) of each text redaction, read from the field it names."""
    fields = text_fields(post, version_text) if post is not None else {POST_TEXT: version_text}
    found: list[tuple[str, str]] = []
    for r in redactions:
        if r.kind != RedactionKind.text or r.start is None or r.end is None:
            continue
        value = version_text if r.field in (None, POST_TEXT) else fields.get(r.field or "", "")
        secret = value[r.start : r.end]
        if secret.strip():
            found.append((secret, r.exemption))
    return found


def _secrets(text: str, redactions: Sequence[Redaction]) -> list[str]:
    return [secret for secret, _ in secrets_of(None, text, redactions)]


def redact_text(text: str, redactions: Sequence[Redaction]) -> str:
    """Replace each span (offsets into `text`) by its marker; overlapping spans merge."""
    spans = sorted(
        (
            (r.start, r.end, r.exemption)
            for r in redactions
            if r.kind == "text"
            and r.field in (None, POST_TEXT)
            and r.start is not None
            and r.end is not None
        ),
        key=lambda s: s[0],
    )
    out: list[str] = []
    cursor = 0
    merged: list[tuple[int, int, list[str]]] = []
    for start, end, why in spans:
        if merged and start < merged[-1][1]:
            last = merged[-1]
            merged[-1] = (last[0], max(last[1], end), [*last[2], why])
        else:
            merged.append((start, end, [why]))
    for start, end, reasons in merged:
        out.append(text[cursor:start])
        out.append(marker("; ".join(dict.fromkeys(reasons))))
        cursor = end
    out.append(text[cursor:])
    return "".join(out)


def _blacked_out(view: SnapshotView, redactions: Sequence[Redaction]) -> dict[str, MediaFile]:
    """{original sha256: its blacked-out copy} for every image with region redactions."""
    boxes: dict[str, list[dict[str, int]]] = {}
    reasons: dict[str, list[str]] = {}
    for r in redactions:
        if r.kind == RedactionKind.region and r.media_sha256 and r.box:
            boxes.setdefault(r.media_sha256, []).append(r.box)
            reasons.setdefault(r.media_sha256, []).append(r.exemption)
    copies: dict[str, MediaFile] = {}
    for item in view.media:
        if item.sha256 in boxes and item.sha256 not in copies:
            data = black_out(item.data, boxes[item.sha256])
            copies[item.sha256] = item.model_copy(
                update={
                    "sha256": hashlib.sha256(data).hexdigest(),
                    "data": data,
                    "mime_type": "image/png",
                    "source_url": None,
                }
            )
    return copies


def _swap_refs(value: Any, copies: dict[str, MediaFile], withheld: set[str]) -> Any:
    """The capture's media references pointed at the blacked-out copies; withheld ones gone."""
    if isinstance(value, dict):
        sha = value.get("sha256")
        if isinstance(sha, str) and sha in copies and "url" in value:
            copy = copies[sha]
            return {
                **value,
                "sha256": copy.sha256,
                "mime_type": copy.mime_type,
                "size": len(copy.data),
            }
        return {k: _swap_refs(v, copies, withheld) for k, v in value.items()}
    if isinstance(value, list):
        return [
            _swap_refs(v, copies, withheld)
            for v in value
            if not (isinstance(v, dict) and v.get("sha256") in withheld and "url" in v)
        ]
    return value


def redacted_view(
    view: SnapshotView,
    version_text: str,
    redactions: Sequence[Redaction],
    *,
    original_sha256: str | None,
    request_number: str,
) -> SnapshotView:
    """The view of a redacted copy: every redacted string replaced by its reason in every
    field, withheld media gone, regions blacked out, no WACZ, no original source embedded (a
    redacted source document stands in for it)."""
    scrub = Scrubber(secrets_of(view.post, version_text, redactions))
    withheld = {
        r.media_sha256: r.exemption for r in redactions if r.kind == "media" and r.media_sha256
    }
    copies = _blacked_out(view, redactions)
    notes: list[str] = []
    for item in view.media:
        if item.role == "wacz":
            withheld.setdefault(item.sha256, "a web archive cannot be redacted")
        elif item.role == "screenshot" and scrub and item.sha256 not in copies:
            # The picture of the page shows its text: with text redacted it is not released
            # unless the officer blacked out its regions.
            withheld.setdefault(
                item.sha256,
                "the screenshot shows redacted text; black out its regions to release it",
            )
    body = redact_text(version_text, redactions)
    body = scrub.text(body)
    for sha, why in withheld.items():
        notes.append(f"[MEDIA WITHHELD: {why}] ({sha[:12]}…)")
    for sha in copies:
        notes.append(f"[REGIONS BLACKED OUT of file {sha[:12]}…]")
    if notes:
        body += "\n" + "\n".join(notes)
    post = view.post
    dumped = post.model_dump(exclude={"source", "history"})
    dumped = _swap_refs(scrub.tree(dumped), copies, set(withheld))
    card = dumped.get("link_card")
    if card and card.get("thumb") and card["thumb"].get("sha256") in withheld:
        card["thumb"] = None
    redacted_post = CollectedPost.model_validate(
        {
            **dumped,
            "text": body,
            "html": None,
            "links": [link for link in dumped.get("links", []) if "[REDACTED:" not in link],
            "replies": [{**reply, "html": None} for reply in dumped.get("replies", [])],
            "quote_of": dumped.get("quote_of") and {**dumped["quote_of"], "html": None},
            "repost_of": dumped.get("repost_of") and {**dumped["repost_of"], "html": None},
            "source": {},
        }
    )
    media = [
        copies.get(m.sha256, m).model_copy(
            update={
                "alt_text": scrub.optional(m.alt_text),
                "source_url": scrub.optional(
                    copies[m.sha256].source_url if m.sha256 in copies else m.source_url
                ),
            }
        )
        for m in view.media
        if m.sha256 not in withheld
    ]
    source_doc = {
        "redacted_copy": True,
        "request": request_number,
        "original_snapshot_sha256": original_sha256,
        "original_source_sha256": view.source_sha256,
        "redactions": [
            {
                "kind": r.kind,
                "field": r.field,
                "start": r.start,
                "end": r.end,
                "media_sha256": r.media_sha256,
                "box": r.box,
                "exemption": r.exemption,
            }
            for r in redactions
        ],
        "withheld": dict(withheld),
        "blacked_out": {sha: copy.sha256 for sha, copy in copies.items()},
        "text": body,
    }
    source = json.dumps(
        source_doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")
    notice = (
        f"REDACTED COPY released for open-records request {request_number}. "
        f"{len(redactions)} redaction(s), each marked where it was made with its reason "
        "(Wis. Stat. 19.36(6)). The archived original is unaltered"
        + (f" (snapshot SHA-256 {original_sha256})." if original_sha256 else ".")
    )
    classification = view.classification
    retention = view.retention
    return view.model_copy(
        update={
            "post": redacted_post,
            "post_url": scrub.text(view.post_url),
            "post_id": scrub.text(view.post_id),
            "notice": notice,
            "diff_from_previous": None,
            "source_json": source,
            "source_sha256": hashlib.sha256(source).hexdigest(),
            "media": media,
            "referenced_files": [],
            "classification": classification.model_copy(
                update={"reasons": [scrub.text(r) for r in classification.reasons]}
            )
            if classification
            else None,
            "retention": retention.model_copy(
                update={"due_reason": scrub.optional(retention.due_reason)}
            )
            if retention
            else None,
        }
    )


def withheld_originals(redactions: Sequence[Redaction]) -> set[str]:
    """The files a redacted copy must not carry as they are: withheld or blacked out."""
    return {
        r.media_sha256
        for r in redactions
        if r.kind in (RedactionKind.media, RedactionKind.region) and r.media_sha256
    }


def original_files_in(pdf: bytes, shas: set[str]) -> set[str]:
    """Which of these original files (by SHA-256) a PDF still carries in any stream."""
    if not shas:
        return set()
    return {
        digest
        for data in pdf_text.raw_streams(pdf)
        if (digest := hashlib.sha256(data).hexdigest()) in shas
    }


def leak_places(pdf: bytes, secrets: Sequence[str]) -> dict[str, list[str]]:
    """For each redacted string found in the PDF, where it was found ("page text",
    "bookmark", "embedded file source.json", ...); strings found nowhere are left out."""
    needles = {secret: normalise(secret) for secret in secrets if normalise(secret)}
    found: dict[str, list[str]] = {}

    def note(secret: str, where: str) -> None:
        places = found.setdefault(secret, [])
        if where not in places:
            places.append(where)

    for part in (*pdf_text.page_texts(pdf), *pdf_text.document_parts(pdf)):
        haystack = Haystack(part.text)
        for secret, needle in needles.items():
            if haystack.holds(needle):
                note(secret, part.where)
    encoded = {secret: secret.encode("utf-8") for secret in needles}
    for data in pdf_text.raw_streams(pdf):
        for secret, raw in encoded.items():
            if raw in data:
                note(secret, "a PDF stream")
    return found


def find_leaks(pdf: bytes, secrets: Sequence[str]) -> list[str]:
    """Which redacted strings can still be found in the PDF: drawn page text (PDFium and
    pypdf), annotations, form fields, bookmarks, metadata, every embedded file and every
    decoded stream, compared normalised (app/open_records/pdf_text.py)."""
    places = leak_places(pdf, secrets)
    return [secret for secret in secrets if secret in places]


def redacted_copy_view(
    session: Session, *, store: ArchiveStore, item: RequestItem, request_number: str
) -> SnapshotView:
    """What the redacted copy of an item renders: its archived version's view with the
    redactions applied (rendered by `release_copy`, or ahead of it in a render pool)."""
    return _views(session, store=store, item=item, request_number=request_number)[1]


def _views(
    session: Session, *, store: ArchiveStore, item: RequestItem, request_number: str
) -> tuple[SnapshotView, SnapshotView]:
    """The item's archived view as it is, and with its redactions applied."""
    redactions = redactions_of(session, item.id)
    if not redactions:
        raise Invalid(f"item {item.id} has no redactions")
    version = session.get(CapturedVersion, item.version_id)
    assert version is not None  # foreign key
    view = build_view(session, store=store, version_id=version.id)
    return view, redacted_view(
        view,
        version.text or "",
        redactions,
        original_sha256=archived_snapshot_sha256(session, version.id),
        request_number=request_number,
    )


def release_copy(
    session: Session,
    *,
    store: ArchiveStore,
    item: RequestItem,
    request_number: str,
    actor: Actor,
    renderer: Renderer = render_snapshot,
) -> str:
    """Render, check and store the redacted copy of an item; returns its SHA-256."""
    view, redacted = _views(session, store=store, item=item, request_number=request_number)
    redactions = redactions_of(session, item.id)
    version = session.get(CapturedVersion, item.version_id)
    assert version is not None  # foreign key
    original = archived_snapshot_sha256(session, version.id)
    pdf = renderer(redacted)
    secrets = [secret for secret, _ in secrets_of(view.post, version.text or "", redactions)]
    leaks = find_leaks(pdf, secrets)
    if leaks:
        raise RedactionLeak(
            f"the redacted copy of item {item.id} still contains redacted text; it was not kept"
        )
    kept = original_files_in(pdf, withheld_originals(redactions))
    if kept:
        raise RedactionLeak(
            f"the redacted copy of item {item.id} still carries a withheld or blacked-out "
            "file as it was; it was not kept"
        )
    obj = put_object(session, store, pdf, mime_type="application/pdf", kind="redacted_copy")
    item.redacted_sha256 = obj.sha256
    record(
        session,
        actor=actor,
        action="request.redacted_copy_made",
        object_type="records_request",
        object_id=item.request_id,
        details={
            "item_id": item.id,
            "version_id": version.id,
            "original_snapshot_sha256": original,
            "redacted_sha256": obj.sha256,
            "redactions": [r.id for r in redactions],
        },
    )
    return obj.sha256


def read_released_copy(
    session: Session, *, store: ArchiveStore, item: RequestItem, officer: User
) -> bytes:
    if item.redacted_sha256 is None:
        raise Conflict(f"item {item.id} has no redacted copy")
    data = store.get(item.redacted_sha256)  # verified against its hash on read
    record(
        session,
        actor=Actor.of(officer),
        action="request.redacted_copy_viewed",
        object_type="records_request",
        object_id=item.request_id,
        details={"item_id": item.id, "sha256": item.redacted_sha256},
    )
    return data


def list_fields(session: Session, *, item: RequestItem, officer: User) -> dict[str, str]:
    """The item's text fields (a view of the version's content, audited)."""
    version = session.get(CapturedVersion, item.version_id)
    assert version is not None  # foreign key
    fields = item_fields(version)
    record(
        session,
        actor=Actor.of(officer),
        action="request.item_fields_viewed",
        object_type="records_request",
        object_id=item.request_id,
        details={"item_id": item.id, "version_id": version.id, "fields": len(fields)},
    )
    return fields
