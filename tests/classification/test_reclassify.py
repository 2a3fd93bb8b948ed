"""`reclassify_all` reads and writes per batch; its decisions, rows and audit events are the
very ones `classify_version` makes one version at a time."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, select

from app.audit.models import AuditEvent
from app.audit.service import Actor, record_many, verify_chain
from app.classification import crosspost, reclassify, service
from app.classification.models import Classification, ContentFingerprint, ContentFingerprintBand
from app.db import Database
from app.posts.models import CapturedVersion
from tests.classification.labelled import archive, cases, config
from tests.conftest import MakePerson
from tests.factories import add_capture

ACTOR = Actor.system("tests")


def _decisions(db: Database) -> dict[int, tuple[object, ...]]:
    with db.session() as session:
        return {
            row.version_id: (
                row.label,
                row.rule_id,
                tuple(row.reasons),
                row.primary_ref,
                row.primary_version_id,
                row.needs_review,
                row.review_details,
            )
            for row in session.scalars(
                select(Classification).where(Classification.is_current.is_(True))
            )
        }


def test_a_batched_run_decides_as_one_version_at_a_time(
    db: Database, make_person: MakePerson, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner = make_person().user
    cfg = config()
    with db.session() as session:
        posts = {}
        for item in archive():
            version = add_capture(
                session, owner=owner, post=item.post, external_id=f"a-{item.spec['version_id']}"
            )
            posts[item.spec["post_id"]] = version.post
        for n, case in enumerate(cases()):
            add_capture(
                session,
                owner=owner,
                post=case.post,
                handle=case.context.account_handle,
                external_id=f"c-{n}",
                flagged=posts.get(case.spec.get("post_id", -1)),
            )
    with db.session() as session:
        for version_id in session.scalars(select(CapturedVersion.id).order_by(CapturedVersion.id)):
            service.classify_version(session, version_id=version_id, config=cfg, actor=ACTOR)
    one_by_one = _decisions(db)
    assert len({d[1] for d in one_by_one.values()}) > 3  # the set exercises several rules
    with db.session() as session:  # forget it all, and decide again in batches
        session.execute(delete(Classification))
        session.execute(delete(ContentFingerprintBand))
        session.execute(delete(ContentFingerprint))
        audited = len(session.scalars(select(AuditEvent.id)).all())
    with db.session() as session:
        summary = reclassify.reclassify_all(
            session, config=cfg, actor=ACTOR, batch_size=7, on_label_changed=[]
        )
    assert _decisions(db) == one_by_one
    assert summary.versions == summary.rewritten == len(one_by_one)
    with db.session() as session:
        events = session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()[audited:]
        decided = [e for e in events if e.action == "classification.decided"]
        assert [int(e.object_id) for e in decided] == sorted(one_by_one)
        rows = {r.id: r for r in session.scalars(select(Classification))}
        for event in decided:
            row = rows[event.details["classification_id"]]
            assert row.version_id == int(event.object_id)
            assert event.details["label"] == row.label
        assert events[-1].action == "classification.reclassified"
        assert verify_chain(session).ok
    # Nothing changed: nothing written, also when every hash and band key is crowded (each
    # lookup then goes to the database, as one version at a time does).
    monkeypatch.setattr(crosspost, "CROWDED", 0)
    with db.session() as session:
        again = reclassify.reclassify_all(session, config=cfg, actor=ACTOR, batch_size=7)
    assert again.rewritten == 0
    assert again.unchanged == len(one_by_one)


def test_record_many_continues_the_chain_as_record_does(db: Database) -> None:
    with db.session() as session:
        first = record_many(
            session,
            actor=ACTOR,
            events=[("test.one", "thing", 1, {"n": 1}), ("test.two", "thing", 2, None)],
        )
        assert record_many(session, actor=ACTOR, events=[]) == []
        second = record_many(session, actor=ACTOR, events=[("test.three", "thing", 3, {})])
        assert first[0] < first[1] < second[0]
        assert verify_chain(session).ok
