"""Nothing held is ever destroyed, and nothing is destroyed before its due date: a stateful
property test over random holds, releases, clocks, proposals, approvals and runs on a real
database and a real archive folder."""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import select

from app.audit.service import Actor
from app.auth.models import User
from app.db import Database
from app.posts.models import FlaggedPost
from app.retention import disposition, disposition_run, holds
from app.retention.models import DispositionBatch, DispositionItem, HeldPost, Hold
from app.storage.local import LocalStore
from tests.conftest import wipe
from tests.factories import assign, make_account, make_post, make_user, utc

ACTOR = Actor.system("property")
START = dt.date(2026, 1, 1)
POSTS = 6


def test_nothing_held_is_ever_destroyed(db: Database, tmp_path: Path) -> None:
    runs = itertools.count()

    class Archive(RuleBasedStateMachine):
        @initialize()
        def setup(self) -> None:
            wipe(db)
            self.store = LocalStore(tmp_path / f"run{next(runs)}")
            self.today = START
            with db.session() as session:
                officer = make_user(session, "records_officer")
                account = make_account(session, make_user(session))
                self.officer_id = officer.id
                self.posts: list[int] = []
                for i in range(POSTS):
                    # Transitory posts (CR+90D) created over 2025-2026: due on different days.
                    post = make_post(
                        session,
                        account=account,
                        label="transitory",
                        created=utc(2025, 9, 1) + dt.timedelta(days=40 * i),
                        store=self.store,
                        media=[f"media {i}".encode(), b"shared by all"],
                        snapshots=False,
                    )
                    assign(session, post)
                    self.posts.append(post.id)

        def _officer(self, session: object) -> User:
            user = session.get(User, self.officer_id)  # type: ignore[attr-defined]
            assert user is not None
            return user  # type: ignore[no-any-return]

        @rule(picks=st.lists(st.integers(0, POSTS - 1), min_size=1, max_size=3, unique=True))
        def place(self, picks: list[int]) -> None:
            with db.session() as session:
                ids = [
                    self.posts[i]
                    for i in picks
                    if session.get(FlaggedPost, self.posts[i]).status != "disposed"  # type: ignore[union-attr]
                ]
                if ids:
                    holds.place_hold(
                        session,
                        officer=self._officer(session),
                        kind="litigation",
                        reason="case",
                        authority="CV",
                        post_ids=ids,
                    )

        @rule(data=st.data())
        def release(self, data: st.DataObject) -> None:
            with db.session() as session:
                active = list(
                    session.scalars(
                        select(Hold.id).where(Hold.released_at.is_(None)).order_by(Hold.id)
                    )
                )
                if active:
                    hold_id = data.draw(st.sampled_from(active))
                    holds.release_hold(
                        session,
                        hold_id=hold_id,
                        officer=self._officer(session),
                        reason="done",
                        authority="order",
                    )

        @rule(days=st.integers(1, 120))
        def tick(self, days: int) -> None:
            self.today += dt.timedelta(days=days)

        @rule()
        def propose_and_approve(self) -> None:
            with db.session() as session:
                disposition.propose_batch(session, actor=ACTOR, today=self.today)
                proposed = session.scalars(
                    select(DispositionBatch.id).where(DispositionBatch.status == "proposed")
                ).all()
                for batch_id in proposed:
                    disposition.approve_batch(
                        session,
                        batch_id=batch_id,
                        officer=self._officer(session),
                        authority="schedule",
                    )

        @rule()
        def run(self) -> None:
            with db.session() as session:
                runnable = disposition.runnable_batch_ids(session, today=self.today)
            for batch_id in runnable:
                disposition_run.run_batch(
                    db, batch_id=batch_id, store=self.store, actor=ACTOR, today=self.today
                )
                with db.session() as session:
                    for item in disposition.batch_items(session, batch_id):
                        if item.status == "destroyed":
                            assert item.stub is not None
                            # Never before its due date.
                            assert dt.date.fromisoformat(item.stub["due_on"]) <= self.today

        @invariant()
        def held_posts_are_never_destroyed(self) -> None:
            if not hasattr(self, "store"):
                return
            with db.session() as session:
                rows = session.execute(
                    select(
                        Hold.placed_at, Hold.released_at, FlaggedPost.disposed_at, FlaggedPost.id
                    )
                    .join(HeldPost, HeldPost.hold_id == Hold.id)
                    .join(FlaggedPost, FlaggedPost.id == HeldPost.post_id)
                    .where(FlaggedPost.disposed_at.is_not(None))
                ).all()
                for placed_at, released_at, disposed_at, post_id in rows:
                    assert disposed_at is not None
                    held_then = placed_at <= disposed_at and (
                        released_at is None or released_at > disposed_at
                    )
                    assert not held_then, f"post {post_id} destroyed while held"
                # Files: a disposed post's own media is gone; the shared file stays while
                # any post is kept.
                keys = set(self.store.keys())
                for item in session.scalars(
                    select(DispositionItem).where(DispositionItem.status == "destroyed")
                ):
                    assert item.stub is not None
                    assert not set(item.stub["destroyed_objects"]) & keys

    run_state_machine_as_test(
        Archive,
        settings=settings(
            max_examples=15,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )
