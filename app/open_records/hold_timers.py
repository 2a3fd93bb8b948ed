"""The 19.35(5) timers of open-records holds: a hold placed for a records request is
released once the request is granted, or once the denial period has run.

Session-first services: they flush, the caller owns the transaction.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.service import Actor
from app.open_records.models import RecordsRequest, RequestStatus
from app.retention.calendar import DEFAULT_TIMEZONE, HolidayCalendar, add_business_days, local_date
from app.retention.holds import release
from app.retention.models import Hold, HoldKind

# 19.35(5): after a denial, records stay 60 days (90 if the requester is committed or
# incarcerated); 19.345 counts those days as business days.
DENIAL_HOLD_BUSINESS_DAYS = 60
DENIAL_HOLD_BUSINESS_DAYS_COMMITTED = 90


@dataclass(frozen=True)
class TimerState:
    releasable: bool
    release_after: dt.date | None  # the last day the hold must still stand (denials)
    why: str


def open_records_timer(
    hold: Hold,
    request: RecordsRequest | None,
    *,
    today: dt.date,
    calendar: HolidayCalendar,
    timezone: str = DEFAULT_TIMEZONE,
) -> TimerState:
    """Where the 19.35(5) timer of an open-records hold stands."""
    if hold.mandamus_noticed_at is not None:
        return TimerState(
            False,
            None,
            "a mandamus action was noticed: released only by an officer citing the court order",
        )
    if request is None:
        return TimerState(False, None, "no request is linked: released only by an officer")
    if request.status == RequestStatus.granted:
        return TimerState(True, None, f"request {request.number} was granted")
    if request.status in (RequestStatus.denied, RequestStatus.partly_denied):
        if request.decided_at is None:
            return TimerState(False, None, f"request {request.number} has no decision date")
        decided = local_date(request.decided_at, timezone)
        days = (
            DENIAL_HOLD_BUSINESS_DAYS_COMMITTED
            if request.requester_committed
            else DENIAL_HOLD_BUSINESS_DAYS
        )
        last = add_business_days(decided, days, calendar)
        why = (
            f"request {request.number} was {request.status.replace('_', ' ')} on {decided}; "
            f"{days} business days after it ended on {last}"
        )
        return TimerState(today > last, last, why)
    return TimerState(
        False, None, f"request {request.number} is {request.status}: no decision to time from"
    )


def release_timed_open_records_holds(
    session: Session,
    *,
    today: dt.date,
    calendar: HolidayCalendar,
    actor: Actor,
    timezone: str = DEFAULT_TIMEZONE,
) -> list[int]:
    """Release open-records holds whose 19.35(5) timer has run; returns their ids."""
    released: list[int] = []
    holds = session.scalars(
        select(Hold)
        .where(Hold.kind == HoldKind.open_records, Hold.released_at.is_(None))
        .order_by(Hold.id)
    ).all()
    for hold in holds:
        request = session.get(RecordsRequest, hold.request_id) if hold.request_id else None
        state = open_records_timer(hold, request, today=today, calendar=calendar, timezone=timezone)
        if state.releasable:
            release(
                session,
                hold,
                actor=actor,
                reason=f"19.35(5) timer: {state.why}",
                authority="Wis. Stat. 19.35(5)",
            )
            released.append(hold.id)
    return released
