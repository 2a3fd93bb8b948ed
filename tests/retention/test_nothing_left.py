"""Issue 17: nothing left after destruction. A post rich in every kind of content is
destroyed; then every table, every file in the store and the search index are searched for
each of its distinctive strings. Only the certificate's allowed fields (ids, series, dates,
hashes, approver, authority) may remain, and they hold none of them."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import inspect, select, text

from app.audit.service import Actor
from app.auth.models import User
from app.classification.models import (
    Classification,
    ClassificationOverride,
    ContentFingerprint,
)
from app.db import Database
from app.open_records.models import RecordsRequest, RequestItem
from app.open_records.schemas import SearchQuery
from app.posts.models import CapturedVersion, FlaggedPost, VersionMedia
from app.retention import disposition, disposition_run
from app.retention.models import DispositionItem
from app.search.service import index_version, search
from app.storage.local import LocalStore
from app.storage.service import put_object
from tests.factories import TODAY, TZ, assign, make_account, make_post, make_user

ACTOR = Actor.system("tests")
TEXT = "Zanzibarquux council"
REASON_QUOTE = "mentions Zanzibarquux"
ALT = "Quetzalaltimage"
SOURCE_URL = "https://cdn.example.test/Vermillionsrc.png"
AUTHOR_NAME = "Wilhelmina Frobisher"
AUTHOR_HANDLE = "frobisherhandle.example"
LINK_TITLE = "Linkcardtitlezz"
LINK_URL = "https://news.example.test/Linkcardpath"
REPLY_TEXT = "Replyberrytext"
REPLY_AUTHOR = "Replyauthorzz"
NOTE = "Flagnotezz"
OVERRIDE_REASON = "officer notes Zanzibarquux"
REDACTED_COPY = b"%PDF-1.7 redacted copy: Zanzibarquux Redactedcopyzz"


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "archive")


def distinctive(post_url: str) -> list[str]:
    return [
        "Zanzibarquux",
        ALT,
        SOURCE_URL,
        "Vermillionsrc",
        AUTHOR_NAME,
        AUTHOR_HANDLE,
        LINK_TITLE,
        "Linkcardpath",
        REPLY_TEXT,
        REPLY_AUTHOR,
        NOTE,
        "Redactedcopyzz",
        post_url,
    ]


def build_rich_post(db: Database, store: LocalStore) -> tuple[int, str, int]:
    with db.session() as session:
        officer = make_user(session, "records_officer")
        account = make_account(session, make_user(session))
        post = make_post(
            session,
            account=account,
            label="transitory",
            store=store,
            media=[b"\x89PNG media of the rich post"],
            texts=[TEXT],
            store_source=True,
        )
        post.note = NOTE
        version = post.versions[0]
        normalized = {
            "text": TEXT,
            "author": {"handle": AUTHOR_HANDLE, "display_name": AUTHOR_NAME},
            "link_card": {"url": LINK_URL, "title": LINK_TITLE, "description": TEXT},
            "replies": [{"author": {"handle": REPLY_AUTHOR}, "text": REPLY_TEXT}],
            "media": [{"alt_text": ALT, "url": SOURCE_URL}],
        }
        version.normalized = normalized
        version.source_json = json.dumps(normalized)
        version.author_handle = AUTHOR_HANDLE
        version.author_name = AUTHOR_NAME
        for media in session.scalars(
            select(VersionMedia).where(VersionMedia.version_id == version.id)
        ):
            media.alt_text = ALT
            media.source_url = SOURCE_URL
        for row in session.scalars(
            select(Classification).where(Classification.version_id == version.id)
        ):
            row.reasons = [REASON_QUOTE]
            row.primary_ref = LINK_URL
        session.add(
            ClassificationOverride(
                post_id=post.id,
                label="transitory",
                reason=OVERRIDE_REASON,
                officer_id=officer.id,
                revoked_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC),
            )
        )
        session.add(
            ContentFingerprint(
                version_id=version.id,
                post_id=post.id,
                account_id=account.id,
                platform=post.platform,
                account_handle=AUTHOR_HANDLE,
                url=post.url,
                algorithm="test",
                exact_hash="0" * 64,
                normalized_text=TEXT.lower(),
            )
        )
        # A closed request answered with a redacted copy of the post.
        request = RecordsRequest(
            number="2020-0001",
            received_on=dt.date(2020, 1, 6),
            description="council posts",
            created_by_id=officer.id,
            status="closed",
        )
        session.add(request)
        session.flush()
        copy = put_object(
            session, store, REDACTED_COPY, mime_type="application/pdf", kind="redacted"
        )
        session.add(
            RequestItem(
                request_id=request.id,
                version_id=version.id,
                added_by_id=officer.id,
                redacted_sha256=copy.sha256,
            )
        )
        session.flush()
        index_version(session, version.id)
        assign(session, post)
        return post.id, post.url, officer.id


def _as_text(value: object) -> str:
    if isinstance(value, memoryview):
        value = bytes(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def every_value_of_every_table(db: Database) -> dict[str, list[str]]:
    """Each table's rows, every column read as text (JSON and blobs too)."""
    found: dict[str, list[str]] = {}
    with db.engine.connect() as conn:
        for table in inspect(conn).get_table_names():
            rows = conn.execute(text(f'SELECT * FROM "{table}"')).all()
            # Lower-cased: a search index keeps its terms folded.
            found[table] = [_as_text(v).lower() for row in rows for v in row if v is not None]
    return found


