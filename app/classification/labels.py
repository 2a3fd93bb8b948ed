"""The label of a post: its active officer override when there is one, otherwise the most
retentive current label among its versions (record, then secondary copy, then transitory), as
`app.classification.service` describes. Read here one post at a time; `reclassify` reads many
at once."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from app.classification.models import Classification, ClassificationOverride, Label
from app.posts.models import CapturedVersion

LABEL_RANK = {Label.record: 3, Label.secondary_copy: 2, Label.transitory: 1}


# The lookups every classification makes, built once (their compiled form is cached).
_ACTIVE_OVERRIDE = (
    select(ClassificationOverride)
    .where(
        ClassificationOverride.post_id == bindparam("post_id"),
        ClassificationOverride.revoked_at.is_(None),
    )
    .order_by(ClassificationOverride.id.desc())
    .limit(1)
)
_CURRENT_LABELS = (
    select(Classification.version_id, Classification.label)
    .join(CapturedVersion, CapturedVersion.id == Classification.version_id)
    .where(CapturedVersion.post_id == bindparam("post_id"), Classification.is_current.is_(True))
)


def active_override(session: Session, post_id: int) -> ClassificationOverride | None:
    return session.scalar(_ACTIVE_OVERRIDE, {"post_id": post_id})


def current_labels_by_version(session: Session, post_id: int) -> list[tuple[int, Label]]:
    """(version id, label) of every current classification of the post's versions."""
    return [
        (version_id, Label(value))
        for version_id, value in session.execute(_CURRENT_LABELS, {"post_id": post_id})
    ]


def most_retentive(labels: Iterable[Label]) -> Label | None:
    return max(labels, key=lambda label: LABEL_RANK[label], default=None)


def classified_label(session: Session, post_id: int) -> Label | None:
    """The most retentive current label of the post's versions (`effective_label` without
    the override); None before its first classification."""
    return most_retentive(label for _, label in current_labels_by_version(session, post_id))


def effective_label(session: Session, post_id: int) -> Label | None:
    """The post's label for retention: the active override, else the most retentive current
    label of its versions; None before its first classification."""
    override_ = active_override(session, post_id)
    if override_ is not None:
        return Label(override_.label)
    return classified_label(session, post_id)
