"""`assign_retention_many` (what a re-classification's label-changed hook runs for every
relabelled post) writes exactly what `assign_retention` writes one post at a time: the same
new assignments, the same retired ones, the same audit events in the same order, the same
errors."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.audit.models import AuditEvent
from app.audit.service import Actor, verify_chain
from app.classification import reclassify
from app.classification.models import ClassificationOverride
from app.classification.service import BatchLabelChangedHook
from app.config import Settings
from app.db import Database, utcnow
from app.errors import Conflict, NotFound
from app.pipeline import recompute_retention
from app.posts.models import FlaggedPost, PostStatus
from app.retention.assignment import assign_retention, assign_retention_many, release_av
from app.retention.models import HeldPost, Hold, RetentionAssignment
from tests.classification.labelled import config
from tests.factories import TZ, assign, make_account, make_post, make_user, schedules, utc

ACTOR = Actor.system("tests")


def build_world(db: Database) -> list[int]:
    """Posts in every state assignment tells apart; returns their ids in a mixed order."""
    with db.session() as session:
        owner = make_user(session)
        officer = make_user(session, role="records_officer")
        account = make_account(session, owner)
        posts: list[FlaggedPost] = []

        def post(**kwargs: Any) -> FlaggedPost:
            made = make_post(session, account=account, **kwargs)
            posts.append(made)
            return made

        post()  # not classified yet: a record
        post(label="record", removed_at=utc(2024, 8, 1, 12))  # its removal starts the clock
        post(label="transitory", created=utc(2020, 12, 31, 23))  # local date across midnight
        post(texts=())  # never captured: dated by its flagging
        post(label="record", texts=("one", "two", "three"))  # several versions
        unchanged = post(label="transitory")
        assign(session, unchanged)  # assigned already, nothing changed since
        relabelled = post(label="record")
        assign(session, relabelled)
        session.add(
            ClassificationOverride(
                post_id=relabelled.id,
                label="transitory",
                reason="a greeting",
                officer_id=officer.id,
            )
        )
        overridden_twice = post(label="record")
        session.add_all(
            [
                ClassificationOverride(
                    post_id=overridden_twice.id,
                    label="transitory",
                    reason="first",
                    officer_id=officer.id,
                    revoked_at=utcnow(),
                ),
                ClassificationOverride(
                    post_id=overridden_twice.id,
                    label="secondary_copy",
                    reason="second",
                    officer_id=officer.id,
                ),
            ]
        )
        released = post(label="secondary_copy")
        assign(session, released)
        session.flush()
        release_av(session, post_id=released.id, officer=officer, reason="kept", timezone=TZ)
        removed_after = post(label="record")
        assign(session, removed_after)
        removed_after.removed_at = utc(2025, 2, 3, 4)
        disposed = post(label="record")
        assign(session, disposed)
        disposed.status = PostStatus.disposed
        held = post(label="transitory")
        hold = Hold(
            kind="litigation", reason="a claim", authority="counsel", placed_by_id=officer.id
        )
        session.add(hold)
        session.flush()
        session.add(HeldPost(hold_id=hold.id, post_id=held.id))
        session.flush()
        ids = [p.id for p in posts]
    return ids[1::2] + ids[0::2]


def outcome(db: Database, run: Callable[[Session], object]) -> tuple[object, list[Any], list[Any]]:
    """What `run` writes (assignments, audit events), in a transaction rolled back after."""
    session = db.sessionmaker()
    try:
        first_event = session.scalar(select(func.max(AuditEvent.id))) or 0
        first_assignment = session.scalar(select(func.max(RetentionAssignment.id))) or 0
        result = run(session)
        session.flush()
        assignments = [
            (
                a.id <= first_assignment,  # an older row (retired now or kept)
                a.post_id,
                a.label,
                a.schedule_id,
                a.schedule_version,
                a.series_code,
                a.retention,
                a.due_on,
                a.due_reason,
                a.whs_notice,
                a.disposition,
                a.released_by_id,
                a.released_at,
                a.is_current,
            )
            for a in session.scalars(select(RetentionAssignment).order_by(RetentionAssignment.id))
        ]
        events = [
            # Ids drawn from a PostgreSQL sequence are not given back by a rollback.
            (e.action, e.object_type, e.object_id, _without_ids(e.details), e.actor)
            for e in session.scalars(
                select(AuditEvent).where(AuditEvent.id > first_event).order_by(AuditEvent.id)
            )
        ]
        assert verify_chain(session).ok
        return result, assignments, events
    finally:
        session.rollback()
        session.close()


def _without_ids(details: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in details.items() if k != "classification_id"}


def one_at_a_time(post_ids: list[int]) -> Callable[[Session], int]:
    def run(session: Session) -> int:
        changed = 0
        for post_id in post_ids:
            before = session.scalar(select(func.count()).select_from(RetentionAssignment))
            assign_retention(
                session, post_id=post_id, actor=ACTOR, schedules=schedules(), timezone=TZ
            )
            changed += (
                session.scalar(select(func.count()).select_from(RetentionAssignment)) or 0
            ) - (before or 0)
        return changed

    return run


def test_many_posts_at_once_are_assigned_as_one_at_a_time(db: Database) -> None:
    post_ids = build_world(db)
    expected = outcome(db, one_at_a_time(post_ids))
    _changed, assignments, events = expected
    assert {e[0] for e in events} == {"retention.assigned", "retention.recomputed"}
    assert sum(1 for a in assignments if not a[0]) >= 8  # most posts got a new assignment
    for chunk in (900, 3):  # one chunk, and several
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr("app.retention.assignment._CHUNK", chunk)
            got = outcome(
                db,
                lambda session: assign_retention_many(
                    session, post_ids=post_ids, actor=ACTOR, schedules=schedules(), timezone=TZ
                ),
            )
        assert got == expected
    # The same posts twice: the second time changes nothing, as one at a time.
    twice = outcome(
        db,
        lambda session: assign_retention_many(
            session, post_ids=post_ids + post_ids, actor=ACTOR, schedules=schedules(), timezone=TZ
        ),
    )
    assert twice == expected


def test_many_posts_refuse_as_one_at_a_time(db: Database) -> None:
    with db.session() as session:
        account = make_account(session, make_user(session))
        kept = make_post(session, account=account)
        stub = make_post(session, account=account)
        stub.status = PostStatus.disposed  # disposed, never assigned: only its stub remains
        kept_id, stub_id = kept.id, stub.id

    def many(post_ids: list[int]) -> Callable[[Session], object]:
        return lambda session: assign_retention_many(
            session, post_ids=post_ids, actor=ACTOR, schedules=schedules(), timezone=TZ
        )

    for run in (one_at_a_time([kept_id, stub_id]), many([kept_id, stub_id])):
        with pytest.raises(Conflict, match="only its stub remains"):
            outcome(db, run)
    for run in (one_at_a_time([kept_id, 10**9]), many([kept_id, 10**9])):
        with pytest.raises(NotFound, match="no post"):
            outcome(db, run)
    assert outcome(db, many([])) == (0, [], [])


def test_reclassify_with_the_batched_hook_writes_what_the_per_post_hook_writes(
    db: Database, settings: Settings
) -> None:
    """`postvault classify --all`: the retention hook's batch form over every relabelled post
    gives the rows and audit events the hook gives one post at a time."""
    build_world(db)
    hook = recompute_retention(settings.model_copy(update={"retention_timezone": TZ}))
    assert isinstance(hook, BatchLabelChangedHook)

    def per_post(session: Session, post_id: int, actor: Actor) -> None:
        hook(session, post_id, actor)  # no batch form: called post by post

    def run_with(hooks: list[Any]) -> Callable[[Session], object]:
        return lambda session: reclassify.reclassify_all(
            session, config=config(), actor=ACTOR, batch_size=4, on_label_changed=hooks
        ).as_dict()

    expected = outcome(db, run_with([per_post]))
    summary = expected[0]
    assert isinstance(summary, dict)
    assert summary["posts_relabelled"] > 0
    assert any(e[0] == "retention.assigned" for e in expected[2])
    assert outcome(db, run_with([hook])) == expected


def test_a_hook_without_a_batch_form_is_called_post_by_post(db: Database) -> None:
    build_world(db)
    seen: list[int] = []

    def plain(_session: Session, post_id: int, _actor: Actor) -> None:
        seen.append(post_id)

    result = outcome(
        db,
        lambda session: (
            reclassify.reclassify_all(
                session, config=config(), actor=ACTOR, on_label_changed=[plain]
            ).posts_relabelled
        ),
    )
    assert result[0] == len(seen) > 0
    assert len(set(seen)) == len(seen)


def test_the_due_date_of_a_post_removed_later_is_recomputed_in_the_batch(db: Database) -> None:
    post_ids = build_world(db)
    _n, assignments, events = outcome(
        db,
        lambda session: assign_retention_many(
            session, post_ids=post_ids, actor=ACTOR, schedules=schedules(), timezone=TZ
        ),
    )
    recomputed = [e for e in events if e[0] == "retention.recomputed"]
    assert recomputed
    assert all(isinstance(e[3].get("new_due_on"), str | None) for e in recomputed)
    # Removed 2025-02-03 04:00 UTC, the 2nd in Chicago: due two years after.
    assert dt.date(2027, 2, 2) in {a[7] for a in assignments if a[13]}
