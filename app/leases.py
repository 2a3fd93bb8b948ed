"""Leases on long jobs (response packages, disposition runs), like the capture claims.

A job row in a `running` state carries `lease_owner` and `lease_expires_at`. The process
running it renews the lease from a heartbeat thread; a process that dies stops renewing, so
its lease expires and a recovery job (at start-up and periodically) takes the row over and
resumes it. Claims are conditional UPDATEs, so two processes never both win one row, even on
SQLite without row locks; every write of the job is fenced on the lease owner.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
import uuid
from collections.abc import Iterable
from types import TracebackType
from typing import Any, Protocol

from sqlalchemy import or_, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from app.db import Database, utcnow

log = logging.getLogger("postvault.leases")


class Leased(Protocol):
    """A model with the two lease columns (a SQLAlchemy mapped class)."""

    id: Any
    status: Any
    lease_owner: Any
    lease_expires_at: Any


def new_owner() -> str:
    """A name for one run of one job: the host and process for people, a random part so two
    runs in one process are told apart."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def expired(model: type[Any], now: dt.datetime) -> Any:
    """The SQL condition: nobody holds the row's lease (never leased, or it ran out)."""
    column: InstrumentedAttribute[Any] = model.lease_expires_at
    return or_(column.is_(None), column < now)


def claim(
    session: Session,
    model: type[Any],
    row_id: int,
    *,
    owner: str,
    statuses: Iterable[str],
    lease_seconds: float,
    now: dt.datetime | None = None,
    values: dict[str, Any] | None = None,
) -> bool:
    """Take the row's lease if it is in one of `statuses` and nobody holds it; `values` are
    set in the same UPDATE. True when this owner won it."""
    now = now or utcnow()
    result = session.execute(
        update(model)
        .where(model.id == row_id, model.status.in_(list(statuses)), expired(model, now))
        .values(
            lease_owner=owner,
            lease_expires_at=now + dt.timedelta(seconds=lease_seconds),
            **(values or {}),
        )
        .execution_options(synchronize_session=False)
    )
    won = bool(getattr(result, "rowcount", 0) == 1)
    session.expire_all()
    return won


def holds(session: Session, model: type[Any], row_id: int, owner: str) -> bool:
    """True when `owner` still holds the row's lease (read under the current transaction)."""
    row = session.get(model, row_id, populate_existing=True)
    return row is not None and row.lease_owner == owner


def renew(database: Database, model: type[Any], row_id: int, *, owner: str, seconds: float) -> bool:
    with database.session() as session:
        result = session.execute(
            update(model)
            .where(model.id == row_id, model.lease_owner == owner)
            .values(lease_expires_at=utcnow() + dt.timedelta(seconds=seconds))
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0) == 1)


def let_go(database: Database, model: type[Any], row_id: int, *, owner: str) -> None:
    """End the lease at once (a clean stop mid-job): the next recovery resumes the row
    without waiting for the lease to run out."""
    with database.session() as session:
        session.execute(
            update(model)
            .where(model.id == row_id, model.lease_owner == owner)
            .values(lease_owner=None, lease_expires_at=None)
            .execution_options(synchronize_session=False)
        )


class Heartbeat:
    """Renews a lease every third of its length while the job runs (a thread of its own, so a
    slow step never lets the lease lapse while the process is alive)."""

    def __init__(
        self, database: Database, model: type[Any], row_id: int, *, owner: str, seconds: float
    ) -> None:
        self.database = database
        self.model = model
        self.row_id = row_id
        self.owner = owner
        self.seconds = seconds
        self.lost = threading.Event()
        self._done = threading.Event()
        self._thread = threading.Thread(
            target=self._beat, name=f"lease-{model.__tablename__}-{row_id}", daemon=True
        )

    def _beat(self) -> None:
        while not self._done.wait(self.seconds / 3):
            try:
                if not renew(
                    self.database, self.model, self.row_id, owner=self.owner, seconds=self.seconds
                ):
                    self.lost.set()
                    return
            except Exception:  # a busy database: the next beat tries again
                log.warning("could not renew the lease on %s %s", self.model, self.row_id)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        self._done.set()
        self._thread.join(timeout=5)
