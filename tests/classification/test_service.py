"""Classification in the database: the labelled set through the indexed cross-post lookups,
overrides, label-change hooks, primary verification against a real loopback server."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.models import AuditEvent
from app.audit.service import Actor
from app.classification import crosspost, labels, reclassify, service
from app.classification.models import (
    Classification,
    ClassificationOverride,
    ContentFingerprint,
    ContentFingerprintBand,
    Label,
)
from app.classification.service import LinkChecker
from app.db import Database
from app.platforms.collected import CollectedPost
from app.posts.models import CapturedVersion, FlaggedPost, PostStatus
from app.retention.assignment import _label_and_source, current_label
from tests.classification.labelled import archive, cases, config
from tests.conftest import MakePerson
from tests.factories import add_capture

ACTOR = Actor.system("tests")


def test_labelled_set_through_the_database_index(db: Database, make_person: MakePerson) -> None:
    owner = make_person().user
    cfg = config()
    with db.session() as session:
        flagged_by_case_post_id: dict[int, FlaggedPost] = {}
        for item in archive():
            version = add_capture(
                session,
                owner=owner,
                post=item.post,
                external_id=f"archive-{item.spec['version_id']}",
            )
            flagged_by_case_post_id[item.spec["post_id"]] = version.post
            service.classify_version(session, version_id=version.id, config=cfg, actor=ACTOR)
        for n, case in enumerate(cases()):
            existing = flagged_by_case_post_id.get(case.spec.get("post_id", -1))
            version = add_capture(
                session,
                owner=owner,
                post=case.post,
                handle=case.context.account_handle,
                external_id=f"case-{n}",
                flagged=existing,
            )
            row = service.classify_version(session, version_id=version.id, config=cfg, actor=ACTOR)
            assert (row.label, row.rule_id) == (case.expect["label"], case.expect["rule"]), (
                case.id,
                row.reasons,
            )
            assert row.needs_review is bool(case.expect.get("review", False)), case.id
            assert row.config_hash == cfg.config_hash
            assert row.is_current
            # Each case is judged against the archive alone, as in the pure test.
            crosspost.forget_version(session, version_id=version.id)
            if "primary_version_id" in case.expect:
                primary = session.get(CapturedVersion, row.primary_version_id)
                assert primary is not None
                assert primary.post.external_id == f"archive-{case.expect['primary_version_id']}"
        decided = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "classification.decided")
        ).all()
        assert len(decided) == len(archive()) + len(cases())


def _post_with(
    session: Session, owner_id: int, text: str, *, platform: str = "mastodon"
) -> CapturedVersion:
    from app.auth.models import User
    from app.platforms.collected import Author

    owner = session.get(User, owner_id)
    assert owner is not None
    n = session.query(FlaggedPost).count()
    post = CollectedPost(
        platform=platform,
        post_id=f"p{n}",
        url=f"https://mastodon.example/@emp/{n}",
        author=Author(handle=f"emp{n}@mastodon.example"),
        text=text,
        links=[u for u in text.split() if u.startswith("http")],
    )
    return add_capture(session, owner=owner, post=post)


def test_override_outranks_rules_and_survives_reclassification(
    db: Database, make_person: MakePerson
) -> None:
    owner = make_person().user
    officer = make_person("records_officer").user
    calls: list[int] = []

    def hook(_session: Session, post_id: int, _actor: Actor) -> None:
        calls.append(post_id)

    service.ON_LABEL_CHANGED.append(hook)
    try:
        with db.session() as session:
            version = _post_with(session, owner.id, "Agenda: https://city.example/agenda")
            post_id = version.post_id
            row = service.classify_version(
                session, version_id=version.id, config=config(), actor=ACTOR
            )
            assert row.label == "secondary_copy"
            assert calls == [post_id]  # None -> secondary_copy
            service.override(
                session,
                post_id=post_id,
                label="record",
                reason="Agenda item 4 was discussed",
                officer=officer,
            )
            assert labels.effective_label(session, post_id) == "record"
            assert calls == [post_id, post_id]
            summary = reclassify.reclassify_all(session, config=config(), actor=ACTOR)
            assert summary.under_override == 1
            assert labels.effective_label(session, post_id) == "record"
            current = session.scalars(
                select(Classification).where(
                    Classification.version_id == version.id, Classification.is_current.is_(True)
                )
            ).all()
            assert [(c.source, c.label) for c in current] == [("override", "record")]
            # A new version under the override: the rules decide, the override stays the label.
            v2 = add_capture(session, owner=owner, post=_content(version), flagged=version.post)
            service.classify_version(session, version_id=v2.id, config=config(), actor=ACTOR)
            assert labels.effective_label(session, post_id) == "record"
            assert calls == [post_id, post_id]
            service.revoke_override(
                session, post_id=post_id, reason="entered in error", officer=officer
            )
            assert labels.effective_label(session, post_id) == "secondary_copy"
            assert calls == [post_id, post_id, post_id]
    finally:
        service.ON_LABEL_CHANGED.remove(hook)


def _content(version: CapturedVersion) -> CollectedPost:
    return CollectedPost.model_validate(version.normalized)


def test_override_rejects_bad_input(db: Database, make_person: MakePerson) -> None:
    from app.errors import Invalid, NotFound

    owner = make_person().user
    officer = make_person("records_officer").user
    with db.session() as session:
        version = _post_with(session, owner.id, "hello")
        with pytest.raises(Invalid, match="reason is required"):
            service.override(
                session, post_id=version.post_id, label="record", reason="  ", officer=officer
            )
        with pytest.raises(Invalid, match="unknown label"):
            service.override(
                session, post_id=version.post_id, label="keep", reason="x", officer=officer
            )
        with pytest.raises(NotFound):
            service.override(session, post_id=999_999, label="record", reason="x", officer=officer)
        with pytest.raises(NotFound, match="no active override"):
            service.revoke_override(session, post_id=version.post_id, reason="x", officer=officer)


def test_dead_publication_link_makes_a_record(
    db: Database, make_person: MakePerson, city_site: LinkChecker
) -> None:
    owner = make_person().user
    with db.session() as session:
        live = _post_with(session, owner.id, "Agenda: https://city.example/live/agenda")
        dead = _post_with(session, owner.id, "Budget: https://city.example/budget-2019")
        for v in (live, dead):
            service.classify_version(session, version_id=v.id, config=config(), actor=ACTOR)
        changed = service.verify_primaries(session, actor=ACTOR, link_checker=city_site)
        assert [c.version_id for c in changed] == [dead.id]
        assert changed[0].label == "record"
        assert changed[0].rule_id == "primary_unverified"
        assert "https://city.example/budget-2019" in changed[0].reasons[-1]
        assert "dead" in changed[0].reasons[-1]
        assert labels.effective_label(session, live.post_id) == "secondary_copy"
        # Re-running the rules without a checker keeps the finding; with one, it is re-checked.
        reclassify.reclassify_all(session, config=config(), actor=ACTOR)
        assert labels.effective_label(session, dead.post_id) == "record"
        row = service.classify_version(
            session, version_id=dead.id, config=config(), actor=ACTOR, link_checker=city_site
        )
        assert row.rule_id == "primary_unverified"


def test_disposed_cross_post_primary_makes_a_record(db: Database, make_person: MakePerson) -> None:
    owner = make_person().user
    text = "Leaf collection starts Monday in every district north of the river, bags by 7am."
    with db.session() as session:
        first = _post_with(session, owner.id, text)
        copy = _post_with(session, owner.id, text.upper() + " #leaves")
        for v in (first, copy):
            service.classify_version(session, version_id=v.id, config=config(), actor=ACTOR)
        assert labels.effective_label(session, copy.post_id) == "secondary_copy"
        assert service.verify_primaries(session, actor=ACTOR) == []
        # Disposition destroys the primary: the copy is no longer a copy of anything kept.
        first.post.status = PostStatus.disposed
        first.normalized = None
        crosspost.forget_version(session, version_id=first.id)
        assert (
            session.scalar(
                select(ContentFingerprint).where(ContentFingerprint.version_id == first.id)
            )
            is None
        )
        assert session.scalars(select(ContentFingerprintBand)).all()  # the copy's bands remain
        changed = service.verify_primaries(session, actor=ACTOR)
        assert len(changed) == 1
        assert f"archived version {first.id}" in changed[0].reasons[-1]
        assert labels.effective_label(session, copy.post_id) == "record"


def test_reclassify_reports_changes_after_a_configuration_change(
    db: Database, make_person: MakePerson
) -> None:
    from app.classification.config import parse_classifier_config

    owner = make_person().user
    before = parse_classifier_config({"publication_domains": ["other.example"]}, source="t")
    after = parse_classifier_config({"publication_domains": ["city.example"]}, source="t")
    with db.session() as session:
        v = _post_with(session, owner.id, "Agenda: https://city.example/agenda")
        _post_with(session, owner.id, "My own words about the park.")
        first = reclassify.reclassify_all(session, config=before, actor=ACTOR)
        assert first.versions == 2
        assert first.rewritten == 2
        again = reclassify.reclassify_all(session, config=before, actor=ACTOR)
        assert again.unchanged == 2
        assert again.rewritten == 0
        changed = reclassify.reclassify_all(session, config=after, actor=ACTOR)
        assert changed.rewritten == 1
        assert changed.label_changes == {"record -> secondary_copy": 1}
        assert changed.rule_changes == {"default_record -> link_only_to_publication": 1}
        assert changed.posts_relabelled == 1
        assert labels.effective_label(session, v.post_id) == "secondary_copy"
        assert any("1 changed" in line for line in changed.lines())


class _LabelTold:
    """A KnownLabelHook that checks the label it is told against what the retention
    assignment would read at that moment."""

    def __init__(self) -> None:
        self.told: list[tuple[int, tuple[str, str]]] = []

    def __call__(self, session: Session, post_id: int, actor: Actor) -> None:
        raise AssertionError("classify_version tells a KnownLabelHook the label")

    def with_label(
        self,
        session: Session,
        post_id: int,
        actor: Actor,
        *,
        override: ClassificationOverride | None,
        classified: Label | None,
    ) -> None:
        told = _label_and_source(override, classified)
        assert told == current_label(session, post_id)
        self.told.append((post_id, told))


def test_classify_version_tells_the_label_the_database_holds(
    db: Database, make_person: MakePerson
) -> None:
    """The label classify_version derives from what it read (the other versions' current rows
    plus its own new one) is the label read back after it wrote: for a new post, for later
    versions that raise or keep the label, and for a version classified again."""
    owner = make_person().user
    hook = _LabelTold()
    assert isinstance(hook, service.KnownLabelHook)
    with db.session() as session:
        first = _post_with(session, owner.id, "Agenda: https://city.example/agenda")
        post = first.post
        texts = [
            "Road closed today.",
            "Agenda: https://city.example/agenda",
            "Road closure on Main St this weekend, crews start at 6am.",
        ]
        versions = [first] + [
            add_capture(
                session,
                owner=owner,
                post=_content(first).model_copy(
                    update={"text": t, "links": [w for w in t.split() if w.startswith("http")]}
                ),
                flagged=post,
            )
            for t in texts
        ]
        for version in [*versions, versions[0], versions[1]]:
            before = labels.effective_label(session, post.id)
            row = service.classify_version(
                session,
                version_id=version.id,
                config=config(),
                actor=ACTOR,
                on_label_changed=[hook],
            )
            assert row.is_current
            after = labels.effective_label(session, post.id)
            if after != before:
                assert hook.told[-1] == (post.id, current_label(session, post.id))
        # Versions 2 and 4 (the records) now say what version 1 says: classified again, the
        # post is a record until the last of them is a secondary copy too.
        for version in (versions[1], versions[3]):
            version.normalized = first.normalized
            session.flush()
            service.classify_version(
                session,
                version_id=version.id,
                config=config(),
                actor=ACTOR,
                on_label_changed=[hook],
            )
        assert [told[0] for _, told in hook.told] == ["secondary_copy", "record", "secondary_copy"]
