"""POSTVAULT_X_MONTHLY_READ_BUDGET: never read more posts in a month than the tier allows.

X's tiers cap the posts an app may read per calendar month (UTC). Before a poll sends anything
it reserves the most that request could read (a lookup: the tweet, its other versions and the
tweets it references; a replies search: one page) in one conditional UPDATE, so workers
racing for the last reads cannot both win; when the answer arrives the reservation is settled
to what it really held. A request that cannot reserve is not sent: the poll is deferred (a
RateLimited outcome with the time it may run).

Spreading. First captures (a post never captured: the evidence that matters most) may use the
whole budget. Later polls may use only what is left after the first captures this month is
expected to need, at the month's rate so far (`first_capture_reads / fraction of the month
gone`), and of that only the part due by now (pro rata of the month gone, plus one day):

    repoll_reads + need <= (budget - projected_first_reads) * pace

so re-polls early in the month cannot leave nothing for posts flagged later, and a quiet
month lets re-polls use what first captures did not.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass

from sqlalchemy import BindParameter, Integer, Table, bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.db import Database, utcnow
from app.platforms.x.models import XReadMonth

_HOUR = dt.timedelta(hours=1)


def month_key(now: dt.datetime) -> str:
    return now.astimezone(dt.UTC).strftime("%Y-%m")


def month_bounds(now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    utc = now.astimezone(dt.UTC)
    start = dt.datetime(utc.year, utc.month, 1, tzinfo=dt.UTC)
    end = dt.datetime(utc.year + utc.month // 12, utc.month % 12 + 1, 1, tzinfo=dt.UTC)
    return start, end


def month_fractions(now: dt.datetime) -> tuple[float, float]:
    """(fraction of the month gone, at least one day's worth; pace: that plus one day)."""
    start, end = month_bounds(now)
    days = (end - start).total_seconds() / 86400
    gone = (now - start).total_seconds() / 86400
    return max(gone, 1.0) / days, min(1.0, (gone + 1) / days)


def repoll_room(budget: int, first_reads: int, now: dt.datetime) -> float:
    """How many reads later polls may have used by `now`."""
    gone, pace = month_fractions(now)
    projected_first = min(float(budget), first_reads / gone)
    return (budget - projected_first) * pace


def allows(
    budget: int, used: int, first_reads: int, need: int, now: dt.datetime, *, first_capture: bool
) -> bool:
    if used + need > budget:
        return False
    return first_capture or (used - first_reads) + need <= repoll_room(budget, first_reads, now)


def next_allowed(
    budget: int, used: int, first_reads: int, need: int, now: dt.datetime, *, first_capture: bool
) -> dt.datetime:
    """The first hour at which the request would fit, the month's counts staying as they
    are; the next month when nothing fits before then."""
    _start, end = month_bounds(now)
    if not first_capture and used + need <= budget:
        moment = now + _HOUR
        while moment < end:
            if allows(budget, used, first_reads, need, moment, first_capture=False):
                return moment
            moment += _HOUR
    return end


@dataclass(frozen=True)
class BudgetState:
    month: str
    budget: int | None
    reads_used: int
    first_capture_reads: int
    requests: int
    polls_deferred: int

    @property
    def reads_left(self) -> int | None:
        return None if self.budget is None else max(0, self.budget - self.reads_used)


@dataclass(frozen=True)
class Reservation:
    month: str
    reads: int
    first_capture: bool


class Deferred(Exception):
    def __init__(self, retry_at: dt.datetime, state: BudgetState, need: int) -> None:
        super().__init__(
            f"the monthly X read budget ({state.budget}) has {state.reads_left} reads left; "
            f"this poll could need {need} and waits until "
            f"{retry_at.isoformat(timespec='minutes')} to stay within it"
        )
        self.retry_at = retry_at


def state_of(session: Session, budget: int | None, now: dt.datetime) -> BudgetState:
    key = month_key(now)
    row = session.get(XReadMonth, key)
    if row is None:
        return BudgetState(key, budget, 0, 0, 0, 0)
    return BudgetState(
        key, budget, row.reads_used, row.first_capture_reads, row.requests, row.polls_deferred
    )


_TABLE: Table = XReadMonth.__table__  # type: ignore[assignment]
_T = _TABLE.c
_N: BindParameter[int] = bindparam("n", type_=Integer)
# Prebuilt statements (their compiled forms are cached): the check and the reservation are
# one UPDATE, so two workers can never both take the last reads.
_RESERVE_FIRST = (
    update(_TABLE)
    .where(_T.month == bindparam("m"), _T.reads_used + _N <= bindparam("budget"))
    .values(
        reads_used=_T.reads_used + _N,
        first_capture_reads=_T.first_capture_reads + _N,
        updated_at=bindparam("now"),
    )
)
# allows() for a re-poll, as SQL over the row:
#   (used - first) + n <= (budget - first / gone) * pace, the projection at most the budget
_RESERVE_REPOLL = (
    update(_TABLE)
    .where(
        _T.month == bindparam("m"),
        _T.reads_used + _N <= bindparam("budget"),
        _T.reads_used - _T.first_capture_reads + _T.first_capture_reads * bindparam("ratio") + _N
        <= bindparam("room"),
        _T.first_capture_reads <= bindparam("first_cap"),
    )
    .values(reads_used=_T.reads_used + _N, updated_at=bindparam("now"))
)
_COUNT_FIRST = (
    update(_TABLE)
    .where(_T.month == bindparam("m"))
    .values(
        reads_used=_T.reads_used + _N,
        first_capture_reads=_T.first_capture_reads + _N,
        updated_at=bindparam("now"),
    )
)
_COUNT_REPOLL = (
    update(_TABLE)
    .where(_T.month == bindparam("m"))
    .values(reads_used=_T.reads_used + _N, updated_at=bindparam("now"))
)
_DEFER = (
    update(_TABLE)
    .where(_T.month == bindparam("m"))
    .values(polls_deferred=_T.polls_deferred + 1)
    .returning(_T.reads_used, _T.first_capture_reads, _T.requests, _T.polls_deferred)
)
_SETTLE_FIRST = (
    update(_TABLE)
    .where(_T.month == bindparam("m"))
    .values(
        reads_used=_T.reads_used + _N,
        first_capture_reads=_T.first_capture_reads + _N,
        requests=_T.requests + bindparam("requests"),
    )
)
_SETTLE_REPOLL = (
    update(_TABLE)
    .where(_T.month == bindparam("m"))
    .values(reads_used=_T.reads_used + _N, requests=_T.requests + bindparam("requests"))
)


_DATABASES: dict[str, Database] = {}
_DATABASES_LOCK = threading.Lock()


def _shared_database(url: str) -> Database:
    """One engine per database URL for the process: collectors are built per capture
    context (per manual capture, per worker), and each must not open a pool of its own."""
    with _DATABASES_LOCK:
        database = _DATABASES.get(url)
        if database is None:
            database = _DATABASES[url] = Database(url)
        return database


class ReadBudget:
    """The shared monthly counter. `database` is opened from the URL on first use, so the
    collector (which is handed no database) counts in the same one as the capture pipeline.
    Without a monthly budget the reads are still counted, for the dashboard."""

    def __init__(
        self,
        *,
        monthly: int | None,
        database_url: str | None = None,
        database: Database | None = None,
    ) -> None:
        self.monthly = monthly
        self._url = database_url
        self._database = database
        self._lock = threading.Lock()
        self._months: set[str] = set()  # month rows known to exist

    @property
    def counts(self) -> bool:
        return self._database is not None or self._url is not None

    @property
    def enabled(self) -> bool:
        return self.monthly is not None and self.counts

    @property
    def database(self) -> Database:
        with self._lock:
            if self._database is None:
                if self._url is None:
                    raise RuntimeError("the X read budget has no database")
                self._database = _shared_database(self._url)
            return self._database

    def _ensure_row(self, session: Session, key: str) -> None:
        if key in self._months:
            return
        if session.get(XReadMonth, key) is None:
            try:
                with session.begin_nested():
                    session.add(
                        XReadMonth(
                            month=key,
                            reads_used=0,
                            first_capture_reads=0,
                            requests=0,
                            polls_deferred=0,
                        )
                    )
            except IntegrityError:
                pass  # another worker created the month's row first
        self._months.add(key)

    def reserve(
        self, reads: int, *, now: dt.datetime | None = None, first_capture: bool
    ) -> Reservation | None:
        """Take `reads` from this month's budget, or raise Deferred; None: nothing counts."""
        if not self.counts:
            return None
        now = now or utcnow()
        key = month_key(now)
        params: dict[str, object] = {"m": key, "n": reads, "now": now}
        if self.monthly is None:
            statement = _COUNT_FIRST if first_capture else _COUNT_REPOLL
        elif first_capture:
            statement = _RESERVE_FIRST
            params["budget"] = self.monthly
        else:
            statement = _RESERVE_REPOLL
            gone, pace = month_fractions(now)
            params.update(
                budget=self.monthly,
                ratio=pace / gone,
                room=self.monthly * pace,
                first_cap=self.monthly * gone,
            )
        with self.database.session() as session:
            self._ensure_row(session, key)
            result = session.execute(statement, params)
            if getattr(result, "rowcount", 0) == 1:
                return Reservation(key, reads, first_capture)
            row = session.execute(_DEFER, {"m": key}).one()
        assert self.monthly is not None  # without a budget every reservation succeeds
        state = BudgetState(key, self.monthly, row[0], row[1], row[2], row[3])
        retry_at = next_allowed(
            self.monthly, state.reads_used, state.first_capture_reads, reads, now,
            first_capture=first_capture,
        )  # fmt: skip
        raise Deferred(retry_at, state, reads)

    def settle(self, reservation: Reservation | None, *, reads: int, requests: int) -> None:
        """Replace a reservation by what was really read (the reservation was the worst
        case, so this gives reads back)."""
        if reservation is None:
            return
        statement = _SETTLE_FIRST if reservation.first_capture else _SETTLE_REPOLL
        with self.database.session() as session:
            session.execute(
                statement,
                {"m": reservation.month, "n": reads - reservation.reads, "requests": requests},
            )

    def state(self, now: dt.datetime | None = None) -> BudgetState:
        with self.database.session() as session:
            return state_of(session, self.monthly, now or utcnow())


def months(session: Session) -> list[XReadMonth]:
    return list(session.scalars(select(XReadMonth).order_by(XReadMonth.month.desc())))
