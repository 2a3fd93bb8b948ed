"""The monthly read budget: a simulated month of 1,000 flagged posts never reads more than
POSTVAULT_X_MONTHLY_READ_BUDGET, and the count agrees with what X served.

The real collector polls the loopback X API on the capture schedule of the pipeline
(`poll_due_at`), with the reservations in the real database; a deferred poll waits until the
time its RateLimited outcome names, as the pipeline does. (The pipeline's own handling of a
deferral is in test_pipeline.py; the whole pipeline for a thousand posts over a month is too
slow for a test.)"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import event

from app.collectors.service import poll_due_at
from app.db import Database
from app.platforms.collected import CaptureTarget, CollectedPost, RateLimited, Unchanged
from app.platforms.x.budget import ReadBudget, allows, next_allowed, repoll_room
from tests.platforms.x.conftest import MakeCollector
from tests.platforms.x.server import XApi

AUTHOR = "2244994945"


def unsynced(db: Database) -> Database:
    """The test database without an fsync per commit (SQLite): a simulated month is some
    twenty thousand small transactions, and the disk's speed is not what is tested."""
    database = Database(db.url)
    if database.is_sqlite:

        def no_fsync(connection: Any, _record: Any) -> None:
            connection.execute("PRAGMA synchronous=OFF")

        event.listen(database.engine, "connect", no_fsync)
    return database


@dataclass
class Polled:
    tweet: str
    flagged_at: dt.datetime
    due: dt.datetime
    polls: int = 0
    version: str | None = None


START = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
POSTS = 1000


def test_a_month_of_a_thousand_posts_never_exceeds_the_budget(
    db: Database, api: XApi, make_collector: MakeCollector, x_client: httpx.Client
) -> None:
    budget = POSTS * 8
    api.now = START
    api.limits = {"lookup": 10**9, "search": 10**9}
    api.add_user(AUTHOR, "cityofexample")
    ledger = ReadBudget(monthly=budget, database=unsynced(db))
    collector = make_collector(budget=ledger)
    posts: list[Polled] = []
    first_captured: set[str] = set()
    deferrals = 0
    step = dt.timedelta(hours=1)
    while api.now < START + dt.timedelta(days=31):
        if len(posts) < POSTS and api.now.hour % 2 == 0:
            for _ in range(3):  # 1,000 posts flagged over four weeks, each answered once
                if len(posts) == POSTS:
                    break
                tweet = api.add_tweet(f"post {len(posts)}", author_id=AUTHOR)
                api.add_tweet("a reply", author_id=AUTHOR, conversation_id=tweet, replied_to=tweet)
                posts.append(Polled(tweet, api.now, api.now))
        for post in posts:
            if post.due > api.now:
                continue
            target = CaptureTarget(
                post_id=1, platform="x", external_id=post.tweet, url="https://x.com/i/web/status/1",
                account_handle="cityofexample", previous_platform_version_id=post.version,
            )  # fmt: skip
            result = collector.collect(target, x_client)
            if isinstance(result, RateLimited):
                deferrals += 1
                assert result.retry_at > api.now
                post.due = result.retry_at
                continue
            assert isinstance(result, CollectedPost | Unchanged), result
            if isinstance(result, CollectedPost):
                post.version = result.platform_version_id
                first_captured.add(post.tweet)
            post.polls += 1
            post.due = max(
                poll_due_at(post.flagged_at, post.polls), api.now + dt.timedelta(minutes=30)
            )
        assert api.reads <= budget  # never, at any hour of the month
        api.now += step
    state = ledger.state(START + dt.timedelta(days=2))
    ledger.database.dispose()
    assert api.reads <= budget
    assert state.reads_used == api.reads  # the dashboard's count is what X served
    assert len(posts) == POSTS
    assert len(first_captured) == POSTS  # every post got its first capture in the month
    assert state.polls_deferred == deferrals
    assert deferrals > 0  # the budget was binding


def test_first_captures_may_use_what_re_polls_may_not() -> None:
    now = START + dt.timedelta(days=10)
    # 1,000 reads of first captures by day 10 project to 3,100 for the month: nothing left
    # for re-polls under a 3,000 budget, while a first capture still fits.
    assert repoll_room(3000, 1000, now) <= 0
    assert not allows(3000, 1200, 1000, 8, now, first_capture=False)
    assert allows(3000, 1200, 1000, 8, now, first_capture=True)
    # A quiet month leaves re-polls most of the budget, paced: by day 10 about 11/31 of it.
    assert 1000 < repoll_room(3000, 10, now) < 1100
    assert not allows(3000, 2995, 10, 8, now, first_capture=True)  # never past the budget
    assert next_allowed(3000, 2995, 10, 8, now, first_capture=True) == dt.datetime(
        2027, 1, 1, tzinfo=dt.UTC
    )
    later = next_allowed(3000, 1100, 10, 8, now, first_capture=False)
    assert now < later < dt.datetime(2027, 1, 1, tzinfo=dt.UTC)
    assert allows(3000, 1100, 10, 8, later, first_capture=False)


def test_a_deferred_poll_sends_nothing(
    db: Database, api: XApi, make_collector: MakeCollector, x_client: httpx.Client
) -> None:
    api.now = START
    api.add_user(AUTHOR, "cityofexample")
    tweet = api.add_tweet("hello", author_id=AUTHOR)
    ledger = ReadBudget(monthly=5, database=db)
    result = make_collector(budget=ledger).collect(
        CaptureTarget(
            post_id=1, platform="x", external_id=tweet, url="u", account_handle="cityofexample"
        ),
        x_client,
    )
    assert isinstance(result, RateLimited)  # a lookup could read 8 posts: more than 5
    assert "monthly X read budget (5)" in result.reason
    assert result.retry_at == dt.datetime(2027, 1, 1, tzinfo=dt.UTC)
    assert api.server.requests == []
    assert ledger.state(START).polls_deferred == 1
