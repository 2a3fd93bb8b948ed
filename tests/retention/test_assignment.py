"""Assigning a series and due date to a post, recomputing it, and AV releases."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.audit.service import Actor
from app.classification.models import ClassificationOverride
from app.db import Database
from app.errors import Conflict
from app.posts.models import FlaggedPost
from app.retention.assignment import assign_retention, current_assignment, release_av
from app.retention.models import RetentionAssignment
from tests.factories import (
    TZ,
    assign,
    make_account,
    make_post,
    make_user,
    schedules,
    utc,
)


def actions(db: Database, post_id: int) -> list[str]:
    with db.session() as session:
        return list(
            session.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.object_type == "post", AuditEvent.object_id == str(post_id))
                .order_by(AuditEvent.id)
            )
        )


def test_unclassified_post_is_a_record_until_removed(db: Database) -> None:
    with db.session() as session:
        account = make_account(session, make_user(session))
        post = make_post(session, account=account, created=utc(2019, 5, 10, 15))
        assign(session, post)
        a = current_assignment(session, post.id)
        assert a is not None
        assert (a.label, a.series_code, a.schedule_id) == (
            "record",
            "EX-SM-01",
            "example-city-social-media",
        )
        assert a.schedule_version == "2026.1"
        assert a.due_on is None  # CR+7Y, EVT+2Y: never due while the post is online
        assert "post_removed has not happened" in a.due_reason
        post_id = post.id

    with db.session() as session:
        removed = session.get(FlaggedPost, post_id)
        assert removed is not None
        removed.removed_at = utc(2024, 8, 1, 12)
        assign(session, removed)
        a = current_assignment(session, post_id)
        assert a is not None
        assert a.due_on == dt.date(2026, 8, 1)  # later of 2026-05-10 and removal + 2Y
        assert session.scalar(
            select(RetentionAssignment.id).where(
                RetentionAssignment.post_id == post_id, RetentionAssignment.is_current.is_(False)
            )
        )
    assert actions(db, post_id) == [
        "retention.assigned",
        "retention.assigned",
        "retention.recomputed",
    ]


def test_assigning_again_without_change_writes_nothing(db: Database) -> None:
    with db.session() as session:
        account = make_account(session, make_user(session))
        post = make_post(session, account=account, label="transitory")
        assign(session, post)
        assign(session, post)
        rows = session.scalars(
            select(RetentionAssignment).where(RetentionAssignment.post_id == post.id)
        ).all()
        assert len(rows) == 1
        assert rows[0].due_on == dt.date(2015, 5, 30)  # created 2015-03-01 + 90 days


def test_created_date_is_taken_in_the_city_time_zone(db: Database) -> None:
    with db.session() as session:
        account = make_account(session, make_user(session))
        # 03:00 UTC on March 1 is still February 28 in Wisconsin.
        post = make_post(session, account=account, created=utc(2015, 3, 1, 3), label="transitory")
        assign(session, post)
        a = current_assignment(session, post.id)
        assert a is not None
        assert a.due_on == dt.date(2015, 2, 28) + dt.timedelta(days=90)


def test_override_outranks_the_classifier_and_reclassification_is_audited(
    db: Database,
) -> None:
    with db.session() as session:
        officer = make_user(session, "records_officer")
        account = make_account(session, make_user(session))
        post = make_post(session, account=account, label="record", removed_at=utc(2016, 1, 1))
        assign(session, post)
        assert current_assignment(session, post.id).series_code == "EX-SM-01"  # type: ignore[union-attr]
        session.add(
            ClassificationOverride(
                post_id=post.id, label="transitory", reason="a greeting", officer_id=officer.id
            )
        )
        session.flush()
        assign(session, post)
        a = current_assignment(session, post.id)
        assert a is not None
        assert (a.label, a.series_code, a.due_on) == (
            "transitory",
            "EX-SM-03",
            dt.date(2015, 5, 30),
        )
        post_id = post.id
    events = actions(db, post_id)
    assert events.count("retention.recomputed") == 1
    with db.session() as session:
        recomputed = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "retention.recomputed")
        ).one()
        assert recomputed.details["old_series_code"] == "EX-SM-01"
        assert recomputed.details["new_due_on"] == "2015-05-30"


def test_av_is_due_only_when_an_officer_releases_it(db: Database) -> None:
    with db.session() as session:
        officer = make_user(session, "records_officer")
        account = make_account(session, make_user(session))
        post = make_post(session, account=account, label="secondary_copy")
        assign(session, post)
        assert current_assignment(session, post.id).due_on is None  # type: ignore[union-attr]
        released = release_av(
            session, post_id=post.id, officer=officer, reason="primary kept", timezone=TZ
        )
        assert released.due_on is not None
        assert released.released_by_id == officer.id
        # Re-assignment keeps the release.
        again = assign_retention(
            session, post_id=post.id, actor=Actor.system("t"), schedules=schedules(), timezone=TZ
        )
        assert again.due_on == released.due_on
        with pytest.raises(Conflict, match="already released"):
            release_av(session, post_id=post.id, officer=officer, reason="x", timezone=TZ)
        record_post = make_post(session, account=account, label="record")
        assign(session, record_post)
        with pytest.raises(Conflict, match="not AV"):
            release_av(session, post_id=record_post.id, officer=officer, reason="x", timezone=TZ)
