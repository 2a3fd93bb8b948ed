"""One disposition run at a time, and runs a dead process left `running` are resumed.

`run_batch` makes every step idempotent, so a stopped run resumes safely; what it lacked is
knowing that a run stopped. The run now holds the batch's lease (app/leases.py), renewed while
it works; the resume job (at start-up and every minute) takes over a `running` batch whose
lease ran out, and two processes never run one batch at once.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable

from sqlalchemy import select

from app import leases
from app.audit.service import Actor, record
from app.db import Database, utcnow
from app.errors import Conflict
from app.retention.disposition_run import RunInterrupted, RunResult, StepHook, run_batch
from app.retention.models import BatchStatus, DispositionBatch
from app.storage.base import ArchiveStore

log = logging.getLogger("postvault.retention")

RESUME_ACTOR = Actor.system("retention.resume_disposition")


__all__ = ["RunInterrupted", "resume_disposition", "run_batch_leased"]


def run_batch_leased(
    database: Database,
    *,
    batch_id: int,
    store: ArchiveStore,
    actor: Actor,
    today: dt.date,
    timezone: str,
    lease_seconds: float = 120,
    stop: threading.Event | None = None,
    on_step: StepHook | None = None,
    clock: Callable[[], dt.datetime] = utcnow,
    resuming: bool = False,
) -> RunResult:
    """`run_batch` under the batch's lease. A batch another live run holds is a Conflict; a
    run told to stop ends after its current step and lets the lease go, so the next start
    resumes it at once."""
    owner = leases.new_owner()
    with database.session() as session:
        batch = session.get(DispositionBatch, batch_id)
        previous_owner = batch.lease_owner if batch is not None else None
        if batch is not None and batch.status in (BatchStatus.approved, BatchStatus.running):
            if not leases.claim(
                session,
                DispositionBatch,
                batch_id,
                owner=owner,
                statuses=(BatchStatus.approved, BatchStatus.running),
                lease_seconds=lease_seconds,
                now=clock(),
            ):
                raise Conflict(f"batch {batch_id} is being run by another process right now")
            if resuming:
                record(
                    session,
                    actor=actor,
                    action="disposition.resumed",
                    object_type="disposition_batch",
                    object_id=batch_id,
                    details={"previous_owner": previous_owner},
                )
        else:
            # Completed, cancelled, proposed or missing: run_batch answers for those.
            return run_batch(
                database,
                batch_id=batch_id,
                store=store,
                actor=actor,
                today=today,
                timezone=timezone,
                on_step=on_step,
            )

    def fenced_step(step: str) -> None:
        # Called after each committed step: the next one starts only under a held lease.
        if on_step is not None:
            on_step(step)
        if beat.lost.is_set():
            raise RunInterrupted(f"the lease on batch {batch_id} was lost to another run")
        if stop is not None and stop.is_set() and step != "completed":
            raise RunInterrupted("the process is stopping")

    with leases.Heartbeat(
        database, DispositionBatch, batch_id, owner=owner, seconds=lease_seconds
    ) as beat:
        try:
            result = run_batch(
                database,
                batch_id=batch_id,
                store=store,
                actor=actor,
                today=today,
                timezone=timezone,
                on_step=fenced_step,
            )
        except (RunInterrupted, Conflict):
            leases.let_go(database, DispositionBatch, batch_id, owner=owner)
            raise
    leases.let_go(database, DispositionBatch, batch_id, owner=owner)
    return result


def resume_disposition(
    database: Database,
    store: ArchiveStore,
    *,
    today: dt.date,
    timezone: str,
    lease_seconds: float = 120,
    stop: threading.Event | None = None,
    clock: Callable[[], dt.datetime] = utcnow,
) -> list[int]:
    """Resume every `running` batch nobody holds (its process died or stopped part-way);
    returns the ids resumed."""
    with database.session() as session:
        ids = list(
            session.scalars(
                select(DispositionBatch.id)
                .where(
                    DispositionBatch.status == BatchStatus.running,
                    leases.expired(DispositionBatch, clock()),
                )
                .order_by(DispositionBatch.id)
            )
        )
    resumed: list[int] = []
    for batch_id in ids:
        if stop is not None and stop.is_set():
            break
        try:
            run_batch_leased(
                database,
                batch_id=batch_id,
                store=store,
                actor=RESUME_ACTOR,
                today=today,
                timezone=timezone,
                lease_seconds=lease_seconds,
                stop=stop,
                clock=clock,
                resuming=True,
            )
        except (Conflict, RunInterrupted) as exc:
            log.info("disposition batch %s not resumed now: %s", batch_id, exc)
            continue
        resumed.append(batch_id)
    return resumed
