"""Fixity: re-hash stored objects, record each check, and summarise the latest checks.

Session-first services: they flush, the caller owns the transaction.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from app.audit.service import Actor, record
from app.db import utcnow
from app.storage.base import ArchiveStore, ObjectMissing, StoreError
from app.storage.models import FixityCheck, StoredObject
from app.storage.schemas import (
    FixityCheckOut,
    FixityOverview,
    FixityProblem,
    FixityReport,
    FixitySummary,
)

# Logged where fixity problems were always logged, so alerting on this logger keeps working.
log = logging.getLogger("postvault.snapshots")

SYSTEM = Actor.system("snapshots")  # the actor fixity checks were recorded under before the move


def objects_to_check(session: Session, *, older_than: dt.timedelta | None = None) -> list[str]:
    """Keys of stored objects not destroyed; with `older_than`, only those not checked within
    that time (so a daily run spreads the checks over the interval)."""
    query = select(StoredObject.sha256).where(StoredObject.destroyed_at.is_(None))
    if older_than is not None:
        latest = (
            select(FixityCheck.sha256, func.max(FixityCheck.checked_at).label("checked_at"))
            .group_by(FixityCheck.sha256)
            .subquery()
        )
        query = query.outerjoin(latest, latest.c.sha256 == StoredObject.sha256).where(
            or_(latest.c.checked_at.is_(None), latest.c.checked_at < utcnow() - older_than)
        )
    return list(session.scalars(query.order_by(StoredObject.sha256)))


def check_fixity(
    session: Session,
    *,
    store: ArchiveStore,
    keys: Sequence[str] | None = None,
    older_than: dt.timedelta | None = None,
    progress: Callable[[int], object] | None = None,
    actor: Actor = SYSTEM,
) -> FixityReport:
    """Re-hash stored objects (all not destroyed, or `keys`) and record a check for each;
    mismatches and missing objects are logged at ERROR level."""
    if keys is None:
        keys = objects_to_check(session, older_than=older_than)
    report = FixityReport()
    kinds = dict(
        session.execute(
            select(StoredObject.sha256, StoredObject.kind).where(
                StoredObject.destroyed_at.is_(None)
            )
        ).all()
    )
    for index, key in enumerate(keys, start=1):
        problem: FixityProblem | None = None
        try:
            actual = store.verify(key)
            if actual != key:
                problem = FixityProblem(
                    sha256=key,
                    kind=kinds.get(key),
                    problem="mismatch",
                    actual_sha256=actual,
                    detail=f"the stored bytes hash to {actual}",
                )
        except ObjectMissing as exc:
            problem = FixityProblem(
                sha256=key, kind=kinds.get(key), problem="missing", detail=str(exc)
            )
        except StoreError as exc:
            problem = FixityProblem(
                sha256=key, kind=kinds.get(key), problem="unreadable", detail=str(exc)
            )
        report.checked += 1
        if problem is None:
            report.ok += 1
            session.add(FixityCheck(sha256=key, checked_at=utcnow(), ok=True))
        else:
            report.problems.append(problem)
            log.error(
                "fixity: %s object %s is %s: %s",
                problem.kind or "stored",
                key,
                problem.problem,
                problem.detail,
            )
            session.add(
                FixityCheck(
                    sha256=key,
                    checked_at=utcnow(),
                    ok=False,
                    problem=problem.problem,
                    actual_sha256=problem.actual_sha256,
                    detail=problem.detail,
                )
            )
        if index % 500 == 0:
            session.flush()
        if progress:
            progress(1)
    session.flush()
    if report.checked:
        record(
            session,
            actor=actor,
            action="fixity.checked",
            object_type="archive",
            object_id="store",
            details={
                "checked": report.checked,
                "ok": report.ok,
                "missing": [p.sha256 for p in report.missing][:100],
                "mismatched": [p.sha256 for p in report.mismatched][:100],
                "unreadable": [p.sha256 for p in report.problems if p.problem == "unreadable"][
                    :100
                ],
            },
        )
    return report


def fixity_overview(session: Session, *, limit: int = 100, offset: int = 0) -> FixityOverview:
    """The latest check of each object, failures first, with a summary."""
    latest_ids = select(func.max(FixityCheck.id)).group_by(FixityCheck.sha256)
    live = StoredObject.destroyed_at.is_(None)
    base = (
        select(FixityCheck, StoredObject.kind)
        .join(StoredObject, StoredObject.sha256 == FixityCheck.sha256)
        .where(FixityCheck.id.in_(latest_ids), live)
    )
    objects = session.scalar(select(func.count()).select_from(StoredObject).where(live)) or 0
    counts = session.execute(
        select(
            func.count(),
            func.count().filter(FixityCheck.ok.is_(True)),
            func.max(FixityCheck.checked_at),
        )
        .select_from(FixityCheck)
        .join(StoredObject, and_(StoredObject.sha256 == FixityCheck.sha256, live))
        .where(FixityCheck.id.in_(latest_ids))
    ).one()
    checked, ok, last = int(counts[0] or 0), int(counts[1] or 0), counts[2]
    rows = session.execute(
        base.order_by(FixityCheck.ok.asc(), FixityCheck.checked_at.desc(), FixityCheck.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    items = []
    for check, kind in rows:
        item = FixityCheckOut.model_validate(check)
        item.kind = kind
        items.append(item)
    return FixityOverview(
        summary=FixitySummary(
            objects=objects,
            checked=checked,
            never_checked=max(objects - checked, 0),
            ok=ok,
            failing=checked - ok,
            last_checked_at=last,
        ),
        items=items,
        total=checked,
        limit=limit,
        offset=offset,
    )
