"""The audit log: append an event in the caller's transaction; verify the hash chain."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, Table, bindparam, func, insert, select, update
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from app.audit.models import AuditChainHead, AuditEvent
from app.auth.models import User
from app.bulk import insert_rows
from app.db import utcnow
from app.errors import AuditedRefusal

GENESIS_HASH = "0" * 64

# Built once (their compiled form is cached): every append locks and moves the head.
_HEAD_FOR_UPDATE = select(AuditChainHead).where(AuditChainHead.id == 1).with_for_update()
_HEAD_TABLE = AuditChainHead.__table__
assert isinstance(_HEAD_TABLE, Table)
_EVENT_TABLE = AuditEvent.__table__
assert isinstance(_EVENT_TABLE, Table)
_INSERT_EVENT = insert(_EVENT_TABLE)
_INSERT_HEAD = insert(_HEAD_TABLE)
# The head's columns, not its ORM object: `record` reads and moves the head in two statements.
_HEAD_ROW_FOR_UPDATE = (
    select(_HEAD_TABLE.c.last_hash, _HEAD_TABLE.c.event_count)
    .where(_HEAD_TABLE.c.id == 1)
    .with_for_update()
)
_MOVE_HEAD = (
    update(_HEAD_TABLE)
    .where(_HEAD_TABLE.c.id == 1)
    .values(
        last_event_id=bindparam("new_last_event_id"),
        last_hash=bindparam("new_last_hash"),
        event_count=bindparam("new_event_count"),
    )
)


@dataclass(frozen=True)
class Actor:
    """Who did it: a user, or a named part of the system (a worker, the scheduler)."""

    user_id: int | None
    label: str

    @classmethod
    def of(cls, user: User) -> Actor:
        return cls(user_id=user.id, label=f"user:{user.id} {user.email}")

    @classmethod
    def system(cls, name: str) -> Actor:
        return cls(user_id=None, label=f"system:{name}")


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    return value


def _event_hash(event: AuditEvent) -> str:
    return _content_hash(
        {
            "occurred_at": event.occurred_at,
            "actor_id": event.actor_id,
            "actor": event.actor,
            "action": event.action,
            "object_type": event.object_type,
            "object_id": event.object_id,
            "details": event.details,
            "prev_hash": event.prev_hash,
        }
    )


def _content_hash(values: dict[str, Any]) -> str:
    """The hash of an event from its column values (what `_event_hash` reads of a row)."""
    content = {**values, "occurred_at": values["occurred_at"].astimezone(dt.UTC).isoformat()}
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _event_row(
    actor: Actor,
    action: str,
    object_type: str,
    object_id: object,
    details: dict[str, Any] | None,
    prev_hash: str,
) -> dict[str, Any]:
    """The column values of the event appended after `prev_hash`, its hash included."""
    row: dict[str, Any] = {
        "occurred_at": utcnow(),
        "actor_id": actor.user_id,
        "actor": actor.label,
        "action": action,
        "object_type": object_type,
        "object_id": str(object_id),
        "details": _jsonable(details or {}),
        "prev_hash": prev_hash,
    }
    row["hash"] = _content_hash(row)
    return row


def record(
    session: Session,
    *,
    actor: Actor,
    action: str,
    object_type: str,
    object_id: object,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event to the chain, in the caller's transaction (flush, never commit)."""
    # What the caller added is written first, as the autoflush of the head's read did.
    session.flush()
    head = session.execute(_HEAD_ROW_FOR_UPDATE).first()
    prev_hash = head.last_hash if head else GENESIS_HASH
    values = _event_row(actor, action, object_type, object_id, details, prev_hash)
    # One INSERT, one UPDATE: the same rows a flush of a new event and of the loaded head
    # would write, without the unit of work's cost for a single row (a capture appends
    # several events per post).
    inserted = cast(CursorResult[Any], session.execute(_INSERT_EVENT, values))
    new_key = inserted.inserted_primary_key
    assert new_key is not None
    event_id = int(new_key[0])
    if head is None:
        moved = {"last_event_id": event_id, "last_hash": values["hash"], "event_count": 1}
        session.execute(_INSERT_HEAD, {"id": 1, **moved})
    else:
        moved = {
            "last_event_id": event_id,
            "last_hash": values["hash"],
            "event_count": head.event_count + 1,
        }
        session.execute(_MOVE_HEAD, {f"new_{key}": value for key, value in moved.items()})
    # A head loaded in this session (record_many, verify_chain) is told the new values.
    loaded = session.identity_map.get(identity_key(AuditChainHead, 1))
    if loaded is not None:
        for key, value in moved.items():
            set_committed_value(loaded, key, value)
    # The event as the session would hold it after a flush: persistent, its columns loaded.
    event = AuditEvent(id=event_id, **values)
    make_transient_to_detached(event)
    session.add(event)
    return event


