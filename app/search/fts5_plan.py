"""How the SQLite search matches and ranks a few candidate rows (the rows an employee's,
an account's or a platform's filter leaves over some months) in FTS5.

FTS5 answers a rowid constraint in two ways, and which is cheaper depends on the words:

- a probe (`MATCH ? AND rowid IN (...)`, "=M" in the plan): one xFilter per candidate, each
  parsing the expression and looking up and seeking every term anew: some 15-30 us per
  candidate and term, whatever the words;
- a walk (`MATCH ? AND rowid + 0 IN (...)`: `rowid + 0` is no column, so the constraint is
  not offered to FTS5): one xFilter walking every match of the expression in the whole
  table, each checked against the candidate list; its cost grows with how many rows the
  rarest group of words is in (the AND steps through the other doclists from there).

`matching` estimates each group's share from a count over a sample range of rowids (well
under a millisecond) and takes the cheaper. `ranked_page` does the same for bm25: FTS5
computes bm25's whole-table figures (every phrase's full doclist, walked) once per xFilter,
so a probe per match pays them per match while one walk pays them once.

Both ways answer the same rows, and bm25 is the same number either way (the same figures,
the same row); tests/open_records/test_search_plans.py checks every plan gives the same pages.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BindParameter, bindparam, text
from sqlalchemy.orm import Session

# The rowid range counted to estimate a group's share of the table.
SAMPLE_ROWIDS = 10_000
# A walk goes over this many rows of its rarest group in the time one probe of one term
# takes (about 50 ns a row against 15 us a probe, measured at 1,000,000 posts; kept low so
# a walk is chosen only when clearly cheaper). 0: always probe.
WALK_ROWS_PER_PROBE = 150
# Up to this many matches bm25 is computed per match (its whole-table figures once each);
# beyond, in one walk (the figures once, plus the walk).
RANK_PROBES = 2


@dataclass(frozen=True)
class RankedRow:
    version_id: int
    bm25: float


def _ids() -> BindParameter[Any]:
    return bindparam("ids", expanding=True)


def estimated_rows(
    session: Session, groups: Sequence[str], candidates: Sequence[int]
) -> tuple[int, int]:
    """(rows the rarest group is estimated to be in, the highest rowid): each group's count
    over SAMPLE_ROWIDS rowids around the candidates' middle, scaled to the table."""
    middle = sorted(candidates)[len(candidates) // 2]
    low = max(0, middle - SAMPLE_ROWIDS // 2)
    counts = ", ".join(
        f"(SELECT count(*) FROM search_index_fts WHERE search_index_fts MATCH :g{i} "
        "AND rowid >= :low AND rowid < :high)"
        for i in range(len(groups))
    )
    row = session.execute(
        text(f"SELECT (SELECT max(version_id) FROM search_index), {counts}"),
        {"low": low, "high": low + SAMPLE_ROWIDS, **{f"g{i}": g for i, g in enumerate(groups)}},
    ).one()
    highest = int(row[0] or 0)
    rarest = min(int(n) for n in row[1:])
    return rarest * max(1, highest // SAMPLE_ROWIDS), highest


@dataclass(frozen=True)
class Matches:
    """The candidates that match; with their bm25 for the expression matched, when a walk
    found them (its whole-table figures are then computed once, for the matches only)."""

    rows: list[int]
    bm25: dict[int, float] | None = None


def _bm25(weights: Sequence[float]) -> str:
    return f"bm25(search_index_fts, {', '.join(repr(float(w)) for w in weights)})"


def matching(
    session: Session,
    expression: str,
    candidates: Sequence[int],
    *,
    groups: Sequence[str],
    terms: int,
    weights: Sequence[float],
) -> Matches:
    """The candidates that match `expression` (an FTS5 MATCH string; `groups` its AND groups
    alone, `terms` how many terms it has), by probe or by walk, whichever is estimated
    cheaper; a walk gives each match's bm25 (column `weights`) too."""
    if not candidates:
        return Matches([])
    walk = False
    low, high = min(candidates), max(candidates)
    if WALK_ROWS_PER_PROBE > 0:
        rows, highest = estimated_rows(session, groups, candidates)
        # The walk covers only the candidates' rowid range (FTS5 takes it as a constraint).
        share = (high - low + 1) / max(1, highest)
        walk = rows * share <= WALK_ROWS_PER_PROBE * len(candidates) * terms
    parameters = {"match": expression, "ids": list(candidates), "low": low, "high": high}
    if not walk:
        statement = text(
            "SELECT rowid FROM search_index_fts WHERE search_index_fts MATCH :match "
            "AND rowid IN :ids"
        ).bindparams(_ids())
        return Matches(list(session.scalars(statement, parameters)))
    statement = text(
        f"SELECT rowid, {_bm25(weights)} AS bm25 FROM search_index_fts "
        "WHERE search_index_fts MATCH :match AND rowid >= :low AND rowid <= :high "
        "AND rowid + 0 IN :ids"
    ).bindparams(_ids())
    found = {int(r.rowid): float(r.bm25) for r in session.execute(statement, parameters)}
    return Matches(list(found), found)


def any_match(session: Session, expression: str, rows: Sequence[int]) -> bool:
    """Whether any of `rows` matches `expression` (a probe per row, no bm25)."""
    statement = text(
        "SELECT 1 FROM search_index_fts WHERE search_index_fts MATCH :match "
        "AND rowid IN :ids LIMIT 1"
    ).bindparams(_ids())
    return session.execute(statement, {"match": expression, "ids": list(rows)}).first() is not None


def ranked_page(
    session: Session,
    expression: str,
    matched: Sequence[int],
    weights: Sequence[float],
    *,
    limit: int,
    offset: int,
) -> list[RankedRow]:
    """The page of `matched` (rows known to match `expression`) ordered by bm25 (the
    column `weights`), then version id."""
    rowid = "rowid" if len(matched) <= RANK_PROBES else "rowid + 0"
    statement = text(
        f"SELECT rowid, {_bm25(weights)} AS bm25 FROM search_index_fts "
        "WHERE search_index_fts MATCH :match AND rowid >= :low AND rowid <= :high "
        f"AND {rowid} IN :ids ORDER BY bm25, rowid LIMIT :limit OFFSET :offset"
    ).bindparams(_ids())
    parameters = {
        "match": expression,
        "ids": list(matched),
        "low": min(matched),
        "high": max(matched),
        "limit": limit,
        "offset": offset,
    }
    return [RankedRow(int(r.rowid), float(r.bm25)) for r in session.execute(statement, parameters)]


def page_of(bm25: dict[int, float], *, limit: int, offset: int) -> list[RankedRow]:
    """The page of rows already ranked, in ranked_page's order (bm25, then version id)."""
    order = sorted(bm25.items(), key=lambda item: (item[1], item[0]))
    return [RankedRow(v, b) for v, b in order[offset : offset + limit]]


@dataclass(frozen=True)
class Expressions:
    """One query's FTS5 MATCH strings (app/search/query.py fts5_expression)."""

    ranked: str  # with the proximity phrase, if any
    unranked: str  # without it: the same matches
    groups: list[str]  # each AND group alone
    terms: int  # how many terms the query has
    phrase: str | None  # the proximity phrase alone


def search_candidates(
    session: Session,
    expressions: Expressions,
    candidates: Sequence[int],
    weights: Sequence[float],
    *,
    limit: int,
    offset: int,
) -> tuple[list[tuple[int, float]], int]:
    """The ranked page (version id, bm25) of the candidates that match, and how many do."""
    matches = matching(
        session,
        expressions.unranked,
        candidates,
        groups=expressions.groups,
        terms=expressions.terms,
        weights=weights,
    )
    if not matches.rows:
        return [], 0
    # Ranked by the expression without the proximity phrase when no match has the words
    # together: the phrase then adds exactly 0 to each bm25, and FTS5 need not count the
    # phrase's rows over the whole table (a third of bm25's cost).
    phrase = expressions.phrase
    together = phrase is not None and any_match(session, phrase, matches.rows)
    if matches.bm25 is not None and not together:
        rows = page_of(matches.bm25, limit=limit, offset=offset)
    else:
        expression = expressions.ranked if together else expressions.unranked
        rows = ranked_page(session, expression, matches.rows, weights, limit=limit, offset=offset)
    return [(r.version_id, r.bm25) for r in rows], len(matches.rows)
