"""The audit chain anchored outside the database.

The hash chain (app/audit) shows an event edited, inserted or deleted *inside* a chain whose
head is trusted; someone who can write the database can still rewrite every event and
recompute every hash and the head. An anchor takes the head out of the database's reach:

* once a day (`anchor_chain`, the `audit.anchor` job) the head — the last event's id and hash
  and the number of events — is written to the archive store as a write-once object (the
  local folder's read-only files, never replaced; on S3 a create-only put, under Object Lock
  in COMPLIANCE mode for `POSTVAULT_AUDIT_ANCHOR_RETAIN_YEARS` where the bucket has it);
* when a time-stamping authority is configured (`POSTVAULT_TSA_URL`, the evidence timestamps
  of app/timestamps), the TSA also signs that object's SHA-256 with the time;
* each anchor names the object of the one before it, so a removed anchor row is noticed.

`verify_anchored` walks the chain (app.audit.service.verify_chain) and then checks it against
every anchor: the stored object must be there and say what its row says, and the event it
names must still have the hash it had, with the same number of events up to it. A chain
rewritten consistently in the database passes the chain walk and fails here, naming the
anchor (and its date) that no longer matches.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.audit.models import AuditAnchor, AuditChainHead, AuditEvent
from app.audit.service import Actor, ChainReport, record, verify_chain
from app.config import Settings
from app.db import utcnow
from app.storage.base import ArchiveStore, StoreError
from app.storage.service import put_object
from app.timestamps.models import TimestampStatus
from app.timestamps.service import (
    TimestampError,
    check_reply,
    load_anchors,
    timestamp_object,
    token_of,
)

log = logging.getLogger("postvault.audit")

ANCHOR_FORMAT = "postvault-audit-anchor/1"
ANCHOR_KIND = "audit_anchor"
ANCHOR_MEDIA_TYPE = "application/json"
SYSTEM = Actor.system("audit.anchor")


def anchor_document(anchor: AuditAnchor) -> bytes:
    """The stored object's bytes: canonical JSON of the head as it was anchored."""
    content: dict[str, Any] = {
        "format": ANCHOR_FORMAT,
        "anchored_at": anchor.anchored_at.astimezone(dt.UTC).isoformat(),
        "last_event_id": anchor.last_event_id,
        "event_count": anchor.event_count,
        "head_hash": anchor.head_hash,
        "previous_anchor_sha256": anchor.previous_object_sha256,
    }
    return json.dumps(content, sort_keys=True, separators=(",", ":")).encode("utf-8")


def latest_anchor(session: Session) -> AuditAnchor | None:
    return session.scalar(select(AuditAnchor).order_by(AuditAnchor.id.desc()).limit(1))


def anchor_chain(
    session: Session,
    *,
    store: ArchiveStore,
    settings: Settings,
    now: dt.datetime | None = None,
) -> AuditAnchor | None:
    """Anchor the chain's head (flush, never commit). None when there is nothing new since the
    last anchor (an empty chain, or only that anchor's own event): a run twice does no harm.

    The head row is locked first, so two workers anchoring at once write one anchor, and no
    event is appended between reading the head and anchoring it."""
    head = session.scalars(
        select(AuditChainHead).where(AuditChainHead.id == 1).with_for_update()
    ).first()
    if head is None:
        return None
    last = latest_anchor(session)
    if last is not None and head.last_event_id in (last.last_event_id, last.audit_event_id):
        return None
    moment = now or utcnow()
    anchor = AuditAnchor(
        anchored_at=moment,
        last_event_id=head.last_event_id,
        event_count=head.event_count,
        head_hash=head.last_hash,
        previous_object_sha256=last.object_sha256 if last else None,
    )
    data = anchor_document(anchor)
    retain_until = moment.date() + dt.timedelta(
        days=round(365.25 * settings.audit_anchor_retain_years)
    )
    stored = put_object(
        session,
        store,
        data,
        mime_type=ANCHOR_MEDIA_TYPE,
        kind=ANCHOR_KIND,
        retain_until=retain_until,
    )
    anchor.object_sha256 = stored.sha256
    # The event first, then the row (which names it): anchor rows are never updated.
    event = record(
        session,
        actor=SYSTEM,
        action="audit.anchored",
        object_type="audit_anchor",
        object_id=anchor.object_sha256,
        details={
            "last_event_id": anchor.last_event_id,
            "event_count": anchor.event_count,
            "head_hash": anchor.head_hash,
            "object_sha256": anchor.object_sha256,
            "previous_anchor_sha256": anchor.previous_object_sha256,
            "retain_until": retain_until,
        },
    )
    anchor.audit_event_id = event.id
    session.add(anchor)
    session.flush()
    return anchor