def record_many(
    session: Session,
    *,
    actor: Actor,
    events: Sequence[tuple[str, str, object, dict[str, Any] | None]],
) -> list[int]:
    """Append several events, in order, exactly as `record` would one by one: (action, object
    type, object id, details) each. One lock of the chain head and one INSERT for all of them
    (a re-classification writes thousands). Returns the events' ids."""
    if not events:
        return []
    head = session.scalars(_HEAD_FOR_UPDATE).first()
    prev_hash = head.last_hash if head else GENESIS_HASH
    rows = []
    for action, object_type, object_id, details in events:
        row = _event_row(actor, action, object_type, object_id, details, prev_hash)
        prev_hash = row["hash"]
        rows.append(row)
    ids = insert_rows(session, AuditEvent.__table__, rows, return_ids=True)
    if head is None:
        session.add(
            AuditChainHead(id=1, last_event_id=ids[-1], last_hash=prev_hash, event_count=len(ids))
        )
    else:
        head.last_event_id = ids[-1]
        head.last_hash = prev_hash
        head.event_count += len(ids)
    session.flush()
    return ids


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    events_checked: int
    first_broken_event_id: int | None = None
    problem: str | None = None


def verify_chain(session: Session, *, batch_size: int = 5000) -> ChainReport:
    """Walk the chain in order; name the first event whose link or content does not hold."""
    expected_prev = GENESIS_HASH
    checked = 0
    last_id = 0
    last_hash = GENESIS_HASH
    while True:
        events = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.id > last_id)
            .order_by(AuditEvent.id)
            .limit(batch_size)
        ).all()
        if not events:
            break
        for event in events:
            if event.prev_hash != expected_prev:
                return ChainReport(
                    False,
                    checked,
                    event.id,
                    f"event {event.id} does not follow the event before it "
                    "(an event before it was deleted, inserted or altered)",
                )
            if _event_hash(event) != event.hash:
                return ChainReport(
                    False, checked, event.id, f"event {event.id} was altered after it was written"
                )
            expected_prev = event.hash
            checked += 1
            last_id = event.id
            last_hash = event.hash
        session.expunge_all()
    head = session.get(AuditChainHead, 1)
    total = session.scalar(select(func.count()).select_from(AuditEvent)) or 0
    if head is not None and (head.last_hash != last_hash or head.event_count != total):
        return ChainReport(
            False,
            checked,
            head.last_event_id,
            f"the chain ends at event {last_id or 'none'} but its head records event "
            f"{head.last_event_id} ({head.event_count} events): events were cut from the end",
        )
    return ChainReport(True, checked)


def list_events(
    session: Session,
    *,
    action: str | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    actor_id: int | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[AuditEvent], int]:
    query = select(AuditEvent)
    if action:
        query = query.where(AuditEvent.action == action)
    if object_type:
        query = query.where(AuditEvent.object_type == object_type)
    if object_id:
        query = query.where(AuditEvent.object_id == object_id)
    if actor_id is not None:
        query = query.where(AuditEvent.actor_id == actor_id)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    events = session.scalars(query.order_by(AuditEvent.id.desc()).limit(limit).offset(offset))
    return list(events), total


def record_refusal(session: Session, refusal: AuditedRefusal) -> AuditEvent:
    """Keep a refused attempt (a hold stopped an edit...) in the log, in a transaction other
    than the refused one's, which is rolled back."""
    return record(
        session,
        actor=Actor(user_id=refusal.actor_id, label=refusal.actor),
        action=refusal.action,
        object_type=refusal.object_type,
        object_id=refusal.object_id,
        details={**refusal.details, "refused": refusal.message},
    )


VIEW_ACTION = "view"


def record_view(
    session: Session,
    *,
    viewer: User,
    post_ids: Iterable[int],
    what: str,
    now: dt.datetime | None = None,
) -> int:
    """Every view of a post's content is audited: a `view` event (who, which post, what they
    read), coalesced per user, post and clock hour so that paging through results or reloading
    a page keeps the log readable. Returns how many events were written."""
    ids = sorted(set(post_ids))
    if not ids:
        return 0
    moment = now or utcnow()
    hour = moment.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)
    already = set(
        session.scalars(
            select(AuditEvent.object_id).where(
                AuditEvent.action == VIEW_ACTION,
                AuditEvent.object_type == "post",
                AuditEvent.actor_id == viewer.id,
                AuditEvent.occurred_at >= hour,
                AuditEvent.occurred_at < hour + dt.timedelta(hours=1),
                AuditEvent.object_id.in_([str(i) for i in ids]),
            )
        )
    )
    details = {"what": what, "coalesced_per": "user, post and hour", "hour": hour}
    # One lock of the chain head and one INSERT for the page's views (a search page shows
    # up to a hundred posts), the same events and chain as one `record` each.
    events = [
        (VIEW_ACTION, "post", post_id, details) for post_id in ids if str(post_id) not in already
    ]
    return len(record_many(session, actor=Actor.of(viewer), events=events))