def test_a_destroyed_post_leaves_none_of_its_content_anywhere(
    db: Database, store: LocalStore
) -> None:
    post_id, post_url, officer_id = build_rich_post(db, store)
    strings = distinctive(post_url)
    # The strings are really there before: the search below can find them.
    before = every_value_of_every_table(db)
    for needle in strings:
        if needle != "Redactedcopyzz":
            assert any(needle.lower() in v for values in before.values() for v in values), needle
    assert any(store.get(k) == REDACTED_COPY for k in store.keys())

    with db.session() as session:
        batch = disposition.propose_batch(session, actor=ACTOR, today=TODAY)
        assert batch is not None
        assert [i.post_id for i in disposition.batch_items(session, batch.id)] == [post_id]
        officer = session.get(User, officer_id)
        assert officer is not None
        disposition.approve_batch(
            session, batch_id=batch.id, officer=officer, authority="EX-SM", timezone=TZ
        )
        batch_id = batch.id
    result = disposition_run.run_batch(
        db, batch_id=batch_id, store=store, actor=ACTOR, today=TODAY, timezone=TZ
    )
    assert result.status == "completed"
    assert result.destroyed == [post_id]

    after = every_value_of_every_table(db)
    left = {
        (table, needle)
        for table, values in after.items()
        for needle in strings
        if any(needle.lower() in v for v in values)
    }
    assert left == set(), f"content left after destruction: {sorted(left)}"
    for key in store.keys():
        data = store.get(key)
        for needle in strings:
            assert needle.lower().encode() not in data.lower(), f"{needle!r} left in object {key}"
    for path in Path(store.root).rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for needle in strings:
                assert needle.lower().encode() not in data.lower(), f"{needle!r} left in {path}"
    with db.session() as session:
        officer = session.get(User, officer_id)
        assert officer is not None
        for word in ("Zanzibarquux", ALT, LINK_TITLE, REPLY_TEXT, "Frobisher"):
            page = search(session, query=SearchQuery(q=word), viewer=officer)
            assert page.total == 0, word
        # What is kept is the stub and the hashes the certificate needs.
        item = session.scalar(select(DispositionItem).where(DispositionItem.post_id == post_id))
        assert item is not None
        assert item.stub is not None
        assert set(item.stub) >= {"post_id", "series_code", "url_sha256", "versions", "approver"}
        post = session.get(FlaggedPost, post_id)
        assert post is not None
        version = session.scalar(select(CapturedVersion).where(CapturedVersion.post_id == post_id))
        assert version is not None
        assert len(version.content_hash) == 64
