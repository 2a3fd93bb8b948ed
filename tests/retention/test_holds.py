"""Holds: saved-search scope, many holds per post, and the 19.35(5) release timer."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from sqlalchemy.orm import Session

from app.audit.service import Actor
from app.db import Database
from app.errors import Conflict, Invalid
from app.open_records.hold_timers import release_timed_open_records_holds
from app.open_records.models import RecordsRequest
from app.posts.models import CapturedVersion
from app.retention.calendar import load_calendar
from app.retention.holds import (
    active_holds_on,
    extend_scoped_holds,
    held_post_ids,
    place_hold,
    record_mandamus_notice,
    release_hold,
)
from app.retention.schemas import SearchCriteria
from app.retention.search_scope import posts_matching
from tests.factories import TZ, make_account, make_post, make_user, utc

WISCONSIN = load_calendar("wisconsin")
_numbers = itertools.count(1)


def make_request(session: Session, creator_id: int, **fields: object) -> RecordsRequest:
    request = RecordsRequest(
        number=f"R-{next(_numbers)}",
        received_on=dt.date(2026, 1, 5),
        description="posts about the pool",
        created_by_id=creator_id,
        **fields,
    )
    session.add(request)
    session.flush()
    return request


def test_saved_search_matches_by_each_criterion(db: Database) -> None:
    with db.session() as session:
        alice, bob = make_user(session), make_user(session)
        a1 = make_account(session, alice, "bluesky")
        a2 = make_account(session, alice, "mastodon")
        b1 = make_account(session, bob, "bluesky")
        p1 = make_post(
            session,
            account=a1,
            created=utc(2024, 1, 10),
            texts=["Pool closed", "Pool CLOSED today"],
        )
        p2 = make_post(session, account=a2, created=utc(2024, 6, 1), texts=["Library hours"])
        p3 = make_post(session, account=b1, created=utc(2025, 2, 1), texts=["100% pool_party"])

        def match(**criteria: object) -> list[int]:
            return posts_matching(session, SearchCriteria.model_validate(criteria))

        assert match(employee_id=alice.id) == [p1.id, p2.id]
        assert match(account_id=b1.id) == [p3.id]
        assert match(platform="bluesky") == [p1.id, p3.id]
        assert match(text="pool") == [p1.id, p3.id]
        assert match(text="closed today") == [p1.id]
        assert match(text="100%") == [p3.id]
        assert match(text="pool_") == [p3.id]  # _ and % are literal, not wildcards
        assert match(text="0% p") == [p3.id]
        assert match(created_from="2024-05-01", created_to="2025-01-01") == [p2.id]
        assert match(flagged_from=utc(2025, 1, 1)) == [p3.id]
        assert match(employee_id=alice.id, text="pool") == [p1.id]
        assert posts_matching(session, {"platform": "youtube"}) == []
        with pytest.raises(ValueError, match="created_to must be after created_from"):
            SearchCriteria(created_from=utc(2025, 1, 1), created_to=utc(2024, 1, 1))


def test_many_holds_per_post_and_free_only_when_all_released(db: Database) -> None:
    with db.session() as session:
        officer = make_user(session, "records_officer")
        account = make_account(session, make_user(session))
        post = make_post(session, account=account)
        other = make_post(session, account=account, texts=["unrelated"])
        request = make_request(session, officer.id)
        h1 = place_hold(
            session,
            officer=officer,
            kind="litigation",
            reason="Smith v. City",
            authority="Case 2026CV001",
            post_ids=[post.id],
        )
        h2 = place_hold(
            session,
            officer=officer,
            kind="open_records",
            reason="request",
            authority="Wis. Stat. 19.35(5)",
            scope=SearchCriteria(text="pool hours"),
            request_id=request.id,
        )
        assert held_post_ids(session, h2.id) == [post.id]
        assert {h.id for h in active_holds_on(session, post.id)} == {h1.id, h2.id}
        assert active_holds_on(session, other.id) == []
        release_hold(session, hold_id=h1.id, officer=officer, reason="settled", authority="order")
        assert [h.id for h in active_holds_on(session, post.id)] == [h2.id]
        with pytest.raises(Conflict, match="already released"):
            release_hold(session, hold_id=h1.id, officer=officer, reason="x", authority="y")
        # A post flagged later that the saved search matches joins the hold.
        later = make_post(session, account=account, texts=["New pool hours for summer"])
        added = extend_scoped_holds(session, actor=Actor.system("t"))
        assert added == {h2.id: [later.id]}
        assert h1.released_by_id == officer.id
        assert h1.release_reason == "settled"


def test_hold_input_is_checked(db: Database) -> None:
    with db.session() as session:
        officer = make_user(session, "records_officer")
        with pytest.raises(Invalid, match="names posts"):
            place_hold(session, officer=officer, kind="audit", reason="r", authority="a")
        with pytest.raises(Invalid, match="no post 999"):
            place_hold(
                session, officer=officer, kind="audit", reason="r", authority="a", post_ids=[999]
            )
        with pytest.raises(Invalid, match="would hold every post"):
            place_hold(
                session,
                officer=officer,
                kind="audit",
                reason="r",
                authority="a",
                scope=SearchCriteria(),
            )
        with pytest.raises(Invalid, match="names its request"):
            place_hold(
                session,
                officer=officer,
                kind="open_records",
                reason="r",
                authority="a",
                post_ids=[1],
            )
        with pytest.raises(Invalid, match="kind must be"):
            place_hold(
                session, officer=officer, kind="whim", reason="r", authority="a", post_ids=[1]
            )


def test_open_records_timer(db: Database) -> None:
    with db.session() as session:
        officer = make_user(session, "records_officer")
        account = make_account(session, make_user(session))
        post = make_post(session, account=account)
        # Denied Monday March 2, 2026 (08:00 in Wisconsin): 60 business days end May 26.
        denied = make_request(session, officer.id, status="denied", decided_at=utc(2026, 3, 2, 14))
        committed = make_request(
            session,
            officer.id,
            status="denied",
            decided_at=utc(2026, 3, 2, 14),
            requester_committed=True,
        )
        granted = make_request(session, officer.id, status="granted", decided_at=utc(2026, 3, 2))
        open_request = make_request(session, officer.id, status="in_progress")
        mandamus = make_request(session, officer.id, status="denied", decided_at=utc(2020, 1, 2))
        holds = {}
        for name, request in [
            ("denied", denied),
            ("committed", committed),
            ("granted", granted),
            ("open", open_request),
            ("mandamus", mandamus),
        ]:
            holds[name] = place_hold(
                session,
                officer=officer,
                kind="open_records",
                reason=name,
                authority="19.35(5)",
                post_ids=[post.id],
                request_id=request.id,
            ).id
        record_mandamus_notice(
            session,
            hold_id=holds["mandamus"],
            officer=officer,
            noticed_at=utc(2020, 2, 1),
            reference="2020CV77",
        )

        def run(today: dt.date) -> list[int]:
            return release_timed_open_records_holds(
                session, today=today, calendar=WISCONSIN, actor=Actor.system("timer"), timezone=TZ
            )

        assert run(dt.date(2026, 3, 3)) == [holds["granted"]]
        assert run(dt.date(2026, 5, 26)) == []  # the 60th business day: still held
        assert run(dt.date(2026, 5, 27)) == [holds["denied"]]
        # 90 business days for a committed requester end on July 8 (Juneteenth is a Wisconsin
        # holiday; July 4, 2026 is a Saturday and 995.20 moves only Sunday holidays).
        assert run(dt.date(2026, 7, 8)) == []
        assert run(dt.date(2026, 7, 9)) == [holds["committed"]]
        assert run(dt.date(2030, 1, 1)) == []  # in progress, and the mandamus hold, stay
        remaining = {h.id for h in active_holds_on(session, post.id)}
        assert remaining == {holds["open"], holds["mandamus"]}
        with pytest.raises(Invalid, match="court_order_ref"):
            release_hold(
                session, hold_id=holds["mandamus"], officer=officer, reason="done", authority="x"
            )
        released = release_hold(
            session,
            hold_id=holds["mandamus"],
            officer=officer,
            reason="appeal final",
            authority="Wis. Stat. 19.35(5)",
            court_order_ref="2020CV77 order of 2021-03-01",
        )
        assert "2020CV77 order" in (released.release_authority or "")
        versions = session.query(CapturedVersion).count()
        assert versions == 1
