"""A small archive of posts in every retention situation, for the disposition tests."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from app.auth.models import User
from app.db import Database
from app.retention.holds import place_hold
from app.storage.local import LocalStore
from tests.retention.factory import assign, make_account, make_post, make_user, utc

TODAY = dt.date(2026, 11, 25)
SHARED_MEDIA = b"\x89PNG shared between a and c"


@dataclass
class World:
    officer_id: int
    posts: dict[str, int]

    def name_of(self, post_id: int) -> str:
        return {v: k for k, v in self.posts.items()}[post_id]


def build_world(db: Database, store: LocalStore) -> World:
    """a, b: transitory and due; c: a record still online (never due) sharing a's media;
    d: due but under litigation hold; e: transitory not due yet; f: a removed record due
    since 2022, whose series needs Historical Society notice."""
    with db.session() as session:
        officer: User = make_user(session, "records_officer")
        account = make_account(session, make_user(session))
        posts = {
            "a": make_post(
                session,
                account=account,
                label="transitory",
                store=store,
                media=[SHARED_MEDIA, b"media only a"],
                texts=["Happy Friday", "Happy Friday!"],
                store_source=True,
            ),
            "b": make_post(
                session, account=account, label="transitory", store=store, media=[b"media b"]
            ),
            "c": make_post(
                session, account=account, label="record", store=store, media=[SHARED_MEDIA]
            ),
            "d": make_post(
                session, account=account, label="transitory", store=store, media=[b"media d"]
            ),
            "e": make_post(
                session,
                account=account,
                label="transitory",
                store=store,
                created=utc(2026, 11, 1, 12),
                media=[b"media e"],
            ),
            "f": make_post(
                session,
                account=account,
                label="record",
                store=store,
                removed_at=utc(2016, 6, 1),
                media=[b"media f"],
            ),
        }
        for post in posts.values():
            assign(session, post)
        place_hold(
            session,
            officer=officer,
            kind="litigation",
            reason="Doe v. City",
            authority="2026CV12",
            post_ids=[posts["d"].id],
        )
        return World(officer.id, {k: p.id for k, p in posts.items()})
