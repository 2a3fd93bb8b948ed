"""Classification in the database: decide, store, verify primaries, override, re-run.

Each captured version has its own decision rows (`Classification`); the newest row of a version
is current. The *effective label of a post* is the label of its active officer override when
there is one, otherwise the most retentive current label among its versions (record, then
secondary copy, then transitory): an edit that turned a copy into a record keeps the post a
record. An override is also written as a current `Classification` row (source "override") on
the post's latest version, so the post page shows it; the rules' own decisions under an override
are kept, not current, as history.

Whenever the effective label of a post changes, every callable in `ON_LABEL_CHANGED` is called
with (session, post_id, actor): the retention assignment is recomputed there. Re-running the
rules over the whole archive is `app.classification.reclassify`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal, Protocol, runtime_checkable

from pydantic import ValidationError
from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from app.audit.service import Actor, record
from app.auth.models import User
from app.classification.config import ClassifierConfig
from app.classification.crosspost import DbCrossPostIndex, store_fingerprint
from app.classification.labels import (
    active_override,
    current_labels_by_version,
    effective_label,
    most_retentive,
)
from app.classification.models import (
    Classification,
    ClassificationOverride,
    Label,
)
from app.classification.rules import (
    CLASSIFIER_VERSION,
    Decision,
    PostContext,
    RuleId,
    classify,
    fingerprint,
)
from app.db import utcnow
from app.errors import Conflict, Invalid, NotFound
from app.platforms.collected import CollectedPost
from app.posts.models import CapturedVersion, FlaggedPost, PostStatus
from app.retention.models import refuse_if_held

LabelChangedHook = Callable[[Session, int, Actor], None]


@runtime_checkable
class BatchLabelChangedHook(Protocol):
    """A label-changed hook with a batch form: `many` does for a list of posts, in their
    order, what calling the hook on each of them does (re-classification changes the labels of
    thousands of posts at once)."""

    def __call__(self, session: Session, post_id: int, actor: Actor) -> None: ...

    def many(self, session: Session, post_ids: Sequence[int], actor: Actor) -> None: ...


@runtime_checkable
class KnownLabelHook(Protocol):
    """A label-changed hook with a form that takes the post's new label as the caller has just
    read it in this transaction: `with_label` does what calling the hook does, with
    (`override`, `classified`) in place of what `current_label` would read again (the post's
    active override, else the most retentive current label of its versions)."""

    def __call__(self, session: Session, post_id: int, actor: Actor) -> None: ...

    def with_label(
        self,
        session: Session,
        post_id: int,
        actor: Actor,
        *,
        override: ClassificationOverride | None,
        classified: Label | None,
    ) -> None: ...


def notify_many(
    session: Session,
    post_ids: Sequence[int],
    actor: Actor,
    hooks: Sequence[LabelChangedHook],
) -> None:
    """Call the hooks for posts whose effective label changed: each hook's batch form over
    all of them when every hook has one, else every hook on each post in turn."""
    if not post_ids:
        return
    batched = [hook for hook in hooks if isinstance(hook, BatchLabelChangedHook)]
    if len(batched) == len(hooks):
        for hook in batched:
            hook.many(session, post_ids, actor)
        return
    for post_id in post_ids:
        for each in hooks:
            each(session, post_id, actor)


# Called with (session, post_id, actor) after a post's effective label changed; the lead
# registers the retention assignment here.
# Callers pass their hooks (`on_label_changed=`: the capture context's, the app's); this list
# is only the fallback for callers that pass none (one-shot CLI commands, tests).
ON_LABEL_CHANGED: list[LabelChangedHook] = []

# Returns True when the URL answers (the primary copy is still published).
LinkChecker = Callable[[str], bool]

# The lookups every classification makes, built once (their compiled form is cached).
_LATEST_VERSION = (
    select(CapturedVersion)
    .where(CapturedVersion.post_id == bindparam("post_id"))
    .order_by(CapturedVersion.number.desc())
    .limit(1)
)
_LATEST_RULES_ROW = (
    select(Classification)
    .where(Classification.version_id == bindparam("version_id"), Classification.source == "rules")
    .order_by(Classification.id.desc())
    .limit(1)
)


def _notify(
    session: Session,
    post_id: int,
    actor: Actor,
    before: Label | None,
    hooks: Sequence[LabelChangedHook] | None,
) -> bool:
    return _notify_change(session, post_id, actor, before, effective_label(session, post_id), hooks)


def _notify_change(
    session: Session,
    post_id: int,
    actor: Actor,
    before: Label | None,
    after: Label | None,
    hooks: Sequence[LabelChangedHook] | None,
    *,
    override: ClassificationOverride | None | Literal["unknown"] = "unknown",
) -> bool:
    """Call the hooks when the label changed; with `override` (the post's active override,
    read in this transaction, and `after` then its label) a KnownLabelHook is told the label
    instead of reading it again."""
    if after == before:
        return False
    for hook in ON_LABEL_CHANGED if hooks is None else hooks:
        if not isinstance(override, str) and isinstance(hook, KnownLabelHook):
            hook.with_label(
                session,
                post_id,
                actor,
                override=override,
                classified=None if override is not None else after,
            )
        else:
            hook(session, post_id, actor)
    return True


def _latest_version(session: Session, post_id: int) -> CapturedVersion | None:
    return session.scalar(_LATEST_VERSION, {"post_id": post_id})


def _latest_rules_row(session: Session, version_id: int) -> Classification | None:
    return session.scalar(_LATEST_RULES_ROW, {"version_id": version_id})


def _retire_current(session: Session, version_id: int) -> None:
    session.execute(
        update(Classification)
        .where(Classification.version_id == version_id, Classification.is_current.is_(True))
        .values(is_current=False)
    )


def _override_row(
    session: Session,
    *,
    version: CapturedVersion,
    override_: ClassificationOverride,
    config_hash: str,
) -> Classification:
    officer = session.get(User, override_.officer_id)
    who = f"{officer.name} <{officer.email}>" if officer else f"user {override_.officer_id}"
    row = Classification(
        version_id=version.id,
        label=override_.label,
        rule_id=RuleId.officer_override,
        reasons=[
            f"Records officer {who} set the label to {override_.label} on "
            f"{override_.created_at:%Y-%m-%d %H:%M} UTC: {override_.reason}",
            "An officer's decision outranks the rules until it is revoked; the rules' own "
            "decisions are kept in the history.",
        ],
        primary_ref=None,
        primary_version_id=None,
        confidence=1.0,
        needs_review=False,
        review_details={"override_id": override_.id},
        source="override",
        classifier_version=CLASSIFIER_VERSION,
        config_hash=config_hash,
        is_current=True,
        created_at=utcnow(),
    )
    session.add(row)
    return row


def _decision_of(row: Classification) -> Decision:
    return Decision(
        label=Label(row.label),
        rule_id=row.rule_id,
        reasons=tuple(row.reasons),
        primary_ref=row.primary_ref,
        primary_version_id=row.primary_version_id,
        confidence=row.confidence,
        needs_review=row.needs_review,
        review_details=row.review_details,
    )


def _store(
    session: Session,
    *,
    version: CapturedVersion,
    decision: Decision,
    config_hash: str,
    actor: Actor,
    previous: Classification | None,
    override_: ClassificationOverride | None | Literal["look up"] = "look up",
) -> Classification:
    """Write a rules decision for a version; under an active override the override row stays
    (or becomes) the current one of the post's latest version. `override_` is the post's
    active override when the caller read it already in this transaction."""
    if isinstance(override_, str):  # "look up"
        override_ = active_override(session, version.post_id)
    # Which version is the latest matters only under an override.
    latest = _latest_version(session, version.post_id) if override_ is not None else None
    override_governs = override_ is not None and latest is not None and latest.id == version.id
    if not override_governs:
        _retire_current(session, version.id)
    row = Classification(
        version_id=version.id,
        label=decision.label.value,
        rule_id=decision.rule_id,
        reasons=list(decision.reasons),
        primary_ref=decision.primary_ref,
        primary_version_id=decision.primary_version_id,
        confidence=decision.confidence,
        needs_review=decision.needs_review,
        review_details=decision.review_details,
        source="rules",
        classifier_version=CLASSIFIER_VERSION,
        config_hash=config_hash,
        is_current=not override_governs,
        created_at=utcnow(),
    )
    session.add(row)
    if override_governs and override_ is not None:
        has_override_row = session.scalar(
            select(func.count())
            .select_from(Classification)
            .where(
                Classification.version_id == version.id,
                Classification.is_current.is_(True),
                Classification.source == "override",
            )
        )
        if not has_override_row:
            _retire_current(session, version.id)
            _override_row(session, version=version, override_=override_, config_hash=config_hash)
    session.flush()
    record(
        session,
        actor=actor,
        action="classification.decided",
        object_type="version",
        object_id=version.id,
        details={
            "post_id": version.post_id,
            "version_number": version.number,
            "classification_id": row.id,
            "label": row.label,
            "rule_id": row.rule_id,
            "primary_ref": row.primary_ref,
            "primary_version_id": row.primary_version_id,
            "confidence": row.confidence,
            "needs_review": row.needs_review,
            "classifier_version": CLASSIFIER_VERSION,
            "config_hash": config_hash,
            "previous_label": previous.label if previous else None,
            "previous_rule_id": previous.rule_id if previous else None,
            "override_in_force": override_ is not None,
        },
    )
    return row


# --- deciding -------------------------------------------------------------------------------


class PrimaryLookup:
    """What `_primary_problem` reads of the archive, one query at a time (re-classification
    answers the same from what it read for a whole batch: `reclassify.BatchPrimaries`)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def version_held(self, version_id: int) -> bool:
        """Whether the archive still holds that version's content."""
        primary = self.session.get(CapturedVersion, version_id)
        return not (
            primary is None
            or primary.normalized is None
            or primary.post.status == PostStatus.disposed
        )

    def post_at(self, url: str) -> tuple[int, PostStatus] | None:
        """A flagged post at that address (its id and status), if any."""
        archived = self.session.scalar(select(FlaggedPost).where(FlaggedPost.url == url).limit(1))
        return None if archived is None else (archived.id, PostStatus(archived.status))

    def latest_with_content(self, post_id: int) -> int | None:
        """The id of the post's latest version when that version has content."""
        latest = _latest_version(self.session, post_id)
        return latest.id if latest is not None and latest.normalized is not None else None


