"""Redaction (Wis. Stat. 19.36(6)): release the non-exempt part, with the reason at each cut.

A redacted copy is rendered anew from the archived version with the redacted text replaced,
everywhere it occurs, by a printed reason, and withheld media left out of the page and the
attachments. The original snapshot is never touched; the redacted copy is its own object with
its own hash, and the PDF is checked before it is kept: if any redacted text can still be found
in it (page text read by PDFium and pypdf, annotations, form fields, bookmarks, metadata, any
embedded file or stream), it is refused.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.service import Actor, record
from app.auth.models import User
from app.errors import Conflict, Invalid
from app.open_records import pdf_text
from app.open_records.models import Redaction, RequestItem
from app.open_records.pdf_text import normalise
from app.open_records.requests import get_item, get_request, redactions_of
from app.platforms.collected import CollectedPost, EmbeddedPost, LinkCard, Reply
from app.posts.models import CapturedVersion
from app.snapshots.models import Snapshot
from app.snapshots.render import render_snapshot
from app.snapshots.schemas import SnapshotView
from app.snapshots.service import build_view
from app.storage.base import ArchiveStore
from app.storage.service import put_object

Renderer = Callable[[SnapshotView], bytes]


class RedactionLeak(Conflict):
    """The rendered copy still contains redacted text; it is not kept."""


def marker(exemption: str) -> str:
    return f"[REDACTED: {exemption}]"


def archived_snapshot_sha256(session: Session, version_id: int) -> str | None:
    return session.scalar(
        select(Snapshot.sha256)
        .where(Snapshot.version_id == version_id, Snapshot.is_current.is_(True))
        .order_by(Snapshot.id.desc())
        .limit(1)
    )


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
) -> Redaction:
    request = get_request(session, request_id)
    item = get_item(session, request_id=request_id, item_id=item_id)
    if item.removed_at is not None:
        raise Conflict(f"item {item_id} was removed from the set")
    version = session.get(CapturedVersion, item.version_id)
    assert version is not None  # foreign key
    if kind == "text":
        text = version.text or ""
        if start is None or end is None or not 0 <= start < end <= len(text):
            raise Invalid(f"the span must lie within the item's text (0 to {len(text)})")
    else:
        shas = {m.sha256 for m in version.media}
        if media_sha256 not in shas:
            raise Invalid(f"media {media_sha256} is not part of version {version.number}")
    redaction = Redaction(
        item_id=item.id,
        kind=kind,
        start=start,
        end=end,
        media_sha256=media_sha256,
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
            "kind": kind,
            "start": start,
            "end": end,
            "media_sha256": media_sha256,
            "exemption": redaction.exemption,
        },
    )
    return redaction


def _secrets(text: str, redactions: Sequence[Redaction]) -> list[str]:
    found = [
        text[r.start : r.end]
        for r in redactions
        if r.kind == "text" and r.start is not None and r.end is not None
    ]
    return [s for s in found if s.strip()]


def redact_text(text: str, redactions: Sequence[Redaction]) -> str:
    """Replace each span (offsets into `text`) by its marker; overlapping spans merge."""
    spans = sorted(
        (
            (r.start, r.end, r.exemption)
            for r in redactions
            if r.kind == "text" and r.start is not None and r.end is not None
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


def _scrub(value: str | None, secrets: Sequence[str], reason: str) -> str | None:
    if value is None:
        return None
    for secret in secrets:
        value = value.replace(secret, marker(reason))
    return value


def redacted_view(
    view: SnapshotView,
    version_text: str,
    redactions: Sequence[Redaction],
    *,
    original_sha256: str | None,
    request_number: str,
) -> SnapshotView:
    """The view of a redacted copy: redacted text everywhere, withheld media gone, no original
    source embedded (a redacted source document stands in for it)."""
    secrets = _secrets(version_text, redactions)
    first_reason = next((r.exemption for r in redactions if r.kind == "text"), "exempt")
    withheld = {
        r.media_sha256: r.exemption for r in redactions if r.kind == "media" and r.media_sha256
    }
    body = redact_text(version_text, redactions)
    for sha, why in withheld.items():
        body += f"\n[MEDIA WITHHELD: {why}] ({sha[:12]}…)"
    post = view.post

    def scrub_embedded(embedded: EmbeddedPost | None) -> EmbeddedPost | None:
        if embedded is None:
            return None
        return embedded.model_copy(
            update={
                "text": _scrub(embedded.text, secrets, first_reason) or "",
                "html": None,
                "media": [m for m in embedded.media if m.sha256 not in withheld],
            }
        )

    def scrub_reply(reply: Reply) -> Reply:
        return reply.model_copy(
            update={
                "text": _scrub(reply.text, secrets, first_reason) or "",
                "html": None,
                "media": [m for m in reply.media if m.sha256 not in withheld],
            }
        )

    card = post.link_card
    if card is not None and any(
        s in " ".join(filter(None, [card.url, card.title, card.description])) for s in secrets
    ):
        card = LinkCard(url="about:blank", title=marker(first_reason), description=None, thumb=None)
    redacted_post = CollectedPost.model_validate(
        {
            **post.model_dump(exclude={"source", "history"}),
            "title": None,
            "text": body,
            "html": None,
            "links": [link for link in post.links if not any(s in link for s in secrets)],
            "media": [m.model_dump() for m in post.media if m.sha256 not in withheld],
            "link_card": card.model_dump() if card else None,
            "replies": [scrub_reply(r).model_dump() for r in post.replies],
            "quote_of": (q := scrub_embedded(post.quote_of)) and q.model_dump(),
            "repost_of": (p := scrub_embedded(post.repost_of)) and p.model_dump(),
            "extra": {},
            "source": {},
        }
    )
    source_doc = {
        "redacted_copy": True,
        "request": request_number,
        "original_snapshot_sha256": original_sha256,
        "original_source_sha256": view.source_sha256,
        "redactions": [
            {
                "kind": r.kind,
                "start": r.start,
                "end": r.end,
                "media_sha256": r.media_sha256,
                "exemption": r.exemption,
            }
            for r in redactions
        ],
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
    return view.model_copy(
        update={
            "post": redacted_post,
            "notice": notice,
            "diff_from_previous": None,
            "source_json": source,
            "source_sha256": hashlib.sha256(source).hexdigest(),
            "media": [m for m in view.media if m.sha256 not in withheld],
            "classification": view.classification.model_copy(
                update={
                    "reasons": [
                        _scrub(r, secrets, first_reason) or "" for r in view.classification.reasons
                    ]
                }
            )
            if view.classification
            else None,
        }
    )


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
        haystack = normalise(part.text)
        for secret, needle in needles.items():
            if needle in haystack:
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
    redactions = redactions_of(session, item.id)
    if not redactions:
        raise Invalid(f"item {item.id} has no redactions")
    version = session.get(CapturedVersion, item.version_id)
    assert version is not None  # foreign key
    return redacted_view(
        build_view(session, store=store, version_id=version.id),
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
    view = redacted_copy_view(session, store=store, item=item, request_number=request_number)
    redactions = redactions_of(session, item.id)
    version = session.get(CapturedVersion, item.version_id)
    assert version is not None  # foreign key
    original = archived_snapshot_sha256(session, version.id)
    pdf = renderer(view)
    leaks = find_leaks(pdf, _secrets(version.text or "", redactions))
    if leaks:
        raise RedactionLeak(
            f"the redacted copy of item {item.id} still contains redacted text; it was not kept"
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
