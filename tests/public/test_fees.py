"""Fee estimates (Wis. Stat. 19.35(3)) from the rates in the settings: each line with its rule,
location only from $50, never redaction time, prepayment over the threshold, audited."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.auth.models import User
from app.config import Settings
from app.db import Database
from app.errors import Conflict, Invalid
from app.open_records import requests as requests_service
from app.public import fees
from app.public.models import FeeStatus
from app.retention.calendar import local_today
from tests.conftest import MakePerson


def test_lines_follow_the_rates_and_the_rules(settings: Settings) -> None:
    rates = settings.model_copy(
        update={
            "fee_page_cents": 10,
            "fee_file_cents": 50,
            "fee_location_hour_cents": 3000,
            "fee_mailing_cents": 420,
        }
    )
    lines = fees.lines_for(rates, pages=12, files=3, location_minutes=100, mailed=True)
    assert [(line.kind, line.amount_cents) for line in lines] == [
        ("page", 120),
        ("file", 150),
        ("location", 5000),  # 100 minutes at $30 an hour: $50.00, so it is charged
        ("mailing", 420),
    ]
    assert all(line.rule.startswith("Wis. Stat. 19.35(3)") for line in lines)
    under = fees.lines_for(rates, pages=0, files=0, location_minutes=99, mailed=False)
    assert [(line.kind, line.amount_cents) for line in under] == [("location", 0)]
    assert "$49.50, so it is not charged" in under[0].rule
    assert not any("redact" in line.label.lower() for line in lines)
    assert "never charged" in fees.NO_REDACTION_FEE
    with pytest.raises(Invalid):
        fees.lines_for(rates, pages=-1, files=0, location_minutes=0, mailed=False)


def test_prepayment_holds_release_until_paid_or_waived(
    settings: Settings, db: Database, make_person: MakePerson
) -> None:
    officer = make_person("records_officer")
    with db.session() as session:
        user = session.get(User, officer.user.id)
        assert user is not None
        request = requests_service.create_request(
            session, officer=user, received_on=local_today(), description="pool posts"
        )
        at_threshold = fees.set_estimate(
            session, officer=user, settings=settings, request_id=request.id,
            pages=20, files=0, location_minutes=0, mailed=False,
        )  # fmt: skip
        assert at_threshold.total_cents == 500
        assert at_threshold.status == FeeStatus.no_prepayment  # $5.00 is not over $5.00
        assert not fees.release_held(session, request.id)
        with pytest.raises(Conflict):
            fees.settle(session, officer=user, request_id=request.id, outcome=FeeStatus.paid)
        over = fees.set_estimate(
            session, officer=user, settings=settings, request_id=request.id,
            pages=21, files=0, location_minutes=0, mailed=False,
        )  # fmt: skip
        assert over.status == FeeStatus.awaiting_payment
        assert fees.release_held(session, request.id)
        fees.settle(session, officer=user, request_id=request.id, outcome=FeeStatus.paid)
        assert not fees.release_held(session, request.id)
        with pytest.raises(Conflict):
            fees.set_estimate(
                session, officer=user, settings=settings, request_id=request.id,
                pages=1, files=0, location_minutes=0, mailed=False,
            )  # fmt: skip
        actions = list(
            session.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.object_id == str(request.id))
                .order_by(AuditEvent.id)
            )
        )
        assert actions[-3:] == [
            "request.fee_estimated",
            "request.fee_estimated",
            "request.fee_paid",
        ]


def test_the_officer_form_refuses_bad_numbers(
    client: object, db: Database, make_person: MakePerson
) -> None:
    from fastapi.testclient import TestClient

    from tests.web.support import csrf_of, give_password, sign_in

    assert isinstance(client, TestClient)
    officer = make_person("records_officer")
    give_password(db, officer.user)
    sign_in(client, officer.user.email)
    with db.session() as session:
        user = session.get(User, officer.user.id)
        assert user is not None
        request_id = requests_service.create_request(
            session, officer=user, received_on=local_today(), description="pool posts"
        ).id
    page = client.get(f"/officer/requests/{request_id}")
    assert "Logged by a records officer." in page.text
    answer = client.post(
        f"/officer/requests/{request_id}/portal/fee",
        data={"pages": "lots", "csrf_token": csrf_of(page.text)},
    )
    assert answer.status_code == 422
    assert "Give the number of pages as a whole number." in answer.text
    settled = client.post(
        f"/officer/requests/{request_id}/portal/fee/settle",
        data={"outcome": "waived", "csrf_token": csrf_of(page.text)},
    )
    assert settled.status_code == 409
    assert "has no fee estimate" in settled.text