def _primary_problem(
    session: Session,
    decision: Decision,
    *,
    link_checker: LinkChecker | None,
    previous: Classification | None,
    lookup: PrimaryLookup | None = None,
) -> tuple[str | None, int | None]:
    """Why the primary copy of a secondary copy cannot be verified (None when it can), and
    the archived version that holds the primary when PostVault has it."""
    lookup = lookup or PrimaryLookup(session)
    if decision.primary_version_id is not None:
        if not lookup.version_held(decision.primary_version_id):
            return (
                f"the primary capture (archived version {decision.primary_version_id}) is no "
                "longer in the archive",
                None,
            )
        return None, decision.primary_version_id
    url = decision.primary_ref
    if not url:
        return "no primary copy was named", None
    archived = lookup.post_at(url)
    if archived is not None and archived[1] != PostStatus.disposed:
        latest_id = lookup.latest_with_content(archived[0])
        if latest_id is not None:
            return None, latest_id
    if link_checker is not None:
        checked_on = f"{utcnow():%Y-%m-%d}"
        try:
            alive = link_checker(url)
        except Exception as exc:  # any failure of the check leaves the primary unverified
            return f"the primary copy at {url} could not be checked on {checked_on} ({exc})", None
        if not alive:
            archived_note = "" if archived is None else " and its archived capture is gone"
            return (
                f"the primary copy at {url} could not be reached on {checked_on} (the link is "
                f"dead){archived_note}, and PostVault has not archived it",
                None,
            )
        return None, None
    if (
        previous is not None
        and previous.rule_id == RuleId.primary_unverified
        and previous.primary_ref == url
        and previous.review_details
        and previous.review_details.get("primary_problem")
    ):
        # A dead link found earlier stands until a new check finds it alive.
        return str(previous.review_details["primary_problem"]) + " (not re-checked since)", None
    return None, None


