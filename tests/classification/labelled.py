"""The labelled set (tests/fixtures/classification/labelled.yaml), loaded for the tests."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import yaml

from app.classification.config import ClassifierConfig, parse_classifier_config
from app.classification.crosspost_index import IndexedCapture, InMemoryCrossPostIndex
from app.classification.rules import PostContext, fingerprint
from app.platforms.collected import CollectedPost
from tests.classification.shapes import FIXTURES, build


@dataclass(frozen=True)
class Case:
    id: str
    spec: dict[str, Any]
    post: CollectedPost
    context: PostContext
    expect: dict[str, Any]


@dataclass(frozen=True)
class ArchivedCapture:
    spec: dict[str, Any]
    post: CollectedPost
    capture: IndexedCapture


@lru_cache(maxsize=1)
def _raw() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((FIXTURES / "labelled.yaml").read_text(encoding="utf-8"))
    return data


def config() -> ClassifierConfig:
    return parse_classifier_config(_raw()["config"], source="labelled.yaml")


def archive() -> list[ArchivedCapture]:
    out = []
    for spec in _raw()["archive"]:
        post = build(spec)
        out.append(
            ArchivedCapture(
                spec,
                post,
                IndexedCapture(
                    version_id=spec["version_id"],
                    post_id=spec["post_id"],
                    platform=spec["platform"],
                    account_handle=post.author.handle,
                    url=post.url,
                    normalized_text=fingerprint(post).normalized_text,
                ),
            )
        )
    return out


def archive_index() -> InMemoryCrossPostIndex:
    index = InMemoryCrossPostIndex()
    for item in archive():
        index.add(item.capture, fingerprint(item.post))
    return index


def cases() -> list[Case]:
    out = []
    for n, spec in enumerate(_raw()["cases"]):
        post = build(spec)
        context = PostContext(
            platform=spec["platform"],
            account_handle=spec.get("account") or post.author.handle,
            post_id=spec.get("post_id", 1000 + n),
            url=post.url,
        )
        out.append(Case(spec["id"], spec, post, context, spec["expect"]))
    return out
