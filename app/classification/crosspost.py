"""The cross-post index in the database: each version's content fingerprint and its bands, so that\na copy of a post made elsewhere can be found; dropped with the version's copies at disposition.\n\nSession-first services: they flush, the caller owns the transaction."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    CursorResult,
    Table,
    bindparam,
    delete,
    func,
    insert,
    select,
    true,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import QueryableAttribute, Session
from sqlalchemy.sql import Executable

from app.bulk import in_parameter, in_values, insert_rows
from app.classification.crosspost_index import Fingerprint, IndexedCapture
from app.classification.models import (
    ContentFingerprint,
    ContentFingerprintBand,
)
from app.classification.rules import FINGERPRINT_ALGORITHM
from app.db import utcnow
from app.posts.models import CapturedVersion, FlaggedPost

_EXISTING_FINGERPRINT = select(ContentFingerprint.id, ContentFingerprint.algorithm).where(
    ContentFingerprint.version_id == bindparam("version_id")
)
_FINGERPRINT_TABLE = ContentFingerprint.__table__
assert isinstance(_FINGERPRINT_TABLE, Table)
_INSERT_FINGERPRINT = insert(_FINGERPRINT_TABLE)


class DbCrossPostIndex:
    """`CrossPostIndex` over content_fingerprints: indexed lookups, never a scan."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def exact_matches(
        self,
        exact_hash: str,
        *,
        exclude_post_id: int | None,
        before_version_id: int | None,
        limit: int,
    ) -> Sequence[IndexedCapture]:
        # Plain columns, no ORM objects: a lookup loads nothing into the session.
        query = _lookup(
            "exact", False, exclude_post_id is not None, before_version_id is not None, limit
        )
        rows = self.session.execute(
            query,
            {"exact_hash": exact_hash, "exclude": exclude_post_id, "before": before_version_id},
        )
        return [_capture(row) for row in rows]

    def near_candidates(
        self,
        keys: Sequence[str],
        *,
        exclude_post_id: int | None,
        before_version_id: int | None,
        limit: int,
    ) -> Sequence[IndexedCapture]:
        if not keys:
            return []
        query = _lookup(
            "near",
            self.session.get_bind().dialect.name == "postgresql",
            exclude_post_id is not None,
            before_version_id is not None,
            limit,
        )
        rows = self.session.execute(
            query, {"keys": list(keys), "exclude": exclude_post_id, "before": before_version_id}
        )
        return [_capture(row[:-1]) for row in rows]


# The lookups above, built once for each shape (every captured version makes both): a
# statement built anew each time costs more to build and to key than to run.
_LOOKUPS: dict[tuple[str, bool, bool, bool, int], Executable] = {}


def _lookup(kind: str, postgres: bool, exclude: bool, before: bool, limit: int) -> Executable:
    shape = (kind, postgres, exclude, before, limit)
    known = _LOOKUPS.get(shape)
    if known is not None:
        return known
    conditions: list[ColumnElement[bool]] = []
    if exclude:
        conditions.append(ContentFingerprint.post_id != bindparam("exclude"))
    if before:
        conditions.append(ContentFingerprint.version_id < bindparam("before"))
    query: Executable
    if kind == "exact":
        query = (
            select(*_CAPTURE_COLUMNS)
            .where(ContentFingerprint.exact_hash == bindparam("exact_hash"), *conditions)
            .order_by(ContentFingerprint.version_id)
            .limit(limit)
        )
    else:
        among = in_parameter(ContentFingerprintBand.band_key, "keys", postgresql_=postgres)
        shared = func.count().label("shared")
        query = (
            select(*_CAPTURE_COLUMNS, shared)
            .join(
                ContentFingerprintBand,
                ContentFingerprintBand.fingerprint_id == ContentFingerprint.id,
            )
            .where(among)
            .group_by(ContentFingerprint.id)
            .where(*conditions)
            .order_by(shared.desc(), ContentFingerprint.version_id)
            .limit(limit)
        )
    _LOOKUPS[shape] = query
    return query