def timestamp_anchor(
    session: Session,
    *,
    anchor_id: int,
    store: ArchiveStore,
    settings: Settings,
    post: Any = None,
) -> str | None:
    """Ask the configured TSA to sign the anchor's object (in its own transaction, after the
    anchor is committed: the head stays unlocked while the TSA answers). Returns the token's
    status, or None without a TSA. A TSA that fails leaves the token pending for the
    timestamp retry job (app.snapshots.jobs)."""
    if settings.tsa_url is None:
        return None
    anchor = session.get(AuditAnchor, anchor_id)
    if anchor is None:
        return None
    data = store.get(anchor.object_sha256)
    row = timestamp_object(
        session,
        store=store,
        settings=settings,
        data=data,
        kind=ANCHOR_KIND,
        post=post,
        actor=SYSTEM,
    )
    return str(row.status) if row is not None else None


@dataclass(frozen=True)
class AnchorProblem:
    anchor_id: int
    event_id: int | None
    problem: str


def _when(anchor: AuditAnchor) -> str:
    return f"anchor {anchor.id} of {anchor.anchored_at.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC"


def _check_one(
    session: Session,
    anchor: AuditAnchor,
    previous: AuditAnchor | None,
    *,
    store: ArchiveStore,
    settings: Settings,
) -> AnchorProblem | None:
    name = _when(anchor)
    try:
        stored = json.loads(store.get(anchor.object_sha256))
    except StoreError as exc:
        return AnchorProblem(
            anchor.id, None, f"{name}: its write-once object cannot be read: {exc}"
        )
    except ValueError:
        return AnchorProblem(
            anchor.id, None, f"{name}: its object {anchor.object_sha256} is not an anchor"
        )
    if not isinstance(stored, dict) or stored.get("format") != ANCHOR_FORMAT:
        return AnchorProblem(
            anchor.id, None, f"{name}: its object {anchor.object_sha256} is not an anchor"
        )
    if (
        stored.get("last_event_id") != anchor.last_event_id
        or stored.get("event_count") != anchor.event_count
        or stored.get("head_hash") != anchor.head_hash
        or stored.get("previous_anchor_sha256") != anchor.previous_object_sha256
    ):
        return AnchorProblem(
            anchor.id,
            anchor.last_event_id,
            f"{name}: its row in the database no longer says what its write-once object "
            f"{anchor.object_sha256} says (event {stored.get('last_event_id')}, hash "
            f"{stored.get('head_hash')}): the anchor was altered in the database",
        )
    expected_previous = previous.object_sha256 if previous is not None else None
    if anchor.previous_object_sha256 != expected_previous:
        return AnchorProblem(
            anchor.id,
            anchor.last_event_id,
            f"{name}: it follows anchor object {anchor.previous_object_sha256}, which is not "
            "the anchor before it in the database: an anchor was removed",
        )
    event = session.get(AuditEvent, anchor.last_event_id)
    if event is None or event.hash != anchor.head_hash:
        found = f"has hash {event.hash}" if event is not None else "is missing"
        return AnchorProblem(
            anchor.id,
            anchor.last_event_id,
            f"{name}: event {anchor.last_event_id} had hash {anchor.head_hash} when it was "
            f"anchored and now {found}: the audit log was rewritten after {anchor.anchored_at:%Y-%m-%d}",
        )
    count = (
        session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.id <= anchor.last_event_id)
        )
        or 0
    )
    if count != anchor.event_count:
        return AnchorProblem(
            anchor.id,
            anchor.last_event_id,
            f"{name}: it counted {anchor.event_count} events up to event "
            f"{anchor.last_event_id}; the log now holds {count}",
        )
    token = token_of(session, anchor.object_sha256)
    if token is not None and token.status == TimestampStatus.stamped and token.token_sha256:
        try:
            check_reply(
                store.get(token.token_sha256),
                sha256=anchor.object_sha256,
                nonce=None,
                anchors=load_anchors(settings.tsa_ca_file),
            )
        except (StoreError, TimestampError) as exc:
            return AnchorProblem(
                anchor.id, anchor.last_event_id, f"{name}: its TSA timestamp fails: {exc}"
            )
    return None


@dataclass(frozen=True)
class AnchoredReport:
    chain: ChainReport
    anchors_checked: int
    anchor_problem: AnchorProblem | None = None

    @property
    def ok(self) -> bool:
        return self.chain.ok and self.anchor_problem is None

    @property
    def first_broken_event_id(self) -> int | None:
        if not self.chain.ok:
            return self.chain.first_broken_event_id
        return self.anchor_problem.event_id if self.anchor_problem else None

    @property
    def problem(self) -> str | None:
        if not self.chain.ok:
            return self.chain.problem
        return self.anchor_problem.problem if self.anchor_problem else None

    @property
    def anchor_id(self) -> int | None:
        return self.anchor_problem.anchor_id if self.anchor_problem else None


def verify_anchored(session: Session, *, store: ArchiveStore, settings: Settings) -> AnchoredReport:
    """The chain walk, then every anchor (oldest first); the first problem is named."""
    chain = verify_chain(session)
    checked = 0
    previous: AuditAnchor | None = None
    for anchor in session.scalars(select(AuditAnchor).order_by(AuditAnchor.id)).all():
        problem = _check_one(session, anchor, previous, store=store, settings=settings)
        checked += 1
        if problem is not None:
            log.error("audit anchor check failed: %s", problem.problem)
            return AnchoredReport(chain, checked, problem)
        previous = anchor
    return AnchoredReport(chain, checked)
