"""Re-classification of the whole archive (after a configuration change), in batches.

Each batch of versions is read with a fixed number of queries, however large it is: the
versions with their posts and accounts, their latest rules decisions, the posts' active
overrides, latest versions and current labels, the stored fingerprints, and the cross-post
index rows every version of the batch can match (`PrefetchedCrossPostIndex`). New decision
rows, their audit events and the fingerprints of versions never fingerprinted are written per
batch too. The decisions are the very ones `classify_version` makes one version at a time.
The label-changed hooks are called once for all the posts whose label changed when they have a
batch form (`BatchLabelChangedHook`: the retention hook assigns them in batches), else post
by post.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, joinedload

from app.audit.service import Actor, record, record_many
from app.bulk import in_values, insert_rows
from app.classification.config import ClassifierConfig
from app.classification.crosspost import (
    PrefetchedCrossPostIndex,
    store_fingerprint,
    store_fingerprints,
)
from app.classification.crosspost_index import Fingerprint
from app.classification.labels import LABEL_RANK
from app.classification.models import (
    Classification,
    ClassificationOverride,
    ContentFingerprint,
    Label,
)
from app.classification.rules import (
    CLASSIFIER_VERSION,
    FINGERPRINT_ALGORITHM,
    Decision,
    PostContext,
    classify,
    fingerprint,
)
from app.classification.service import ON_LABEL_CHANGED as ON_LABEL_CHANGED
from app.classification.service import (
    LabelChangedHook,
    LinkChecker,
    PrimaryLookup,
    _carried_forward,
    _store,
    _verified,
    notify_many,
)
from app.db import utcnow
from app.platforms.collected import CollectedPost
from app.posts.models import CapturedVersion, FlaggedPost, PostStatus

# Rows per IN (...) list: well under SQLite's and PostgreSQL's parameter limits.
_CHUNK = 900


def _chunks(values: Iterable[Any], size: int = _CHUNK) -> Iterable[list[Any]]:
    items = list(values)
    for start in range(0, len(items), size):
        yield items[start : start + size]


@dataclass
class ReclassifySummary:
    versions: int = 0
    rewritten: int = 0  # versions given a new decision row
    unchanged: int = 0
    under_override: int = 0  # decided again, but an officer's label stays in force
    skipped: int = 0  # disposed: nothing left to classify
    posts_relabelled: int = 0  # posts whose effective label changed
    label_changes: Counter[str] = field(default_factory=Counter)  # "record -> secondary_copy"
    rule_changes: Counter[str] = field(default_factory=Counter)  # "default_record -> ..."
    by_rule: Counter[str] = field(default_factory=Counter)  # every version's rule after the run

    def as_dict(self) -> dict[str, Any]:
        return {
            "versions": self.versions,
            "rewritten": self.rewritten,
            "unchanged": self.unchanged,
            "under_override": self.under_override,
            "skipped": self.skipped,
            "posts_relabelled": self.posts_relabelled,
            "label_changes": dict(self.label_changes),
            "rule_changes": dict(self.rule_changes),
            "by_rule": dict(self.by_rule),
        }

    def lines(self) -> list[str]:
        out = [
            f"{self.versions} versions classified: {self.rewritten} changed, "
            f"{self.unchanged} unchanged, {self.skipped} skipped (disposed); "
            f"{self.under_override} under an officer's override (kept); "
            f"{self.posts_relabelled} posts changed label"
        ]
        out += [f"  label {k}: {n}" for k, n in sorted(self.label_changes.items())]
        out += [f"  rule {k}: {n}" for k, n in sorted(self.rule_changes.items())]
        out += [f"  now {k}: {n}" for k, n in sorted(self.by_rule.items())]
        return out


def versions_to_classify(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(CapturedVersion)) or 0


def _same(row: Classification | None, decision: Decision) -> bool:
    return (
        row is not None
        and row.label == decision.label.value
        and row.rule_id == decision.rule_id
        and list(row.reasons) == list(decision.reasons)
        and row.primary_ref == decision.primary_ref
        and row.primary_version_id == decision.primary_version_id
        and row.needs_review == decision.needs_review
    )


# --- what a batch reads at once ------------------------------------------------------------


def effective_labels(session: Session, post_ids: Iterable[int]) -> dict[int, Label | None]:
    """`effective_label` of many posts, in two queries per chunk of posts."""
    out: dict[int, Label | None] = {}
    for chunk in _chunks(set(post_ids)):
        overrides = active_overrides(session, chunk)
        current = most_retentive_labels(session, chunk)
        for post_id in chunk:
            override_ = overrides.get(post_id)
            out[post_id] = Label(override_.label) if override_ else current.get(post_id)
    return out


def most_retentive_labels(session: Session, post_ids: Sequence[int]) -> dict[int, Label]:
    """The most retentive current label of each post's versions, for posts that have one
    (`effective_label` without the override), in two queries (at most _CHUNK posts; one
    more per further _CHUNK of their versions)."""
    current: dict[int, Label] = {}
    # The posts' versions first, then their current rows by version id: two index lookups.
    # One join of the two tables lets PostgreSQL's planner choose a hash join over a scan
    # of every classification (the table grows in the run's own transaction, unanalysed),
    # once per batch: quadratic over a run of the whole archive.
    post_of = dict(
        session.execute(
            select(CapturedVersion.id, CapturedVersion.post_id).where(
                in_values(session, CapturedVersion.post_id, post_ids)
            )
        ).all()
    )
    for chunk in _chunks(sorted(post_of)):
        rows = session.execute(
            select(Classification.version_id, Classification.label).where(
                in_values(session, Classification.version_id, chunk),
                Classification.is_current.is_(True),
            )
        )
        for version_id, value in rows:
            post_id = post_of[version_id]
            label = Label(value)
            if post_id not in current or LABEL_RANK[label] > LABEL_RANK[current[post_id]]:
                current[post_id] = label
    return current


def active_overrides(
    session: Session, post_ids: Sequence[int]
) -> dict[int, ClassificationOverride]:
    """`active_override` of many posts, for posts that have one, in one query (at most
    _CHUNK posts)."""
    found: dict[int, ClassificationOverride] = {}
    for row in session.scalars(
        select(ClassificationOverride)
        .where(
            in_values(session, ClassificationOverride.post_id, post_ids),
            ClassificationOverride.revoked_at.is_(None),
        )
        .order_by(ClassificationOverride.id.desc())
    ):
        found.setdefault(row.post_id, row)
    return found


@dataclass
class _Batch:
    versions: list[CapturedVersion]
    previous: dict[int, Classification]  # version id -> its latest rules row
    overridden: set[int]  # posts with an active override
    latest: dict[int, int]  # post id -> id of its latest version


def _read_batch(session: Session, after_id: int, size: int) -> _Batch | None:
    versions = list(
        session.scalars(
            select(CapturedVersion)
            .where(CapturedVersion.id > after_id)
            .order_by(CapturedVersion.id)
            .limit(size)
            .options(
                joinedload(CapturedVersion.post, innerjoin=True).joinedload(
                    FlaggedPost.account, innerjoin=True
                )
            )
        )
    )
    if not versions:
        return None
    ids = [v.id for v in versions]
    post_ids = sorted({v.post_id for v in versions})
    previous: dict[int, Classification] = {}
    for row in session.scalars(
        select(Classification)
        .where(in_values(session, Classification.version_id, ids), Classification.source == "rules")
        .order_by(Classification.id)
    ):
        previous[row.version_id] = row  # the last one wins: the newest
    latest: dict[int, tuple[int, int]] = {}
    for version_id, post_id, number in session.execute(
        select(CapturedVersion.id, CapturedVersion.post_id, CapturedVersion.number).where(
            in_values(session, CapturedVersion.post_id, post_ids)
        )
    ):
        if post_id not in latest or number > latest[post_id][1]:
            latest[post_id] = (version_id, number)
    return _Batch(
        versions=versions,
        previous=previous,
        overridden=set(active_overrides(session, post_ids)),
        latest={post_id: pair[0] for post_id, pair in latest.items()},
    )


def _fingerprints(
    session: Session, versions: Sequence[CapturedVersion]
) -> dict[int, tuple[CollectedPost, Fingerprint] | None]:
    """Each version's content and fingerprint (None when it has no content of its own), the
    fingerprints stored for the versions that have none yet."""
    out: dict[int, tuple[CollectedPost, Fingerprint] | None] = {}
    for version in versions:
        if version.normalized is None or version.post.status == PostStatus.disposed:
            out[version.id] = None
            continue
        try:
            content = CollectedPost.model_validate(version.normalized)
        except ValidationError:
            out[version.id] = None
            continue
        out[version.id] = (content, fingerprint(content))
    stored = dict(
        session.execute(
            select(ContentFingerprint.version_id, ContentFingerprint.algorithm).where(
                in_values(session, ContentFingerprint.version_id, list(out))
            )
        ).all()
    )
    missing = []
    for version in versions:
        found = out[version.id]
        if found is None:
            continue
        if version.id not in stored:
            missing.append((version, found[1]))
        elif stored[version.id] != FINGERPRINT_ALGORITHM:
            # A fingerprint of an older algorithm: replaced one by one (rare, after an upgrade).
            store_fingerprint(session, version=version, post=version.post, print_=found[1])
    store_fingerprints(session, missing)
    return out


def _decide_batch(
    versions: Sequence[CapturedVersion],
    contents: dict[int, tuple[CollectedPost, Fingerprint] | None],
    config: ClassifierConfig,
    index: PrefetchedCrossPostIndex,
) -> dict[int, Decision]:
    """The rules' decisions (not verified yet) of the batch's versions that have content."""
    out: dict[int, Decision] = {}
    for version in versions:
        post = version.post
        found = contents[version.id]
        if post.status == PostStatus.disposed or found is None:
            continue
        content, print_ = found
        ctx = PostContext(
            platform=post.platform,
            account_handle=post.account.handle,
            post_id=post.id,
            version_id=version.id,
            url=post.url,
        )
        out[version.id] = classify(content, ctx, config, index, print_)
    return out


class BatchPrimaries(PrimaryLookup):
    """`PrimaryLookup`'s answers for the primary copies a batch's decisions name, read at once:
    the archived versions named, the flagged posts at the addresses named and their latest
    versions (a few queries per batch instead of two or three per secondary copy)."""

    def __init__(self, session: Session, decisions: Iterable[Decision]) -> None:
        super().__init__(session)
        version_ids: set[int] = set()
        urls: set[str] = set()
        for decision in decisions:
            if decision.label is not Label.secondary_copy:
                continue
            if decision.primary_version_id is not None:
                version_ids.add(decision.primary_version_id)
            elif decision.primary_ref:
                urls.add(decision.primary_ref)
        self._held: dict[int, bool] = dict.fromkeys(version_ids, False)
        for chunk in _chunks(sorted(version_ids)):
            for version_id, normalized, status in session.execute(
                select(CapturedVersion.id, CapturedVersion.normalized, FlaggedPost.status)
                .join(FlaggedPost, FlaggedPost.id == CapturedVersion.post_id)
                .where(in_values(session, CapturedVersion.id, chunk))
            ):
                self._held[version_id] = normalized is not None and status != PostStatus.disposed
        self._posts: dict[str, tuple[int, PostStatus]] = {}
        for chunk in _chunks(sorted(urls)):
            for post_id, url, status in session.execute(
                select(FlaggedPost.id, FlaggedPost.url, FlaggedPost.status)
                .where(in_values(session, FlaggedPost.url, chunk))
                .order_by(FlaggedPost.id)
            ):
                self._posts.setdefault(url, (post_id, PostStatus(status)))
        self._latest: dict[int, tuple[int, int, bool]] = {}  # post -> (number, id, content)
        for chunk in _chunks(sorted({post_id for post_id, _ in self._posts.values()})):
            for post_id, number, version_id, normalized in session.execute(
                select(
                    CapturedVersion.post_id,
                    CapturedVersion.number,
                    CapturedVersion.id,
                    CapturedVersion.normalized,
                ).where(in_values(session, CapturedVersion.post_id, chunk))
            ):
                if post_id not in self._latest or number > self._latest[post_id][0]:
                    self._latest[post_id] = (number, version_id, normalized is not None)

    def version_held(self, version_id: int) -> bool:
        if version_id not in self._held:
            return super().version_held(version_id)
        return self._held[version_id]

    def post_at(self, url: str) -> tuple[int, PostStatus] | None:
        return self._posts.get(url)

    def latest_with_content(self, post_id: int) -> int | None:
        if post_id not in self._latest:
            return super().latest_with_content(post_id)
        _number, version_id, has_content = self._latest[post_id]
        return version_id if has_content else None


# --- the run -------------------------------------------------------------------------------


@dataclass
class _Pending:
    """Decision rows of a batch not written yet, with what their audit events say."""

    # (version, new row's values, the version's previous rules row, whether an override is
    # in force)
    rows: list[tuple[CapturedVersion, dict[str, Any], Classification | None, bool]] = field(
        default_factory=list
    )

    def write(self, session: Session, *, actor: Actor, config_hash: str) -> None:
        if not self.rows:
            return
        retire = [version.id for version, _, _, _ in self.rows]
        for chunk in _chunks(retire):
            session.execute(
                update(Classification)
                .where(
                    in_values(session, Classification.version_id, chunk),
                    Classification.is_current.is_(True),
                )
                .values(is_current=False)
            )
        ids = insert_rows(
            session, Classification.__table__, [row for _, row, _, _ in self.rows], return_ids=True
        )
        record_many(
            session,
            actor=actor,
            events=[
                (
                    "classification.decided",
                    "version",
                    version.id,
                    {
                        "post_id": version.post_id,
                        "version_number": version.number,
                        "classification_id": row_id,
                        "label": row["label"],
                        "rule_id": row["rule_id"],
                        "primary_ref": row["primary_ref"],
                        "primary_version_id": row["primary_version_id"],
                        "confidence": row["confidence"],
                        "needs_review": row["needs_review"],
                        "classifier_version": CLASSIFIER_VERSION,
                        "config_hash": config_hash,
                        "previous_label": previous.label if previous else None,
                        "previous_rule_id": previous.rule_id if previous else None,
                        "override_in_force": overridden,
                    },
                )
                for (version, row, previous, overridden), row_id in zip(self.rows, ids, strict=True)
            ],
        )
        self.rows.clear()


def _rules_row(version: CapturedVersion, decision: Decision, config_hash: str) -> dict[str, Any]:
    """The values of a new current rules row (what `_store` writes when no override governs)."""
    return {
        "version_id": version.id,
        "label": decision.label.value,
        "rule_id": decision.rule_id,
        "reasons": list(decision.reasons),
        "primary_ref": decision.primary_ref,
        "primary_version_id": decision.primary_version_id,
        "confidence": decision.confidence,
        "needs_review": decision.needs_review,
        "review_details": decision.review_details,
        "source": "rules",
        "classifier_version": CLASSIFIER_VERSION,
        "config_hash": config_hash,
        "is_current": True,
        "created_at": utcnow(),
    }


def reclassify_all(
    session: Session,
    *,
    config: ClassifierConfig,
    actor: Actor | None = None,
    progress: Callable[[int], None] | None = None,
    link_checker: LinkChecker | None = None,
    batch_size: int = 500,
    on_label_changed: Sequence[LabelChangedHook] | None = None,
) -> ReclassifySummary:
    """Run the rules again over every version (after a configuration change). A version gets
    a new decision row only when the decision differs; overrides are never undone. Audits
    each new decision and one summary event."""
    actor = actor or Actor.system("classifier")
    summary = ReclassifySummary()
    labels_before: dict[int, Label | None] = {}
    pending = _Pending()
    last_id = 0
    while (batch := _read_batch(session, last_id, batch_size)) is not None:
        last_id = batch.versions[-1].id
        new_posts = {v.post_id for v in batch.versions} - labels_before.keys()
        labels_before.update(effective_labels(session, new_posts))
        contents = _fingerprints(session, batch.versions)
        index = PrefetchedCrossPostIndex(
            session, [found[1] for found in contents.values() if found is not None]
        )
        raw = _decide_batch(batch.versions, contents, config, index)
        primaries = BatchPrimaries(session, raw.values())
        for version in batch.versions:
            summary.versions += 1
            post = version.post
            if post.status == PostStatus.disposed:
                summary.skipped += 1
                if progress:
                    progress(1)
                continue
            previous = batch.previous.get(version.id)
            found = contents[version.id]
            if found is None:
                # It reads the decisions of the post's earlier versions: those of this batch
                # are written first.
                pending.write(session, actor=actor, config_hash=config.config_hash)
                decision = _carried_forward(session, version)
            else:
                decision = _verified(
                    session,
                    raw[version.id],
                    link_checker=link_checker,
                    previous=previous,
                    lookup=primaries,
                )
            summary.by_rule[decision.rule_id] += 1
            overridden = post.id in batch.overridden
            if overridden:
                summary.under_override += 1
            if _same(previous, decision):
                summary.unchanged += 1
            else:
                summary.rewritten += 1
                old_label = previous.label if previous else "none"
                old_rule = previous.rule_id if previous else "none"
                if old_label != decision.label.value:
                    summary.label_changes[f"{old_label} -> {decision.label.value}"] += 1
                if old_rule != decision.rule_id:
                    summary.rule_changes[f"{old_rule} -> {decision.rule_id}"] += 1
                if overridden and batch.latest.get(post.id) == version.id:
                    # The officer's label governs this version: written as the service does.
                    pending.write(session, actor=actor, config_hash=config.config_hash)
                    _store(
                        session,
                        version=version,
                        decision=decision,
                        config_hash=config.config_hash,
                        actor=actor,
                        previous=previous,
                    )
                else:
                    row = _rules_row(version, decision, config.config_hash)
                    pending.rows.append((version, row, previous, overridden))
            if progress:
                progress(1)
        pending.write(session, actor=actor, config_hash=config.config_hash)
        session.flush()
    hooks = ON_LABEL_CHANGED if on_label_changed is None else on_label_changed
    after = effective_labels(session, labels_before)
    relabelled = [post_id for post_id, before in labels_before.items() if after[post_id] != before]
    summary.posts_relabelled = len(relabelled)
    notify_many(session, relabelled, actor, hooks)
    record(
        session,
        actor=actor,
        action="classification.reclassified",
        object_type="classifier",
        object_id=CLASSIFIER_VERSION,
        details={"config_hash": config.config_hash, **summary.as_dict()},
    )
    return summary