def store_fingerprint(
    session: Session, *, version: CapturedVersion, post: FlaggedPost, print_: Fingerprint
) -> None:
    existing = session.execute(_EXISTING_FINGERPRINT, {"version_id": version.id}).first()
    if existing is not None and existing.algorithm == FINGERPRINT_ALGORITHM:
        return
    if existing is not None:
        stale = session.get(ContentFingerprint, existing.id)
        session.delete(stale)
        session.flush()
    # One INSERT (the capture path stores a fingerprint per version): no ORM object, which
    # nothing reads back, and so no flush of its own.
    inserted = cast(
        CursorResult[Any],
        session.execute(
            _INSERT_FINGERPRINT,
            {
                "version_id": version.id,
                "post_id": post.id,
                "account_id": post.account_id,
                "platform": post.platform,
                "account_handle": post.account.handle,
                "url": post.url,
                "algorithm": FINGERPRINT_ALGORITHM,
                "exact_hash": print_.exact_hash,
                "normalized_text": print_.normalized_text,
                "created_at": utcnow(),
            },
        ),
    )
    new_key = inserted.inserted_primary_key
    assert new_key is not None
    fingerprint_id = int(new_key[0])
    if print_.band_keys:
        session.execute(
            insert(ContentFingerprintBand),
            [
                {"band_key": key, "fingerprint_id": fingerprint_id}
                for key in sorted(set(print_.band_keys))
            ],
        )


def forget_version(session: Session, *, version_id: int) -> None:
    """Remove a version's cross-post index rows: disposition calls this for each destroyed
    version, so no trace of its text stays in the index."""
    ids = select(ContentFingerprint.id).where(ContentFingerprint.version_id == version_id)
    session.execute(
        delete(ContentFingerprintBand).where(ContentFingerprintBand.fingerprint_id.in_(ids))
    )
    session.execute(delete(ContentFingerprint).where(ContentFingerprint.version_id == version_id))
    session.flush()


def store_fingerprints(
    session: Session, prints: Sequence[tuple[CapturedVersion, Fingerprint]]
) -> None:
    """`store_fingerprint` for many versions that have none yet: two INSERTs in all."""
    if not prints:
        return
    now = utcnow()
    ids = insert_rows(
        session,
        ContentFingerprint.__table__,
        [
            {
                "version_id": version.id,
                "post_id": version.post.id,
                "account_id": version.post.account_id,
                "platform": version.post.platform,
                "account_handle": version.post.account.handle,
                "url": version.post.url,
                "algorithm": FINGERPRINT_ALGORITHM,
                "exact_hash": print_.exact_hash,
                "normalized_text": print_.normalized_text,
                "created_at": now,
            }
            for version, print_ in prints
        ],
        return_ids=True,
    )
    bands = [
        {"band_key": key, "fingerprint_id": fp_id}
        for (_version, print_), fp_id in zip(prints, ids, strict=True)
        for key in sorted(set(print_.band_keys))
    ]
    insert_rows(session, ContentFingerprintBand.__table__, bands)


# A hash or band key shared by more archived captures than this is looked up in the database
# for each version that has it (with its limit), instead of all its rows being read at once.
CROWDED = 200
_IN_CHUNK = 900
# IndexedCapture's fields, in order, read as plain columns (no ORM objects for a lookup).
_CAPTURE_COLUMNS = (
    ContentFingerprint.version_id,
    ContentFingerprint.post_id,
    ContentFingerprint.platform,
    ContentFingerprint.account_handle,
    ContentFingerprint.url,
    ContentFingerprint.normalized_text,
)


