"""The capture path end to end: flag → capture → versions, media, edits, removal, failures,
against a Mastodon instance on loopback answering in the recorded shapes."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.collectors.models import CaptureAttempt
from app.collectors.service import CaptureContext, capture_post, claim_due, poll_due_at, run_due
from app.config import Settings
from app.db import Database
from app.pipeline import build_capture_context
from app.posts.models import CapturedVersion, FlaggedPost
from app.storage.local import LocalStore
from tests.conftest import MakePerson, Person
from tests.platforms.mastodon_like import MastodonInstance, mastodon_instance


@pytest.fixture
def instance() -> Iterator[MastodonInstance]:
    with mastodon_instance() as inst:
        yield inst


def context_for(
    db: Database, settings: Settings, *hosts: str, worker: str = "test-worker"
) -> CaptureContext:
    allowed = settings.model_copy(
        update={
            "fetch_allow_hosts": ",".join(hosts),
            "mastodon_plain_http_instances": ",".join(hosts),
            "capture_max_failures": 2,
        }
    )
    return build_capture_context(db, allowed, store=LocalStore(settings.archive_dir), worker=worker)


@pytest.fixture
def ctx(db: Database, settings: Settings, instance: MastodonInstance) -> Iterator[CaptureContext]:
    context = context_for(db, settings, instance.netloc)
    yield context
    context.client.close()


def flag_on(client: TestClient, who: Person, instance: MastodonInstance, status_id: str) -> int:
    handle = f"{instance.username}@{instance.netloc}"
    r = client.post(
        "/api/v1/accounts", json={"platform": "mastodon", "handle": handle}, headers=who.headers
    )
    assert r.status_code in (200, 201), r.text
    r = client.post(
        "/api/v1/posts", json={"url": instance.post_url(status_id)}, headers=who.headers
    )
    assert r.status_code in (200, 201), r.text
    post_id: int = r.json()["id"]
    return post_id


def capture(client: TestClient, who: Person, post_id: int) -> dict[str, object]:
    r = client.post(f"/api/v1/posts/{post_id}/capture", headers=who.headers)
    assert r.status_code == 200, r.text
    data: dict[str, object] = r.json()
    return data


@pytest.fixture
def api(client: TestClient, ctx: CaptureContext) -> TestClient:
    client.app.state.capture_context = lambda: ctx  # type: ignore[attr-defined]
    return client


def test_capture_edit_reply_delete(
    api: TestClient,
    make_person: MakePerson,
    instance: MastodonInstance,
    db: Database,
    settings: Settings,
) -> None:
    ann = make_person()
    instance.add(
        "117020586180926938", "<p>The pool on Oak St closes June 3 for repairs.</p>", media=1
    )
    post_id = flag_on(api, ann, instance, "117020586180926938")

    first = capture(api, ann, post_id)
    assert first["outcome"] == "new_version"
    assert first["versions_added"] == [1]
    versions = api.get(f"/api/v1/posts/{post_id}/versions", headers=ann.headers).json()
    assert len(versions) == 1
    v1 = versions[0]
    assert "Oak St closes June 3" in v1["text"]
    roles = sorted(m["role"] for m in v1["media"])
    assert roles == ["avatar", "image"]
    store = LocalStore(settings.archive_dir)
    for media in v1["media"]:
        assert store.get(media["sha256"])  # stored, and its hash verifies on read

    # The version's PDF/A snapshot was made right after the capture committed.
    pdf = api.get(f"/api/v1/posts/{post_id}/versions/1/snapshot.pdf", headers=ann.headers)
    assert pdf.status_code == 200
    assert pdf.content.startswith(b"%PDF")
    assert hashlib.sha256(pdf.content).hexdigest() == pdf.headers["X-Content-SHA256"]

    again = capture(api, ann, post_id)
    assert again["outcome"] == "unchanged"

    instance.edit("117020586180926938", "<p>The pool on Oak St closes June 10 for repairs.</p>")
    edited = capture(api, ann, post_id)
    assert edited["outcome"] == "new_version"
    versions = api.get(f"/api/v1/posts/{post_id}/versions", headers=ann.headers).json()
    assert [v["number"] for v in versions] == [1, 2]
    assert "June 10" in versions[-1]["text"]
    assert "text changed" in versions[-1]["diff_from_previous"]
    assert versions[0]["content_hash"] != versions[1]["content_hash"]

    instance.reply("117020586180926938", "Will the splash pad stay open?", "117020590000000001")
    replied = capture(api, ann, post_id)
    assert replied["outcome"] == "new_version"
    assert (
        "1 new reply"
        in api.get(f"/api/v1/posts/{post_id}/versions", headers=ann.headers).json()[-1][
            "diff_from_previous"
        ]
    )

    instance.statuses["117020586180926938"].deleted = True
    removed = capture(api, ann, post_id)
    assert removed["outcome"] == "removed"
    detail = api.get(f"/api/v1/posts/{post_id}", headers=ann.headers).json()
    assert detail["status"] == "removed"
    assert detail["removed_at"] is not None
    # Every captured version was indexed for search and classified as part of the capture.
    officer = make_person("records_officer")
    hits = api.get("/api/v1/search", params={"q": "splash pad"}, headers=officer.headers).json()
    assert {h["post_id"] for h in hits["hits"]} == {post_id}
    assert detail["classification"]["label"] == "record"
    assert detail["classification"]["version_number"] == 3
    # ... and given its retention series (CR+7Y outlasts the 2 years after removal here).
    assert detail["retention"]["label"] == "record"
    assert detail["retention"]["due_on"] == "2033-08-01"
    assert [v["kind"] for v in detail["versions"]] == ["capture", "capture", "capture", "removal"]
    # A later poll of a removed post adds nothing more.
    assert capture(api, ann, post_id)["outcome"] == "removed"
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(CapturedVersion)) == 4
        actions = list(
            session.scalars(select(AuditEvent.action).where(AuditEvent.object_id == str(post_id)))
        )
    assert actions.count("capture.version_added") == 4
    assert "capture.removed" in actions


def test_first_capture_of_an_edited_post_keeps_its_history(
    api: TestClient, make_person: MakePerson, instance: MastodonInstance
) -> None:
    ann = make_person()
    instance.add("2001", "<p>Original wording</p>")
    instance.edit("2001", "<p>Second wording</p>")
    instance.edit("2001", "<p>Third wording</p>")
    post_id = flag_on(api, ann, instance, "2001")
    report = capture(api, ann, post_id)
    versions = api.get(f"/api/v1/posts/{post_id}/versions", headers=ann.headers).json()
    assert report["versions_added"] == [1, 2, 3]
    assert [v["kind"] for v in versions] == ["history", "history", "capture"]
    assert [v["text"].strip() for v in versions] == [
        "Original wording",
        "Second wording",
        "Third wording",
    ]


def test_rate_limit_pauses_only_that_host(
    db: Database,
    settings: Settings,
    api: TestClient,
    make_person: MakePerson,
    instance: MastodonInstance,
) -> None:
    ann = make_person()
    instance.add("3001", "<p>one</p>")
    limited = flag_on(api, ann, instance, "3001")
    reset = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10)
    instance.rate_limited_until = reset
    with mastodon_instance(username="library") as other:
        other.add("3002", "<p>two</p>")
        free = flag_on(api, ann, other, "3002")
        ctx = context_for(db, settings, instance.netloc, other.netloc)
        api.app.state.capture_context = lambda: ctx  # type: ignore[attr-defined]
        try:
            assert capture(api, ann, limited)["outcome"] == "rate_limited"
            assert capture(api, ann, free)["outcome"] == "new_version"
        finally:
            ctx.client.close()
    with db.session() as session:
        post = session.get(FlaggedPost, limited)
        assert post is not None
        assert post.next_poll_at is not None
        assert post.next_poll_at >= reset - dt.timedelta(seconds=2)
        assert post.status == "waiting"


def test_repeated_failures_mark_the_post_failing_and_keep_retrying(
    api: TestClient, make_person: MakePerson, instance: MastodonInstance
) -> None:
    ann = make_person()
    instance.add("4001", "<p>x</p>")
    post_id = flag_on(api, ann, instance, "4001")
    instance.fail_next = 100
    capture(api, ann, post_id)
    report = capture(api, ann, post_id)
    assert report["outcome"] == "failed"
    detail = api.get(f"/api/v1/posts/{post_id}", headers=ann.headers).json()
    assert detail["status"] == "failing"
    assert detail["last_error"]
    assert detail["failure_count"] == 2
    assert detail["next_poll_at"] is not None  # retried later, not forgotten
    instance.fail_next = 0
    assert capture(api, ann, post_id)["outcome"] == "new_version"
    assert api.get(f"/api/v1/posts/{post_id}", headers=ann.headers).json()["status"] == "captured"


def test_scheduled_polls_follow_the_schedule_and_are_written_once(
    api: TestClient,
    make_person: MakePerson,
    instance: MastodonInstance,
    ctx: CaptureContext,
    db: Database,
) -> None:
    ann = make_person()
    for i in range(5):
        instance.add(f"500{i}", f"<p>post {i}</p>")
    ids = [flag_on(api, ann, instance, f"500{i}") for i in range(5)]
    summary = run_due(ctx)
    assert summary.claimed == 5
    assert summary.outcomes == {"new_version": 5}
    assert run_due(ctx).claimed == 0  # nothing due until the 1-hour poll
    with db.session() as session:
        for post_id in ids:
            post = session.get(FlaggedPost, post_id)
            assert post is not None
            assert post.polls_done == 1
            assert post.next_poll_at == poll_due_at(post.flagged_at, 1)
            slots = list(
                session.scalars(
                    select(CaptureAttempt.poll_slot).where(CaptureAttempt.post_id == post_id)
                )
            )
            assert slots == ["scheduled:0"]
    # An hour later the next poll is due; a second worker cannot claim what the first holds.
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1, minutes=1)
    ctx.clock = lambda: later
    other = CaptureContext(
        ctx.database,
        ctx.settings,
        ctx.store,
        ctx.client,
        ctx.collectors,
        worker="other",
        clock=lambda: later,
    )
    mine = claim_due(ctx, limit=3)
    theirs = claim_due(other, limit=10)
    assert len(mine) == 3
    assert len(theirs) == 2
    assert not set(mine) & set(theirs)
    for post_id in mine:
        assert capture_post(ctx, post_id).outcome == "unchanged"
    # A worker whose lease was taken over writes nothing.
    assert capture_post(ctx, theirs[0]).outcome == "skipped"


def test_poll_schedule() -> None:
    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    offsets = [poll_due_at(t0, n) - t0 for n in range(10)]
    assert offsets[:7] == [
        dt.timedelta(0),
        dt.timedelta(hours=1),
        dt.timedelta(hours=6),
        dt.timedelta(days=1),
        dt.timedelta(days=3),
        dt.timedelta(days=7),
        dt.timedelta(days=30),
    ]
    assert offsets[7:] == [dt.timedelta(days=60), dt.timedelta(days=90), dt.timedelta(days=120)]


def test_archive_folder_has_no_partial_files(
    api: TestClient, make_person: MakePerson, instance: MastodonInstance, settings: Settings
) -> None:
    ann = make_person()
    instance.add("6001", "<p>photo</p>", media=2)
    capture(api, ann, flag_on(api, ann, instance, "6001"))
    tmp = Path(settings.archive_dir) / "tmp"
    assert not tmp.exists() or list(tmp.iterdir()) == []


@pytest.mark.parametrize("breakage", ["malformed", "huge", "redirect"])
def test_bad_answers_give_a_clear_outcome_and_lose_nothing(
    breakage: str,
    client: TestClient,
    make_person: MakePerson,
    instance: MastodonInstance,
    db: Database,
    settings: Settings,
) -> None:
    small = settings.model_copy(update={"fetch_max_bytes": 50_000})
    ctx = context_for(db, small, instance.netloc)
    client.app.state.capture_context = lambda: ctx  # type: ignore[attr-defined]
    try:
        ann = make_person()
        instance.add("8001", "<p>Kept safe</p>", media=1)
        post_id = flag_on(client, ann, instance, "8001")
        assert capture(client, ann, post_id)["outcome"] == "new_version"
        before = client.get(f"/api/v1/posts/{post_id}/versions", headers=ann.headers).json()
        instance.break_with = breakage
        report = capture(client, ann, post_id)
        assert report["outcome"] == "failed"
        detail = str(report["detail"])
        expected = {"malformed": "JSON", "huge": "bytes", "redirect": "127.0.0.1"}[breakage]
        assert expected in detail, detail
        after = client.get(f"/api/v1/posts/{post_id}/versions", headers=ann.headers).json()
        assert after == before  # nothing archived was lost or changed
        store = LocalStore(settings.archive_dir)
        for media in after[0]["media"]:
            assert store.get(media["sha256"])
        assert client.get(f"/api/v1/posts/{post_id}", headers=ann.headers).json()["last_error"]
    finally:
        ctx.client.close()