def _downgrade(decision: Decision, problem: str) -> Decision:
    return Decision(
        label=Label.record,
        rule_id=RuleId.primary_unverified,
        reasons=(
            *decision.reasons,
            f"However, the primary copy cannot be verified: {problem}. A secondary copy is only "
            "a copy while the primary is kept, so this post is kept as a record.",
        ),
        primary_ref=decision.primary_ref,
        primary_version_id=None,
        confidence=0.9,
        needs_review=False,
        review_details={"primary_problem": problem, "was_rule_id": decision.rule_id},
    )


def _verified(
    session: Session,
    decision: Decision,
    *,
    link_checker: LinkChecker | None,
    previous: Classification | None,
    lookup: PrimaryLookup | None = None,
) -> Decision:
    if decision.label is not Label.secondary_copy:
        return decision
    problem, primary_version = _primary_problem(
        session, decision, link_checker=link_checker, previous=previous, lookup=lookup
    )
    if problem is not None:
        return _downgrade(decision, problem)
    if primary_version is not None and decision.primary_version_id is None:
        return Decision(
            decision.label,
            decision.rule_id,
            (
                *decision.reasons,
                f"PostVault holds the primary copy as archived version {primary_version}.",
            ),
            decision.primary_ref,
            primary_version,
            decision.confidence,
            decision.needs_review,
            decision.review_details,
        )
    return decision


