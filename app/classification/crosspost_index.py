"""The cross-post index as the rules see it: a capture's fingerprint, the lookups the rules make\n(exact hash, LSH band keys), and the index in dictionaries for the pure tests and the\nbenchmark's baseline (`app.classification.crosspost` has the one over the database). Pure."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

# Bump when a rule, a reason's meaning or the fingerprint algorithm changes: stored decisions
# name the version that made them.


@dataclass(frozen=True)
class Fingerprint:
    normalized_text: str
    exact_hash: str | None  # None for empty text
    band_keys: tuple[str, ...]
    shingles: frozenset[int] = field(repr=False)


@dataclass(frozen=True)
class IndexedCapture:
    """An archived capture as the cross-post index knows it."""

    version_id: int
    post_id: int
    platform: str
    account_handle: str
    url: str
    normalized_text: str


class CrossPostIndex(Protocol):
    """Lookups by exact hash and by LSH band; both return captures archived before
    `before_version_id` (all when None) of posts other than `exclude_post_id`, oldest first."""

    def exact_matches(
        self,
        exact_hash: str,
        *,
        exclude_post_id: int | None,
        before_version_id: int | None,
        limit: int,
    ) -> Sequence[IndexedCapture]: ...

    def near_candidates(
        self,
        keys: Sequence[str],
        *,
        exclude_post_id: int | None,
        before_version_id: int | None,
        limit: int,
    ) -> Sequence[IndexedCapture]: ...


class InMemoryCrossPostIndex:
    """The same index in dictionaries: for the pure tests and the benchmark's baseline."""

    def __init__(self) -> None:
        self._by_hash: dict[str, list[IndexedCapture]] = defaultdict(list)
        self._by_band: dict[str, list[IndexedCapture]] = defaultdict(list)

    def add(self, capture: IndexedCapture, print_: Fingerprint) -> None:
        if print_.exact_hash is not None:
            self._by_hash[print_.exact_hash].append(capture)
        for key in print_.band_keys:
            self._by_band[key].append(capture)

    @staticmethod
    def _eligible(c: IndexedCapture, exclude: int | None, before: int | None) -> bool:
        return c.post_id != exclude and (before is None or c.version_id < before)

    def exact_matches(
        self,
        exact_hash: str,
        *,
        exclude_post_id: int | None,
        before_version_id: int | None,
        limit: int,
    ) -> Sequence[IndexedCapture]:
        found = [
            c
            for c in self._by_hash.get(exact_hash, ())
            if self._eligible(c, exclude_post_id, before_version_id)
        ]
        return sorted(found, key=lambda c: c.version_id)[:limit]

    def near_candidates(
        self,
        keys: Sequence[str],
        *,
        exclude_post_id: int | None,
        before_version_id: int | None,
        limit: int,
    ) -> Sequence[IndexedCapture]:
        shared: Counter[IndexedCapture] = Counter()
        for key in keys:
            for c in self._by_band.get(key, ()):
                if self._eligible(c, exclude_post_id, before_version_id):
                    shared[c] += 1
        ranked = sorted(shared.items(), key=lambda item: (-item[1], item[0].version_id))
        return [c for c, _n in ranked[:limit]]
