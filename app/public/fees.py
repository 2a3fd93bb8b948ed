"""Fee estimates (Wis. Stat. 19.35(3)): the actual, necessary and direct cost of reproduction,
of locating a record only when that is $50 or more, and of mailing; never the time spent
redacting. Rates come from the settings; each line carries the rule it rests on, and a total
over the prepayment threshold holds the release until the officer marks it paid or waived."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.service import Actor, record
from app.auth.models import User
from app.config import Settings
from app.db import utcnow
from app.errors import Conflict, Invalid
from app.open_records.requests import get_request
from app.public.models import FeeEstimate, FeeStatus

LOCATION_MINIMUM_CENTS = 5000
MAX_QUANTITY = 1_000_000
MAX_LOCATION_MINUTES = 100_000

RULES = {
    "page": "Wis. Stat. 19.35(3)(a): the actual, necessary and direct cost of reproduction",
    "file": "Wis. Stat. 19.35(3)(a): the actual, necessary and direct cost of reproduction",
    "location": "Wis. Stat. 19.35(3)(c): the actual, necessary and direct cost of locating "
    "a record, charged only when it is $50.00 or more",
    "mailing": "Wis. Stat. 19.35(3)(d): the actual, necessary and direct cost of mailing "
    "or shipping",
}
NO_REDACTION_FEE = (
    "Time spent redacting is never charged (Milwaukee Journal Sentinel v. City of Milwaukee, "
    "2012 WI 65)."
)
PREPAYMENT_RULE = "Wis. Stat. 19.35(3)(f): prepayment may be required when the total is over"
WAIVER_RULE = "Wis. Stat. 19.35(3)(e): the authority may waive or reduce any fee"


def dollars(cents: int) -> str:
    return f"${cents // 100:,}.{cents % 100:02d}"


@dataclass(frozen=True)
class FeeLine:
    kind: str
    label: str
    quantity: str
    rate: str
    amount_cents: int
    rule: str

    def saved(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "label": self.label,
            "quantity": self.quantity,
            "rate": self.rate,
            "amount_cents": self.amount_cents,
            "rule": self.rule,
        }


def lines_for(
    settings: Settings, *, pages: int, files: int, location_minutes: int, mailed: bool
) -> list[FeeLine]:
    """The estimate's lines; a location cost under $50 is shown at $0.00 with the rule."""
    for name, value, top in (
        ("pages", pages, MAX_QUANTITY),
        ("files", files, MAX_QUANTITY),
        ("minutes spent locating", location_minutes, MAX_LOCATION_MINUTES),
    ):
        if not 0 <= value <= top:
            raise Invalid(f"the number of {name} must be between 0 and {top:,}")
    lines: list[FeeLine] = []
    if pages:
        lines.append(
            FeeLine(
                "page",
                "Reproduction, per page",
                f"{pages} page{'s' * (pages != 1)}",
                dollars(settings.fee_page_cents),
                pages * settings.fee_page_cents,
                RULES["page"],
            )
        )
    if files:
        lines.append(
            FeeLine(
                "file",
                "Reproduction, per electronic file",
                f"{files} file{'s' * (files != 1)}",
                dollars(settings.fee_file_cents),
                files * settings.fee_file_cents,
                RULES["file"],
            )
        )
    if location_minutes:
        cost = round(location_minutes * settings.fee_location_hour_cents / 60)
        charged = cost if cost >= LOCATION_MINIMUM_CENTS else 0
        rule = RULES["location"]
        if not charged:
            rule += f"; this one would be {dollars(cost)}, so it is not charged"
        lines.append(
            FeeLine(
                "location",
                "Locating the records",
                f"{location_minutes} minute{'s' * (location_minutes != 1)}",
                f"{dollars(settings.fee_location_hour_cents)} an hour",
                charged,
                rule,
            )
        )
    if mailed:
        lines.append(
            FeeLine(
                "mailing",
                "Mailing or shipping",
                "1 mailing",
                dollars(settings.fee_mailing_cents),
                settings.fee_mailing_cents,
                RULES["mailing"],
            )
        )
    return lines


def estimate_of(session: Session, request_id: int) -> FeeEstimate | None:
    return session.scalar(select(FeeEstimate).where(FeeEstimate.request_id == request_id))


def release_held(session: Session, request_id: int) -> bool:
    """True while a fee over the threshold is neither paid nor waived."""
    estimate = estimate_of(session, request_id)
    return estimate is not None and estimate.status == FeeStatus.awaiting_payment


def set_estimate(
    session: Session,
    *,
    officer: User,
    settings: Settings,
    request_id: int,
    pages: int,
    files: int,
    location_minutes: int,
    mailed: bool,
) -> FeeEstimate:
    request = get_request(session, request_id)
    lines = lines_for(
        settings, pages=pages, files=files, location_minutes=location_minutes, mailed=mailed
    )
    total = sum(line.amount_cents for line in lines)
    status = (
        FeeStatus.awaiting_payment
        if total > settings.fee_prepayment_over_cents
        else FeeStatus.no_prepayment
    )
    estimate = estimate_of(session, request.id)
    before = None
    if estimate is None:
        estimate = FeeEstimate(request_id=request.id, created_by_id=officer.id)
        session.add(estimate)
    else:
        if estimate.status in (FeeStatus.paid, FeeStatus.waived):
            raise Conflict(f"the fee was already marked {estimate.status}; it cannot change now")
        before = estimate.total_cents
    estimate.pages, estimate.files = pages, files
    estimate.location_minutes, estimate.mailed = location_minutes, mailed
    estimate.lines = [line.saved() for line in lines]
    estimate.total_cents = total
    estimate.status = status
    estimate.updated_at = utcnow()
    session.flush()
    record(
        session,
        actor=Actor.of(officer),
        action="request.fee_estimated",
        object_type="records_request",
        object_id=request.id,
        details={
            "total_cents": total,
            "previous_total_cents": before,
            "status": status.value,
            "lines": estimate.lines,
            "prepayment_over_cents": settings.fee_prepayment_over_cents,
        },
    )
    return estimate


def settle(session: Session, *, officer: User, request_id: int, outcome: FeeStatus) -> FeeEstimate:
    """Mark a fee awaiting prepayment as paid or waived: the release is no longer held."""
    if outcome not in (FeeStatus.paid, FeeStatus.waived):
        raise Invalid("a fee is marked paid or waived")
    request = get_request(session, request_id)
    estimate = estimate_of(session, request.id)
    if estimate is None:
        raise Conflict(f"request {request.number} has no fee estimate")
    if estimate.status != FeeStatus.awaiting_payment:
        raise Conflict(f"the fee of request {request.number} is not awaiting payment")
    estimate.status = outcome
    estimate.settled_by_id = officer.id
    estimate.settled_at = utcnow()
    record(
        session,
        actor=Actor.of(officer),
        action=f"request.fee_{outcome.value}",
        object_type="records_request",
        object_id=request.id,
        details={"total_cents": estimate.total_cents},
    )
    return estimate