def _carried_forward(session: Session, version: CapturedVersion) -> Decision:
    earlier = session.scalar(
        select(Classification)
        .join(CapturedVersion, CapturedVersion.id == Classification.version_id)
        .where(
            CapturedVersion.post_id == version.post_id,
            CapturedVersion.number < version.number,
            Classification.source == "rules",
        )
        .order_by(CapturedVersion.number.desc(), Classification.id.desc())
        .limit(1)
    )
    what = (
        f"Version {version.number} records that the post was removed (it has no content of its own)"
    )
    if earlier is None:
        return Decision(
            Label.record,
            RuleId.carried_forward,
            (f"{what}, and no earlier version was classified: it is kept as a record.",),
            confidence=0.9,
        )
    number = session.scalar(
        select(CapturedVersion.number).where(CapturedVersion.id == earlier.version_id)
    )
    return Decision(
        Label(earlier.label),
        RuleId.carried_forward,
        (f"{what}; the decision for version {number} stands:", *earlier.reasons),
        earlier.primary_ref,
        earlier.primary_version_id,
        earlier.confidence,
        False,
        {"carried_from_classification_id": earlier.id},
    )


def _decide(
    session: Session,
    version: CapturedVersion,
    config: ClassifierConfig,
    *,
    link_checker: LinkChecker | None,
    previous: Classification | None,
) -> Decision:
    post = version.post
    if version.normalized is None:
        if post.status == PostStatus.disposed:
            raise Conflict(f"version {version.id} was disposed; there is nothing to classify")
        return _carried_forward(session, version)
    try:
        content = CollectedPost.model_validate(version.normalized)
    except ValidationError:
        return _carried_forward(session, version)
    print_ = fingerprint(content)
    store_fingerprint(session, version=version, post=post, print_=print_)
    ctx = PostContext(
        platform=post.platform,
        account_handle=post.account.handle,
        post_id=post.id,
        version_id=version.id,
        url=post.url,
    )
    decision = classify(content, ctx, config, DbCrossPostIndex(session), print_)
    return _verified(session, decision, link_checker=link_checker, previous=previous)


def classify_version(
    session: Session,
    *,
    version_id: int,
    config: ClassifierConfig,
    actor: Actor,
    link_checker: LinkChecker | None = None,
    on_label_changed: Sequence[LabelChangedHook] | None = None,
) -> Classification:
    """Classify one captured version (the capture pipeline calls this for every new version)
    and store the decision. An active override stays the post's label."""
    version = session.get(CapturedVersion, version_id)
    if version is None:
        raise NotFound(f"no captured version {version_id}")
    # The override and the current labels are read once: nothing below but `_store` writes
    # classifications, and nothing here writes overrides.
    override_ = active_override(session, version.post_id)
    current = [] if override_ is not None else current_labels_by_version(session, version.post_id)
    before = (
        Label(override_.label)
        if override_ is not None
        else most_retentive(label for _, label in current)
    )
    previous = _latest_rules_row(session, version.id)
    decision = _decide(session, version, config, link_checker=link_checker, previous=previous)
    row = _store(
        session,
        version=version,
        decision=decision,
        config_hash=config.config_hash,
        actor=actor,
        previous=previous,
        override_=override_,
    )
    if override_ is not None:
        after = before  # the override is still in force: it stays the post's label
    else:
        # Without an override `_store` retired every current row of this version and made
        # its new row the current one; the other versions' current rows are as read.
        after = most_retentive(
            [*(label for vid, label in current if vid != version.id), Label(row.label)]
        )
    _notify_change(
        session, version.post_id, actor, before, after, on_label_changed, override=override_
    )
    return row


