"""Provenance: every version names the capture run (the attempt) that made it — polls, the
removal, and uploads (a run row of their own) — in the API's version answer and on the post
page."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.collectors.models import CaptureAttempt
from app.db import Database
from app.posts.models import CapturedVersion
from tests.collectors.test_capture_pipeline import api, capture, ctx, flag_on, instance
from tests.conftest import MakePerson
from tests.platforms.mastodon_like import MastodonInstance
from tests.uploads.test_uploads import png, upload
from tests.web.support import give_password, sign_in

__all__ = ["api", "ctx", "instance"]  # the capture pipeline's fixtures, used here as they are

STATUS = "117020586180926938"


def test_every_version_records_the_run_that_made_it(
    api: TestClient,
    make_person: MakePerson,
    instance: MastodonInstance,
    db: Database,
) -> None:
    ann = make_person()
    instance.add(STATUS, "<p>The pool on Oak St closes June 3 for repairs.</p>")
    post_id = flag_on(api, ann, instance, STATUS)
    assert capture(api, ann, post_id)["outcome"] == "new_version"
    instance.edit(STATUS, "<p>The pool on Oak St closes June 10 for repairs.</p>")
    assert capture(api, ann, post_id)["outcome"] == "new_version"
    status, body = upload(api, ann, post_id, "screen.png", png())
    assert status == 201, body
    instance.statuses[STATUS].deleted = True
    assert capture(api, ann, post_id)["outcome"] == "removed"

    versions = api.get(f"/api/v1/posts/{post_id}/versions", headers=ann.headers).json()
    assert [v["kind"] for v in versions] == ["capture", "capture", "upload", "removal"]
    run_ids = [v["capture_run_id"] for v in versions]
    assert all(isinstance(r, int) for r in run_ids)
    assert len(set(run_ids)) == 4  # each version its own run here
    with db.session() as session:
        for number, run_id in enumerate(run_ids, start=1):
            run = session.get(CaptureAttempt, run_id)
            assert run is not None
            assert run.post_id == post_id
            version = session.scalars(
                select(CapturedVersion).where(
                    CapturedVersion.post_id == post_id, CapturedVersion.number == number
                )
            ).one()
            assert run.version_id == version.id  # the run names the version it made
        upload_run = session.get(CaptureAttempt, run_ids[2])
        assert upload_run is not None
        assert upload_run.outcome == "uploaded"
        assert upload_run.worker == f"upload:user:{ann.user.id}"
        added = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "capture.version_added")
            .order_by(AuditEvent.id)
        ).all()
        assert [e.details["capture_run_id"] for e in added] == [run_ids[0], run_ids[1], run_ids[3]]
        uploaded = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "upload.added")
        ).one()
        assert uploaded.details["capture_run_id"] == run_ids[2]

    detail = api.get(f"/api/v1/posts/{post_id}", headers=ann.headers).json()
    assert [v["capture_run_id"] for v in detail["versions"]] == run_ids
    give_password(db, ann.user)
    sign_in(api, ann.user.email)
    page = api.get(f"/posts/{post_id}")
    assert page.status_code == 200
    for run_id in run_ids:
        assert f"capture run {run_id}" in page.text
