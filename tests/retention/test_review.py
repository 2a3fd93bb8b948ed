"""Series ending in `review` produce a review list, never a destruction: a records officer
retains a post longer (until a date, with a reason) or approves its destruction, which then
goes through a normal destruction batch. Approving the destruction of a held post is refused
(409 naming the hold) and the refusal audited."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.audit.service import Actor
from app.auth.models import User
from app.db import Database
from app.errors import AuditedRefusal, Forbidden, Invalid
from app.posts.models import FlaggedPost, PostStatus
from app.retention import disposition, disposition_run, holds, report, review
from app.retention.models import ReviewOutcome
from app.storage.local import LocalStore
from tests.factories import TZ
from tests.retention.transfer_world import TODAY, build_transfer_world, transfer_schedules

ACTOR = Actor.system("tests")


def user(db: Database, user_id: int) -> User:
    with db.session() as session:
        found = session.get(User, user_id)
        assert found is not None
        session.expunge(found)
        return found


def test_review_series_go_on_the_list_and_only_a_decision_lets_them_go(
    db: Database, tmp_path: Path
) -> None:
    store = LocalStore(tmp_path / "archive")
    world = build_transfer_world(db, store, transfer_schedules(tmp_path / "schedules"))
    r1, r2 = world.posts["r1"], world.posts["r2"]
    officer = user(db, world.officer_id)
    with db.session() as session:
        listed = review.review_list(session, today=TODAY)
        assert {line.post_id for line in listed} == {r1, r2}
        assert all(line.state == "to_review" for line in listed)
        # Due, but never proposed for destruction without a decision.
        batch = disposition.propose_batch(session, actor=ACTOR, today=TODAY)
        assert batch is not None
        assert r1 not in {i.post_id for i in disposition.batch_items(session, batch.id)}
        disposition.cancel_batch(session, batch_id=batch.id, officer=officer, reason="test")
        lines = {line.post_id: line for line in report.disposition_report(session, today=TODAY)}
        assert "review list" in lines[r1].state
        assert not lines[r1].would_destroy

        with pytest.raises(Forbidden):
            review.decide(
                session,
                post_id=r1,
                officer=user(db, world.admin_id),
                outcome=ReviewOutcome.destroy,
                reason="no value",
                retain_until=None,
                today=TODAY,
            )
        with pytest.raises(Invalid, match="retain_until"):
            review.decide(
                session,
                post_id=r1,
                officer=officer,
                outcome=ReviewOutcome.retain,
                reason="still cited",
                retain_until=None,
                today=TODAY,
            )
        review.decide(
            session,
            post_id=r1,
            officer=officer,
            outcome=ReviewOutcome.retain,
            reason="still cited in the 2027 budget hearing",
            retain_until=dt.date(2027, 6, 1),
            today=TODAY,
        )
        review.decide(
            session,
            post_id=r2,
            officer=officer,
            outcome=ReviewOutcome.destroy,
            reason="no lasting value",
            retain_until=None,
            today=TODAY,
        )
        assert review.review_list(session, today=TODAY) == []
        decided = {
            line.post_id: line
            for line in review.review_list(session, today=TODAY, include_decided=True)
        }
        assert decided[r1].state == "retained"
        assert decided[r1].retain_until == dt.date(2027, 6, 1)
        assert decided[r2].state == "destruction_approved"
        # Past the day it was retained to, r1 is back for review.
        later = dt.date(2027, 6, 2)
        assert [line.post_id for line in review.review_list(session, today=later)] == [r1]
        events = {
            e.action: e
            for e in session.scalars(
                select(AuditEvent).where(AuditEvent.action.in_(["review.retain", "review.destroy"]))
            )
        }
        assert events["review.retain"].details["reason"] == "still cited in the 2027 budget hearing"
        assert events["review.destroy"].object_id == str(r2)

        batch = disposition.propose_batch(session, actor=ACTOR, today=TODAY)
        assert batch is not None
        in_batch = {i.post_id for i in disposition.batch_items(session, batch.id)}
        assert r2 in in_batch
        assert r1 not in in_batch
        batch_id = batch.id
        disposition.approve_batch(
            session, batch_id=batch_id, officer=officer, authority="review of T-REV-02", timezone=TZ
        )
    result = disposition_run.run_batch(
        db, batch_id=batch_id, store=store, actor=ACTOR, today=TODAY, timezone=TZ
    )
    assert r2 in result.destroyed
    assert r1 not in result.destroyed
    with db.session() as session:
        assert session.get(FlaggedPost, r2).status == PostStatus.disposed  # type: ignore[union-attr]
        assert session.get(FlaggedPost, r1).status != PostStatus.disposed  # type: ignore[union-attr]


def test_approving_destruction_of_a_held_review_post_is_refused_and_audited(
    db: Database, tmp_path: Path
) -> None:
    store = LocalStore(tmp_path / "archive")
    world = build_transfer_world(db, store, transfer_schedules(tmp_path / "schedules"))
    r1 = world.posts["r1"]
    officer = user(db, world.officer_id)
    with db.session() as session:
        hold = holds.place_hold(
            session,
            officer=officer,
            kind="investigation",
            reason="police investigation 2026-0042",
            authority="MPD case 2026-0042",
            post_ids=[r1],
        )
        hold_id = hold.id
        lines = review.review_list(session, today=TODAY)
        assert [
            f"hold {hold_id}" in h for line in lines if line.post_id == r1 for h in line.held_by
        ] == [True]
    with pytest.raises(AuditedRefusal) as refused:
        with db.session() as session:
            review.decide(
                session,
                post_id=r1,
                officer=officer,
                outcome=ReviewOutcome.destroy,
                reason="no value",
                retain_until=None,
                today=TODAY,
            )
    assert refused.value.status_code == 409
    assert f"hold {hold_id}" in refused.value.message