def verify_primaries(
    session: Session,
    *,
    actor: Actor,
    link_checker: LinkChecker | None = None,
    post_ids: Sequence[int] | None = None,
    on_label_changed: Sequence[LabelChangedHook] | None = None,
) -> list[Classification]:
    """Re-check the primary copy of every current secondary copy; one that cannot be verified
    (its archived primary is gone, or - with a link checker - its link is dead) becomes a
    record that says why. Without a link checker only the archive is consulted."""
    query = select(Classification).where(
        Classification.is_current.is_(True),
        Classification.source == "rules",
        Classification.label == Label.secondary_copy.value,
    )
    if post_ids is not None:
        query = query.join(CapturedVersion, CapturedVersion.id == Classification.version_id).where(
            CapturedVersion.post_id.in_(list(post_ids))
        )
    changed: list[Classification] = []
    for row in list(session.scalars(query.order_by(Classification.id))):
        decision = _decision_of(row)
        problem, _ = _primary_problem(session, decision, link_checker=link_checker, previous=row)
        if problem is None:
            continue
        version = session.get(CapturedVersion, row.version_id)
        assert version is not None  # a classification always has its version (foreign key)
        before = effective_label(session, version.post_id)
        new_row = _store(
            session,
            version=version,
            decision=_downgrade(decision, problem),
            config_hash=row.config_hash,
            actor=actor,
            previous=row,
        )
        _notify(session, version.post_id, actor, before, on_label_changed)
        changed.append(new_row)
    return changed


# --- overrides ------------------------------------------------------------------------------


def override(
    session: Session,
    *,
    post_id: int,
    label: str,
    reason: str,
    officer: User,
    on_label_changed: Sequence[LabelChangedHook] | None = None,
) -> ClassificationOverride:
    """A records officer's label for a post: audited, and kept through every re-classification
    until revoked. A new override replaces the previous one."""
    try:
        wanted = Label(label)
    except ValueError:
        raise Invalid(
            f"unknown label {label!r}: use one of {', '.join(v.value for v in Label)}"
        ) from None
    reason = reason.strip()
    if not reason:
        raise Invalid("a reason is required for an override")
    post = session.get(FlaggedPost, post_id)
    if post is None:
        raise NotFound(f"no post {post_id}")
    if post.status == PostStatus.disposed:
        raise Conflict(f"post {post_id} was disposed; only its stub remains")
    actor = Actor.of(officer)
    # A held post keeps the label it had when the hold was placed (its series follows it).
    refuse_if_held(session, post_ids=[post_id], actor=actor, attempted="classification_override")
    before = effective_label(session, post_id)
    previous = active_override(session, post_id)
    now = utcnow()
    if previous is not None:
        previous.revoked_at = now
    new = ClassificationOverride(
        post_id=post_id, label=wanted.value, reason=reason, officer_id=officer.id, created_at=now
    )
    session.add(new)
    session.flush()
    latest = _latest_version(session, post_id)
    if latest is not None:
        rules_row = _latest_rules_row(session, latest.id)
        _retire_current(session, latest.id)
        _override_row(
            session,
            version=latest,
            override_=new,
            config_hash=rules_row.config_hash if rules_row else "",
        )
        session.flush()
    record(
        session,
        actor=actor,
        action="classification.overridden",
        object_type="post",
        object_id=post_id,
        details={
            "override_id": new.id,
            "label": new.label,
            "reason": reason,
            "previous_label": before.value if before else None,
            "replaces_override_id": previous.id if previous else None,
        },
    )
    _notify(session, post_id, actor, before, on_label_changed)
    return new


def revoke_override(
    session: Session,
    *,
    post_id: int,
    reason: str,
    officer: User,
    on_label_changed: Sequence[LabelChangedHook] | None = None,
) -> ClassificationOverride:
    """End the active override: the rules' latest decision becomes current again."""
    reason = reason.strip()
    if not reason:
        raise Invalid("a reason is required to revoke an override")
    override_ = active_override(session, post_id)
    if override_ is None:
        raise NotFound(f"post {post_id} has no active override")
    actor = Actor.of(officer)
    refuse_if_held(session, post_ids=[post_id], actor=actor, attempted="classification_override")
    before = effective_label(session, post_id)
    override_.revoked_at = utcnow()
    session.flush()
    governed = session.scalars(
        select(Classification.version_id)
        .join(CapturedVersion, CapturedVersion.id == Classification.version_id)
        .where(
            CapturedVersion.post_id == post_id,
            Classification.is_current.is_(True),
            Classification.source == "override",
        )
    ).all()
    for version_id in set(governed):
        _retire_current(session, version_id)
        rules_row = _latest_rules_row(session, version_id)
        if rules_row is not None:
            rules_row.is_current = True
    session.flush()
    record(
        session,
        actor=actor,
        action="classification.override_revoked",
        object_type="post",
        object_id=post_id,
        details={"override_id": override_.id, "label": override_.label, "reason": reason},
    )
    _notify(session, post_id, actor, before, on_label_changed)
    return override_
