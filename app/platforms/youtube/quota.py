"""YouTube's quota accounting: every Data API call costs units (comments.QUOTA_UNITS), added
up per quota day in `youtube_quota_days`, which every worker shares; the officer dashboard
shows the day's units. YouTube itself answers 403 `quotaExceeded` when the project's daily
quota (10,000 units by default) is spent, which pauses the API host until the reset."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from app.db import Database
from app.platforms.youtube.models import YouTubeQuotaDay

log = logging.getLogger(__name__)
DEFAULT_DAILY_QUOTA = 10_000


def quota_day(now: dt.datetime) -> str:
    """The quota day `now` falls on: the date in America/Los_Angeles."""
    try:
        pacific: dt.tzinfo = ZoneInfo("America/Los_Angeles")
    except ZoneInfoNotFoundError:
        pacific = dt.timezone(dt.timedelta(hours=-8))
    return now.astimezone(pacific).date().isoformat()


@dataclass(frozen=True)
class QuotaState:
    day: str
    units: int
    calls: int


def state_of(session: Session, now: dt.datetime) -> QuotaState:
    day = quota_day(now)
    row = session.get(YouTubeQuotaDay, day)
    return QuotaState(day, row.units if row else 0, row.calls if row else 0)


_DATABASES: dict[str, Database] = {}
_DATABASES_LOCK = threading.Lock()


class QuotaMeter:
    """Adds a poll's units to its day's row. The database is opened from the URL on first use
    (one engine per URL for the process), so the collector counts where the pipeline writes.
    Counting never fails a capture: a database error is logged and the units are lost."""

    def __init__(self, *, database_url: str | None = None, database: Database | None = None):
        self._url = database_url
        self._database = database

    def _db(self) -> Database | None:
        if self._database is None and self._url is not None:
            with _DATABASES_LOCK:
                if self._url not in _DATABASES:
                    _DATABASES[self._url] = Database(self._url)
                self._database = _DATABASES[self._url]
        return self._database

    def add(self, units: int, calls: int, now: dt.datetime) -> None:
        database = self._db()
        if database is None or units <= 0:
            return
        day = quota_day(now)
        add = (
            update(YouTubeQuotaDay)
            .where(YouTubeQuotaDay.day == day)
            .values(
                units=YouTubeQuotaDay.units + units,
                calls=YouTubeQuotaDay.calls + calls,
                updated_at=now,
            )
        )
        try:
            for _attempt in range(2):
                with database.session() as session:
                    if session.execute(add).rowcount:  # type: ignore[attr-defined]
                        return
                try:
                    with database.session() as session:
                        session.add(
                            YouTubeQuotaDay(day=day, units=units, calls=calls, updated_at=now)
                        )
                    return
                except IntegrityError:
                    continue  # another worker made the day's row first: add to it
        except SQLAlchemyError:
            log.exception("could not count %s YouTube quota units", units)
