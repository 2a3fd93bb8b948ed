"""Database plumbing: engine, declarative base, UTC timestamps, sessions.

The request (or the job) owns the transaction: services only `flush()`, so a change of state
and its audit event commit together or not at all.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any
from weakref import WeakKeyDictionary

import anyio
import anyio.to_thread
from anyio.lowlevel import RunVar
from fastapi import Depends, Request
from sqlalchemy import DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timezone-aware UTC timestamp on every backend.

    SQLite has no time zones: values are stored as naive UTC and given their zone back on
    the way out, so code never sees a naive datetime.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(dt.UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


POOL_SIZE = 10
POOL_OVERFLOW = 10
# Connections kept out of the request slots for work that takes one outside a request's
# session: the web-session check in the middleware, /healthz, the scheduler and jobs.
RESERVED_CONNECTIONS = 4
WAIT_SECONDS = 30.0


class DatabaseBusy(Exception):
    """No database connection came free in time: answered 503 with a Retry-After header."""

    retry_after_seconds = 2

    def __init__(self, message: str = "") -> None:
        super().__init__(
            message
            or "the server is busy: every database connection is in use; nothing was changed, "
            f"try again in {self.retry_after_seconds} seconds"
        )
        self.message = str(self.args[0])


def make_engine(
    database_url: str,
    *,
    pool_size: int = POOL_SIZE,
    max_overflow: int = POOL_OVERFLOW,
    pool_timeout: float = WAIT_SECONDS,
) -> Engine:
    url = make_url(database_url)
    pool = {"pool_size": pool_size, "max_overflow": max_overflow, "pool_timeout": pool_timeout}
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
            # A file database gets a QueuePool like PostgreSQL (":memory:" keeps its own).
            engine = create_engine(
                url, connect_args={"check_same_thread": False, "timeout": 30}, **pool
            )
        else:
            engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, **pool)


# One semaphore per (event loop, Database): anyio primitives belong to the loop they are
# first used in, and tests run several apps, each with its own loop, over one Database.
_request_slots: RunVar[WeakKeyDictionary[Database, anyio.Semaphore]] = RunVar(
    "postvault_request_slots"
)


class Database:
    """An engine and its session factory; one per app (tests make several).

    Requests get their sessions through `request_slots`: at most `slots` requests hold a
    session at once, fewer than the pool has connections, so a request that holds a session
    always finds a connection and never waits for one while holding a worker thread (the
    stall at 41 clients: 40 threads each waiting for a connection held by a request that
    was itself waiting for a thread).
    """

    def __init__(
        self,
        database_url: str,
        *,
        pool_size: int = POOL_SIZE,
        max_overflow: int = POOL_OVERFLOW,
        wait_seconds: float = WAIT_SECONDS,
    ) -> None:
        self.url = database_url
        self.engine = make_engine(
            database_url, pool_size=pool_size, max_overflow=max_overflow, pool_timeout=wait_seconds
        )
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)
        self.slots = max(1, pool_size + max_overflow - RESERVED_CONNECTIONS)
        self.wait_seconds = wait_seconds

    def request_slots(self) -> anyio.Semaphore:
        """This event loop's semaphore for request sessions."""
        try:
            by_database = _request_slots.get()
        except LookupError:
            by_database = WeakKeyDictionary()
            _request_slots.set(by_database)
        slots = by_database.get(self)
        if slots is None:
            slots = by_database[self] = anyio.Semaphore(self.slots)
        return slots

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: commits on success, rolls back on any error."""
        session = self.sessionmaker()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()


def _finish(session: Session, *, commit: bool) -> None:
    try:
        if commit:
            session.commit()
        else:
            session.rollback()
    finally:
        session.close()


async def get_session(request: Request) -> AsyncIterator[Session]:
    """The request's unit of work: commits when the route returns, rolls back on an error.

    Async, so that waiting for a slot takes no worker thread, and the commit runs in a
    thread of its own (not from anyio's 40 shared with the routes), so a route that holds a
    thread never waits for a second one to finish its transaction.
    """
    database: Database = request.app.state.db
    slots = database.request_slots()
    try:
        with anyio.fail_after(database.wait_seconds):
            await slots.acquire()
    except TimeoutError:
        raise DatabaseBusy() from None
    try:
        session = database.sessionmaker()
        try:
            yield session
        except BaseException:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(
                    lambda: _finish(session, commit=False), limiter=anyio.CapacityLimiter(1)
                )
            raise
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(
                lambda: _finish(session, commit=True), limiter=anyio.CapacityLimiter(1)
            )
    finally:
        slots.release()


# scope="function": the commit happens when the route returns, before the response is sent,
# so a failed commit is an error answer, never a 201 for something that was not saved.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