class PrefetchedCrossPostIndex:
    """`DbCrossPostIndex`'s answers for a batch of versions, read with one query for the exact
    hashes and one for the band keys of the whole batch (plus one for the captures found),
    instead of two queries per version. The batch's own fingerprints must be stored first."""

    def __init__(self, session: Session, prints: Sequence[Fingerprint]) -> None:
        self._db = DbCrossPostIndex(session)
        self._by_hash: dict[str, list[IndexedCapture]] = {}
        self._crowded_hashes: set[str] = set()
        self._by_key: dict[str, list[int]] = {}
        self._crowded_keys: set[str] = set()
        self._captures: dict[int, IndexedCapture] = {}
        hashes = sorted({p.exact_hash for p in prints if p.exact_hash is not None})
        for chunk in _in_chunks(hashes):
            for row in _rows_per_value(
                session, ContentFingerprint.exact_hash, chunk, _CAPTURE_COLUMNS
            ):
                self._by_hash.setdefault(str(row[0]), []).append(_capture(row[1:]))
        for exact_hash, found in self._by_hash.items():
            if len(found) > CROWDED:
                self._crowded_hashes.add(exact_hash)
            found.sort(key=lambda c: c.version_id)
        keys = sorted({k for p in prints for k in p.band_keys})
        for chunk in _in_chunks(keys):
            for key, fingerprint_id in _rows_per_value(
                session,
                ContentFingerprintBand.band_key,
                chunk,
                (ContentFingerprintBand.fingerprint_id,),
            ):
                self._by_key.setdefault(key, []).append(fingerprint_id)
        wanted: set[int] = set()
        for key, ids in self._by_key.items():
            if len(ids) > CROWDED:
                self._crowded_keys.add(key)
            else:
                wanted.update(ids)
        for chunk in _in_chunks(sorted(wanted)):
            for capture_row in session.execute(
                select(ContentFingerprint.id, *_CAPTURE_COLUMNS).where(
                    in_values(session, ContentFingerprint.id, chunk)
                )
            ):
                self._captures[capture_row[0]] = _capture(capture_row[1:])

    def exact_matches(
        self,
        exact_hash: str,
        *,
        exclude_post_id: int | None,
        before_version_id: int | None,
        limit: int,
    ) -> Sequence[IndexedCapture]:
        if exact_hash in self._crowded_hashes:
            return self._db.exact_matches(
                exact_hash,
                exclude_post_id=exclude_post_id,
                before_version_id=before_version_id,
                limit=limit,
            )
        found = [
            c
            for c in self._by_hash.get(exact_hash, ())
            if _eligible(c, exclude_post_id, before_version_id)
        ]
        return found[:limit]

    def near_candidates(
        self,
        keys: Sequence[str],
        *,
        exclude_post_id: int | None,
        before_version_id: int | None,
        limit: int,
    ) -> Sequence[IndexedCapture]:
        wanted = set(keys)
        if wanted & self._crowded_keys:
            return self._db.near_candidates(
                keys,
                exclude_post_id=exclude_post_id,
                before_version_id=before_version_id,
                limit=limit,
            )
        shared: dict[int, int] = {}
        for key in wanted:
            for fingerprint_id in self._by_key.get(key, ()):
                capture = self._captures[fingerprint_id]
                if _eligible(capture, exclude_post_id, before_version_id):
                    shared[fingerprint_id] = shared.get(fingerprint_id, 0) + 1
        ranked = sorted(shared.items(), key=lambda p: (-p[1], self._captures[p[0]].version_id))
        return [self._captures[fingerprint_id] for fingerprint_id, _ in ranked[:limit]]


def _rows_per_value(
    session: Session,
    column: QueryableAttribute[Any],
    values: Sequence[Any],
    columns: Sequence[QueryableAttribute[Any]],
) -> Iterable[Sequence[Any]]:
    """(value, *columns) of the rows whose `column` is one of `values` (distinct), at most
    CROWDED + 1 rows per value: enough to tell a crowded value (looked up per version later)
    from one whose rows are all read. Without the bound every batch would read every row of
    the crowded values (a boilerplate text shared by a tenth of the archive), a read that
    grows with the archive: quadratic over a whole run."""
    if session.get_bind().dialect.name != "postgresql":
        # SQLite has no LATERAL: the rows are numbered per value in the database, and only
        # the first CROWDED + 1 of each come back (the index range is walked in C, not
        # turned into Python rows).
        numbered = (
            select(
                column.label("value"),
                *(c.label(f"c{i}") for i, c in enumerate(columns)),
                func.row_number().over(partition_by=column).label("n"),
            )
            .where(in_values(session, column, values))
            .subquery()
        )
        return session.execute(
            select(numbered.c.value, *(numbered.c[f"c{i}"] for i in range(len(columns)))).where(
                numbered.c.n <= CROWDED + 1
            )
        )
    array_type = postgresql.ARRAY(column.type)
    wanted = (
        func.unnest(sql_cast(bindparam(None, list(values), type_=array_type), array_type))
        .table_valued("value")
        .render_derived()
    )
    # One index probe per value, stopped after CROWDED + 1 rows (a nested loop over the
    # values: no read of a crowded value's whole range).
    found = select(*columns).where(column == wanted.c.value).limit(CROWDED + 1).lateral()
    return session.execute(select(wanted.c.value, *found.c).select_from(wanted).join(found, true()))


def _capture(values: Sequence[Any]) -> IndexedCapture:
    version_id, post_id, platform, account_handle, url, normalized_text = values
    return IndexedCapture(version_id, post_id, platform, account_handle, url, normalized_text)


def _eligible(capture: IndexedCapture, exclude: int | None, before: int | None) -> bool:
    return capture.post_id != exclude and (before is None or capture.version_id < before)


def _in_chunks(values: Sequence[Any]) -> list[Sequence[Any]]:
    return [values[i : i + _IN_CHUNK] for i in range(0, len(values), _IN_CHUNK)]
