"""POSTVAULT_X_MONTHLY_READ_BUDGET: never read more posts in a month than the tier allows.

X's tiers cap the posts an app may read per calendar month. Before a poll sends anything it
reserves the most that poll could read (a lookup: the tweet, its versions and the tweets it
references; a replies search: one page), in one conditional UPDATE, so workers racing for the
last reads cannot both win; when the poll finishes the reservation is settled to what the
answers really held. A poll that cannot reserve is deferred (a RateLimited outcome with the
time it may run), never sent.

Spreading: first captures (a post never captured, the evidence that matters most) may use
the whole budget; later polls only a share that grows through the month
(RE_POLL_SHARE of the budget, pro rata of the month gone plus one day), so re-polls early in
the month cannot leave nothing for posts flagged later.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.db import Database, utcnow
from app.platforms.x.models import XReadMonth

RE_POLL_SHARE = 0.8


def month_key(now: dt.datetime) -> str:
    return now.astimezone(dt.UTC).strftime("%Y-%m")


def month_bounds(now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    utc = now.astimezone(dt.UTC)
    start = dt.datetime(utc.year, utc.month, 1, tzinfo=dt.UTC)
    end = dt.datetime(utc.year + utc.month // 12, utc.month % 12 + 1, 1, tzinfo=dt.UTC)
    return start, end


def ceiling(budget: int, now: dt.datetime, *, first_capture: bool) -> int:
    """The most reads this month may have used by `now` for this kind of poll."""
    if first_capture:
        return budget
    start, end = month_bounds(now)
    days = (end - start).total_seconds() / 86400
    elapsed = (now - start).total_seconds() / 86400
    return math.floor(budget * RE_POLL_SHARE * min(1.0, (elapsed + 1) / days))


def next_allowed(
    budget: int, used: int, need: int, now: dt.datetime, *, first_capture: bool
) -> dt.datetime:
    """When a poll needing `need` reads may run, `used` having been read this month."""
    start, end = month_bounds(now)
    if first_capture or need > budget * RE_POLL_SHARE:
        return end
    days = (end - start).total_seconds() / 86400
    elapsed_needed = (used + need) / (budget * RE_POLL_SHARE) * days - 1
    moment = start + dt.timedelta(days=max(elapsed_needed, 0))
    return min(max(moment, now + dt.timedelta(minutes=5)), end)


@dataclass(frozen=True)
class BudgetState:
    month: str
    budget: int | None
    reads_used: int
    requests: int
    polls_deferred: int

    @property
    def reads_left(self) -> int | None:
        return None if self.budget is None else max(0, self.budget - self.reads_used)


@dataclass(frozen=True)
class Reservation:
    month: str
    reads: int


class Deferred(Exception):
    def __init__(self, retry_at: dt.datetime, state: BudgetState, need: int) -> None:
        super().__init__(
            f"the monthly X read budget ({state.budget}) has {state.reads_left} reads left of "
            f"which this poll may not take the {need} it could need now; it runs "
            f"{retry_at.isoformat(timespec='minutes')}"
        )
        self.retry_at = retry_at


def state_of(session: Session, budget: int | None, now: dt.datetime) -> BudgetState:
    key = month_key(now)
    row = session.get(XReadMonth, key)
    if row is None:
        return BudgetState(key, budget, 0, 0, 0)
    return BudgetState(key, budget, row.reads_used, row.requests, row.polls_deferred)


class ReadBudget:
    """The shared monthly counter. `database` is opened from the URL on first use, so the
    collector (which is handed no database) counts in the same one as the capture pipeline."""

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

    @property
    def database(self) -> Database:
        with self._lock:
            if self._database is None:
                if self._url is None:
                    raise RuntimeError("the X read budget has no database")
                self._database = Database(self._url)
            return self._database

    @property
    def enabled(self) -> bool:
        return self.monthly is not None

    def _row(self, session: Session, key: str) -> None:
        if session.get(XReadMonth, key) is not None:
            return
        try:
            with session.begin_nested():
                session.add(XReadMonth(month=key, reads_used=0, requests=0, polls_deferred=0))
        except IntegrityError:
            pass  # another worker created the month's row first

    def reserve(
        self, reads: int, *, now: dt.datetime | None = None, first_capture: bool
    ) -> Reservation | None:
        """Take `reads` from this month's budget, or raise Deferred. Without a budget the
        reads are only counted (for the dashboard); None when there is no database either."""
        if self.monthly is None and self._url is None and self._database is None:
            return None
        now = now or utcnow()
        key = month_key(now)
        with self.database.session() as session:
            self._row(session, key)
            condition = [XReadMonth.month == key]
            if self.monthly is not None:
                limit = ceiling(self.monthly, now, first_capture=first_capture)
                condition.append(XReadMonth.reads_used + reads <= limit)
            result = session.execute(
                update(XReadMonth)
                .where(*condition)
                .values(reads_used=XReadMonth.reads_used + reads, updated_at=now)
                .execution_options(synchronize_session=False)
            )
            if getattr(result, "rowcount", 0) == 1:
                return Reservation(key, reads)
            session.execute(
                update(XReadMonth)
                .where(XReadMonth.month == key)
                .values(polls_deferred=XReadMonth.polls_deferred + 1)
                .execution_options(synchronize_session=False)
            )
            state = state_of(session, self.monthly, now)
        assert self.monthly is not None  # without a budget every reservation succeeds
        retry_at = next_allowed(
            self.monthly, state.reads_used, reads, now, first_capture=first_capture
        )
        raise Deferred(retry_at, state, reads)

    def settle(self, reservation: Reservation | None, *, reads: int, requests: int) -> None:
        """Replace a reservation by what was really read (reservations are the worst case,
        so this only gives reads back)."""
        if reservation is None:
            return
        used = reads
        with self.database.session() as session:
            session.execute(
                update(XReadMonth)
                .where(XReadMonth.month == reservation.month)
                .values(
                    reads_used=XReadMonth.reads_used - reservation.reads + used,
                    requests=XReadMonth.requests + requests,
                )
                .execution_options(synchronize_session=False)
            )

    def state(self, now: dt.datetime | None = None) -> BudgetState:
        with self.database.session() as session:
            return state_of(session, self.monthly, now or utcnow())


def months(session: Session) -> list[XReadMonth]:
    return list(session.scalars(select(XReadMonth).order_by(XReadMonth.month.desc())))
