"""Full-text search over every archived version, for records officers.

One index row per archived version lives in `search_index` (migration search_0002): the
searchable text (the post's text, its author, the replies and their authors, media
descriptions) plus the columns that never change once a version is captured (owner, account,
platform, posted date, URL, author), denormalised so the common filters need no join. Filters
on state that changes after capture (classification, removal, holds, later edits) are
answered from the live tables at query time, so the index never goes stale.

SQLite: the FTS5 table `search_index_fts` (porter over unicode61 without diacritics) uses
`search_index` as its external content; ranking is bm25 with column weights, snippets come
from FTS5's snippet(). PostgreSQL: a weighted tsvector under a GIN index, ranked with
ts_rank_cd (cover density: close words rank higher) and highlighted with ts_headline.

The user's query is parsed (app/search/query.py) into words, phrases, OR and exclusions, and compiled to each
backend's syntax with every term quoted (FTS5) or passed as a bound parameter through
phraseto_tsquery (PostgreSQL): no user input reaches MATCH or to_tsquery syntax raw.
"""

from __future__ import annotations

import datetime as dt
import functools
import html
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import (
    BindParameter,
    Column,
    ColumnElement,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    delete,
    exists,
    func,
    insert,
    literal_column,
    select,
    union_all,
)
from sqlalchemy import (
    text as sql_text,
)
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.orm import Session
from sqlalchemy.sql import FromClause, Select

from app.accounts.models import SocialAccount
from app.audit.service import record_view
from app.auth.models import User
from app.classification.models import Classification, ClassificationOverride
from app.db import UTCDateTime
from app.errors import Forbidden, Invalid
from app.open_records.schemas import SearchHit, SearchPage, SearchQuery
from app.posts.models import CapturedVersion, FlaggedPost, VersionKind, VersionMedia
from app.retention.models import HeldPost, Hold
from app.search import fts5_plan
from app.search.query import (
    ParsedQuery,
    Term,
    fts5_expression,
    parse_query,
    proximity_phrase,
    without_stop_words,
)

# The index tables are not ORM models: their columns differ per backend and the migration
# owns their DDL. These Core descriptions are only for building queries.
_index_metadata = MetaData()

search_index = Table(
    "search_index",
    _index_metadata,
    Column("version_id", Integer, primary_key=True),
    Column("post_id", Integer, nullable=False),
    Column("version_number", Integer, nullable=False),
    Column("owner_id", Integer, nullable=False),
    Column("account_id", Integer, nullable=False),
    Column("platform", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("captured_at", UTCDateTime, nullable=False),
    Column("url", String(2048), nullable=False),
    Column("author_handle", String(512)),
    Column("author_name", String(512)),
    Column("body", Text, nullable=False),
    Column("author", Text, nullable=False),
    Column("replies", Text, nullable=False),
    Column("media", Text, nullable=False),
    Column("document", TSVECTOR),  # PostgreSQL only
)

search_index_fts = Table(  # SQLite only
    "search_index_fts",
    _index_metadata,
    Column("rowid", Integer),
    Column("body", Text),
    Column("author", Text),
    Column("replies", Text),
    Column("media", Text),
)

PG_CONFIG = "postvault_search"
_PG_CONFIG_SQL: ColumnElement[str] = literal_column(f"'{PG_CONFIG}'")
_FTS_TABLE: ColumnElement[str] = literal_column("search_index_fts")

# Private-use characters mark matches inside snippets, so the snippet can be HTML-escaped
# whole and only then get its <mark> tags; they are stripped from indexed text.
_MARK_START = "\ue000"
_MARK_END = "\ue001"
_ELLIPSIS = "…"

# Column weights: the post's own words count most, replies least.
_BM25_WEIGHTS = (1.0, 0.7, 0.3, 0.6)  # body, author, replies, media
_SNIPPET_TOKENS = 24

# A tsvector holds at most 1 MB; text beyond these lengths (a thread of thousands of
# replies) is not searchable on PostgreSQL, and the cap is applied on SQLite too so both
# backends answer alike.
_FIELD_CAPS = {"body": 100_000, "author": 2_000, "replies": 400_000, "media": 50_000}


def _pg_term(term: Term) -> ColumnElement[Any]:
    return func.phraseto_tsquery(_PG_CONFIG_SQL, " ".join(term.words))


def _pg_tsquery(parsed: ParsedQuery) -> ColumnElement[Any]:
    combined: ColumnElement[Any] | None = None
    for group in parsed.groups:
        alternative = _pg_term(group[0])
        for term in group[1:]:
            alternative = func.tsquery_or(alternative, _pg_term(term))
        combined = alternative if combined is None else func.tsquery_and(combined, alternative)
    assert combined is not None
    for term in parsed.excluded:
        combined = func.tsquery_and(combined, func.tsquery_not(_pg_term(term)))
    return combined


# --- the index ------------------------------------------------------------------------


def _clean(text: str | None) -> str:
    if not text:
        return ""
    return text.replace(_MARK_START, "").replace(_MARK_END, "").replace("\x00", "")


def _joined(parts: Iterable[str | None], cap: int) -> str:
    seen: list[str] = []
    for part in parts:
        cleaned = _clean(part).strip()
        if cleaned and cleaned not in seen:
            seen.append(cleaned)
    return "\n".join(seen)[:cap]


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _alt_texts(media: Any) -> list[str | None]:
    return [_dict(m).get("alt_text") for m in _list(media)]


def _document(version: CapturedVersion, media_alt_texts: Sequence[str | None]) -> dict[str, str]:
    """The searchable text of a version, read tolerantly from its CollectedPost JSON: archived
    JSON from any collector version must index, never fail the capture."""
    data = _dict(version.normalized)
    author = _dict(data.get("author"))
    card = _dict(data.get("link_card"))
    embedded = [_dict(data.get("quote_of")), _dict(data.get("repost_of"))]
    replies = [_dict(r) for r in _list(data.get("replies"))]
    body = _joined(
        [
            data.get("title"),
            version.text if version.text is not None else data.get("text"),
            card.get("title"),
            card.get("description"),
            *[e.get("text") for e in embedded],
        ],
        _FIELD_CAPS["body"],
    )
    author_text = _joined(
        [
            version.author_handle or author.get("handle"),
            version.author_name or author.get("display_name"),
        ],
        _FIELD_CAPS["author"],
    )
    reply_lines = []
    for reply in replies:
        who = _dict(reply.get("author"))
        line = " ".join(
            _clean(p) for p in (who.get("display_name"), who.get("handle"), reply.get("text")) if p
        )
        reply_lines.append(line)
    media = _joined(
        [
            *_alt_texts(data.get("media")),
            *[a for e in embedded for a in _alt_texts(e.get("media"))],
            *[a for r in replies for a in _alt_texts(r.get("media"))],
            *media_alt_texts,
        ],
        _FIELD_CAPS["media"],
    )
    return {
        "body": body,
        "author": author_text,
        "replies": "\n".join(line for line in reply_lines if line)[: _FIELD_CAPS["replies"]],
        "media": media,
    }


def _is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


# Built once (their compiled form is cached): every captured version is indexed.
_DELETE_VERSION = delete(search_index).where(search_index.c.version_id == bindparam("version_id"))
_ALT_TEXTS = (
    select(VersionMedia.alt_text)
    .where(VersionMedia.version_id == bindparam("version_id"))
    .order_by(VersionMedia.position)
)
_INSERT_ROW = insert(search_index)


def index_version(session: Session, version_id: int) -> None:
    """(Re)index one archived version, in the caller's transaction.

    Call it for every new version, after flush, in the capture's transaction. Removal
    versions (nothing to search) and disposed versions (content gone) leave no index row.
    """
    version = session.get(CapturedVersion, version_id)
    if version is None:
        raise ValueError(f"no captured version {version_id}")
    session.execute(_DELETE_VERSION, {"version_id": version_id})
    if version.kind == VersionKind.removal or (version.normalized is None and version.text is None):
        return
    post = session.get(FlaggedPost, version.post_id)
    assert post is not None  # a foreign key
    account = session.get(SocialAccount, post.account_id)
    assert account is not None  # a foreign key
    alt_texts = session.scalars(_ALT_TEXTS, {"version_id": version_id}).all()
    document = _document(version, alt_texts)
    values: dict[str, Any] = {
        "version_id": version.id,
        "post_id": post.id,
        "version_number": version.number,
        "owner_id": account.owner_id,
        "account_id": account.id,
        "platform": post.platform,
        "created_at": version.platform_created_at or version.captured_at,
        "captured_at": version.captured_at,
        "url": post.url,
        "author_handle": version.author_handle,
        "author_name": version.author_name,
        **document,
    }
    if _is_postgres(session):
        session.execute(
            insert(search_index).values(**values).values(document=_pg_document(document))
        )
    else:
        session.execute(_INSERT_ROW, values)


def _pg_document(document: dict[str, str]) -> ColumnElement[Any]:
    def weighted(field: str, weight: str) -> ColumnElement[Any]:
        vector = func.to_tsvector(_PG_CONFIG_SQL, document[field])
        return func.setweight(vector, literal_column(f"'{weight}'"))

    return (
        weighted("body", "A")
        .op("||")(weighted("author", "B"))
        .op("||")(weighted("media", "B"))
        .op("||")(weighted("replies", "C"))
    )


def remove_post_from_index(session: Session, post_id: int) -> int:
    """Drop every index row of a post (disposition destroys the search copy with the rest),
    in the caller's transaction; returns how many versions left the index."""
    result = session.execute(delete(search_index).where(search_index.c.post_id == post_id))
    return int(getattr(result, "rowcount", 0) or 0)


def purge_removed_terms(session: Session) -> None:
    """Make removed rows' terms really go. SQLite's FTS5 only marks a deleted row's terms as
    deleted in its segments (they stay readable in search_index_fts_data until a merge);
    'optimize' merges every segment into one without them. PostgreSQL keeps nothing of a
    deleted row that SQL can read. Disposition calls this once per run, after its deletes."""
    if not _is_postgres(session):
        session.execute(
            sql_text("INSERT INTO search_index_fts(search_index_fts) VALUES('optimize')")
        )


# --- searching ------------------------------------------------------------------------


def _effective_label() -> ColumnElement[Any]:
    """A records officer's active override outranks the rules' current classification."""
    override = (
        select(ClassificationOverride.label)
        .where(
            ClassificationOverride.post_id == search_index.c.post_id,
            ClassificationOverride.revoked_at.is_(None),
        )
        .order_by(ClassificationOverride.created_at.desc(), ClassificationOverride.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    current = (
        select(Classification.label)
        .where(
            Classification.version_id == search_index.c.version_id,
            Classification.is_current.is_(True),
        )
        .order_by(Classification.created_at.desc(), Classification.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    return func.coalesce(override, current)


def _has_live_filters(query: SearchQuery) -> bool:
    """Whether _filters adds filters on live state to the indexed ones."""
    return any(v is not None for v in (query.label, query.edited, query.removed, query.held))


def _filters(query: SearchQuery) -> list[ColumnElement[bool]]:
    """Every filter: the indexed ones first (_indexed_filters), then live state."""
    d = search_index.c
    conditions = _indexed_filters(query)
    if query.label is not None:
        conditions.append(_effective_label() == query.label.value)
    if query.edited is not None:
        versions = (
            select(func.count())
            .select_from(CapturedVersion)
            .where(
                CapturedVersion.post_id == d.post_id,
                CapturedVersion.kind != VersionKind.removal.value,
            )
            .scalar_subquery()
        )
        conditions.append(versions > 1 if query.edited else versions <= 1)
    if query.removed is not None:
        removed = exists().where(FlaggedPost.id == d.post_id, FlaggedPost.removed_at.is_not(None))
        conditions.append(removed if query.removed else ~removed)
    if query.held is not None:
        held = exists().where(
            HeldPost.post_id == d.post_id, HeldPost.hold_id == Hold.id, Hold.released_at.is_(None)
        )
        conditions.append(held if query.held else ~held)
    return conditions


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


# The same escapes as html.escape(quote=True), "&" first.
_HTML_ESCAPES = (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&quot;"), ("'", "&#x27;"))


def _snippet_html(raw: str | None, *, escaped: bool) -> str:
    if not escaped:
        raw = html.escape(raw or "", quote=True)
    return (raw or "").replace(_MARK_START, "<mark>").replace(_MARK_END, "</mark>")


def search(session: Session, *, query: SearchQuery, viewer: User) -> SearchPage:
    """Ranked, paginated full-text search over archived versions, one hit per version."""
    if not viewer.is_officer:
        raise Forbidden("searching the archive needs the records_officer or admin role")
    if query.date_from and query.date_to and query.date_from > query.date_to:
        raise Invalid("date_from is after date_to")
    parsed = parse_query(query.q)
    if _is_postgres(session):
        page = _search_postgres(session, query, parsed)
    else:
        page = _search_sqlite(session, query, parsed)
    # Snippets are the versions' text: each post shown is a view.
    record_view(
        session, viewer=viewer, post_ids=[h.post_id for h in page.hits], what="search snippet"
    )
    return page


_HIT_COLUMNS = (
    search_index.c.version_id,
    search_index.c.post_id,
    search_index.c.version_number,
    search_index.c.platform,
    search_index.c.url,
    search_index.c.author_handle,
    search_index.c.author_name,
    search_index.c.created_at,
    search_index.c.captured_at,
)


def _hit(row: Any, rank: float, snippet: str | None, *, escaped: bool = False) -> SearchHit:
    return SearchHit(
        version_id=row.version_id,
        post_id=row.post_id,
        version=row.version_number,
        platform=row.platform,
        url=row.url,
        author_handle=row.author_handle,
        author_name=row.author_name,
        created_at=row.created_at,
        captured_at=row.captured_at,
        snippet=_snippet_html(snippet, escaped=escaped),
        rank=float(rank),
    )


# At most this many rows passing the B-tree-indexed filters: FTS5 is asked about just those
# rows (app/search/fts5_plan.py), else every match is joined to the filters.
_PROBE_CANDIDATES = 2_000


def _indexed_filters(query: SearchQuery) -> list[ColumnElement[bool]]:
    """The filters the index table's (owner|account|platform, created_at) indexes answer."""
    d = search_index.c
    conditions: list[ColumnElement[bool]] = []
    if query.employee_id is not None:
        conditions.append(d.owner_id == query.employee_id)
    if query.account_id is not None:
        conditions.append(d.account_id == query.account_id)
    if query.platform is not None:
        conditions.append(d.platform == query.platform)
    if query.date_from is not None:
        conditions.append(d.created_at >= _day_start(query.date_from))
    if query.date_to is not None:
        conditions.append(d.created_at < _day_start(query.date_to + dt.timedelta(days=1)))
    return conditions


def _candidates(
    session: Session, query: SearchQuery, filters: list[ColumnElement[bool]]
) -> list[int] | None:
    """The rows passing every filter, when the indexed filters leave at most
    _PROBE_CANDIDATES (read from a covering index, stopping at the limit); else None."""
    indexed = _indexed_filters(query)
    if not indexed:
        return None
    d = search_index.c
    ids = list(session.scalars(select(d.version_id).where(*indexed).limit(_PROBE_CANDIDATES + 1)))
    if len(ids) > _PROBE_CANDIDATES:
        return None
    if ids and len(filters) > len(indexed):  # live-state filters, on those rows only
        ids = list(session.scalars(select(d.version_id).where(d.version_id.in_(ids), *filters)))
    return ids


def _search_sqlite(session: Session, query: SearchQuery, parsed: ParsedQuery) -> SearchPage:
    searched = without_stop_words(parsed)
    expression = fts5_expression(searched)
    match = _FTS_TABLE.op("MATCH")(bindparam("match", expression))
    filters = _filters(query)
    candidates = _candidates(session, query, filters) if filters else None
    ranked: list[tuple[int, float]]
    if candidates is not None:
        # A few hundred rows pass the filters (an employee's or account's posts over some
        # months): FTS5 is asked about just those rows, by probe or by walk, and ranks the
        # matches among them (bm25 only for those).
        ranked, total = fts5_plan.search_candidates(
            session,
            fts5_plan.Expressions(
                ranked=expression,
                unranked=fts5_expression(searched, proximity=False),
                groups=[fts5_expression(ParsedQuery((g,), ())) for g in searched.groups],
                terms=sum(len(g) for g in searched.groups) + len(searched.excluded),
                phrase=proximity_phrase(searched),
            ),
            candidates,
            _BM25_WEIGHTS,
            limit=query.limit,
            offset=query.offset,
        )
    else:
        ranked, total = _ranked_join(session, query, match, filters)
    if not ranked:
        return SearchPage(total=total, limit=query.limit, offset=query.offset, hits=[])

    ids = [version_id for version_id, _bm25 in ranked]
    details = {
        row.version_id: row
        for row in session.execute(select(*_HIT_COLUMNS).where(search_index.c.version_id.in_(ids)))
    }
    # snippet() only for the page, not for every match the ranking looked at.
    snippet = func.snippet(_FTS_TABLE, -1, _MARK_START, _MARK_END, _ELLIPSIS, _SNIPPET_TOKENS)
    rows = session.execute(
        select(search_index_fts.c.rowid, snippet).where(match, search_index_fts.c.rowid.in_(ids))
    )
    snippets: dict[int, str] = dict(rows.all())
    hits = [
        _hit(details[version_id], -bm25, snippets.get(version_id)) for version_id, bm25 in ranked
    ]
    return SearchPage(total=total, limit=query.limit, offset=query.offset, hits=hits)


def _ranked_join(
    session: Session,
    query: SearchQuery,
    match: ColumnElement[bool],
    filters: list[ColumnElement[bool]],
) -> tuple[list[tuple[int, float]], int]:
    """The ranked page and the total from one walk over every match, joined to the filters."""
    source: FromClause = search_index_fts
    conditions: list[ColumnElement[bool]] = [match]
    if filters:
        source = search_index_fts.join(
            search_index, search_index.c.version_id == search_index_fts.c.rowid
        )
        conditions.extend(filters)
    # One pass over the matches gives both the ranked page and the total (a window count;
    # bm25 is computed below it, as FTS5 cannot evaluate it inside a window step).
    matches = (
        select(
            search_index_fts.c.rowid.label("version_id"),
            func.bm25(_FTS_TABLE, *_BM25_WEIGHTS).label("bm25"),
        )
        .select_from(source)
        .where(*conditions)
        .subquery("matches")
    )
    page = session.execute(
        select(matches.c.version_id, matches.c.bm25, func.count().over().label("total"))
        .order_by(matches.c.bm25, matches.c.version_id)
        .limit(query.limit)
        .offset(query.offset)
    ).all()
    if page:
        total = int(page[0].total)
    elif query.offset == 0:
        total = 0
    else:  # a page past the end: count alone
        count = select(func.count()).select_from(source).where(*conditions)
        total = session.execute(count).scalar_one()
    return [(int(row.version_id), float(row.bm25)) for row in page], total


# The indexed filters the cached PostgreSQL statements bind: (query field, parameter name),
# in _indexed_filters' order.
_PG_INDEXED: tuple[tuple[str, str], ...] = (
    ("employee_id", "owner"),
    ("account_id", "account"),
    ("platform", "platform"),
    ("date_from", "created_from"),
    ("date_to", "created_before"),
)


def _pg_indexed_filter(parameter: str) -> ColumnElement[bool]:
    """_indexed_filters' condition for one _PG_INDEXED parameter, its value bound later."""
    d = search_index.c
    value: BindParameter[Any] = bindparam(parameter)
    if parameter == "owner":
        return d.owner_id == value
    if parameter == "account":
        return d.account_id == value
    if parameter == "platform":
        return d.platform == value
    if parameter == "created_from":
        return d.created_at >= value
    assert parameter == "created_before"
    return d.created_at < value


def _pg_indexed_values(query: SearchQuery) -> dict[str, Any]:
    """The bound values of _indexed_filters' conditions, by _PG_INDEXED parameter."""
    values: dict[str, Any] = {}
    if query.employee_id is not None:
        values["owner"] = query.employee_id
    if query.account_id is not None:
        values["account"] = query.account_id
    if query.platform is not None:
        values["platform"] = query.platform
    if query.date_from is not None:
        values["created_from"] = _day_start(query.date_from)
    if query.date_to is not None:
        values["created_before"] = _day_start(query.date_to + dt.timedelta(days=1))
    return values


def _pg_tsquery_shape(parsed: ParsedQuery) -> tuple[tuple[int, ...], int]:
    return tuple(len(g) for g in parsed.groups), len(parsed.excluded)


def _pg_words(parsed: ParsedQuery) -> dict[str, str]:
    """Each term's words, as _pg_shaped_tsquery's parameters (groups in order, then the
    excluded terms)."""
    terms = [t for g in parsed.groups for t in g] + list(parsed.excluded)
    return {f"term{i}": " ".join(t.words) for i, t in enumerate(terms)}


def _pg_shaped_tsquery(shape: tuple[tuple[int, ...], int]) -> ColumnElement[Any]:
    """_pg_tsquery with the terms as named parameters (term0, term1 ...)."""
    groups, excluded = shape
    names = iter(range(sum(groups) + excluded))

    def term() -> ColumnElement[Any]:
        return func.phraseto_tsquery(_PG_CONFIG_SQL, bindparam(f"term{next(names)}", type_=Text))

    combined: ColumnElement[Any] | None = None
    for size in groups:
        alternative = term()
        for _ in range(size - 1):
            alternative = func.tsquery_or(alternative, term())
        combined = alternative if combined is None else func.tsquery_and(combined, alternative)
    assert combined is not None
    for _ in range(excluded):
        combined = func.tsquery_and(combined, func.tsquery_not(term()))
    return combined


@functools.lru_cache(maxsize=256)
def _pg_statements(
    shape: tuple[tuple[int, ...], int], indexed: tuple[str, ...]
) -> tuple[Select[Any], Select[Any]]:
    """The page statement and the count statement of a query of this shape (its terms'
    grouping, which indexed filters it has; no live-state filter), built once: values are
    bound at execution (the terms, the filters, limit and offset)."""
    return _pg_build(
        _pg_shaped_tsquery(shape),
        [_pg_indexed_filter(p) for p in indexed],
        [],
        selective="owner" in indexed or "account" in indexed,
    )


def _pg_build(
    tsquery: ColumnElement[Any],
    indexed: list[ColumnElement[bool]],
    live: list[ColumnElement[bool]],
    *,
    selective: bool,
) -> tuple[Select[Any], Select[Any]]:
    # One statement, one round trip: the tsquery is built inside it from bound parameters
    # (phraseto_tsquery and the tsquery operators are immutable, so the planner folds them
    # to a constant and still weighs the GIN index against the filters' B-tree indexes); a
    # query of only stop words ("the", "of") folds numnode() > 0 to false and scans nothing.
    # The window count gives the total in the same pass as the ranked page, and the outer
    # query adds the hit columns and ts_headline for the page's rows only.
    d = search_index.c
    lexemes = func.numnode(tsquery) > 0
    filters = [*indexed, *live]
    everywhere = select(d.version_id, func.ts_rank_cd(d.document, tsquery, 1).label("rank"))
    matched: FromClause
    if selective and not live:  # an employee or an account filter, no live-state filter
        # An employee's or an account's rows over some months are a few hundred: their
        # documents are matched and ranked from a B-tree read (some 1 ms), whereas the
        # planner, to its cost model, often prefers ANDing the GIN bitmap of the words,
        # which walks a frequent word's whole posting list (5-10 ms at 1,000,000 posts).
        # Past _PROBE_CANDIDATES rows the GIN plan runs instead, in the same statement
        # (each branch is gated by the count, evaluated once).
        # (_PROBE_CANDIDATES is bound at execution, not built into the statement.)
        most = bindparam("most_candidates", type_=Integer)
        candidates = (
            select(d.version_id, d.document)
            .where(*indexed)
            .limit(bindparam("candidates_read", type_=Integer))
            .cte("candidates")
            .prefix_with("MATERIALIZED")
        )
        few = select(func.count()).select_from(candidates).scalar_subquery()
        on_candidates = select(
            candidates.c.version_id,
            func.ts_rank_cd(candidates.c.document, tsquery, 1).label("rank"),
        ).where(few <= most, lexemes, candidates.c.document.op("@@")(tsquery))
        on_index = everywhere.where(few > most, lexemes, d.document.op("@@")(tsquery), *filters)
        matched = union_all(on_candidates, on_index).subquery("matched")
    else:
        matched = everywhere.where(lexemes, d.document.op("@@")(tsquery), *filters).subquery(
            "matched"
        )
    ranked = (
        select(matched.c.version_id, matched.c.rank, func.count().over().label("total"))
        .order_by(matched.c.rank.desc(), matched.c.version_id)
        .limit(bindparam("limit"))
        .offset(bindparam("offset"))
        .subquery("ranked")
    )
    text: ColumnElement[Any] = d.body.op("||")("\n").op("||")(d.author).op("||")("\n")
    text = text.op("||")(d.media).op("||")("\n").op("||")(d.replies)
    # ts_headline drops anything its parser takes for an HTML tag, and archived text must
    # show as it was: escape first (entities pass through the headline unchanged).
    for char, entity in _HTML_ESCAPES:
        text = func.replace(text, char, entity)
    headline = func.ts_headline(
        _PG_CONFIG_SQL,
        text,
        tsquery,
        f"StartSel={_MARK_START}, StopSel={_MARK_END}, MaxWords=30, MinWords=12, "
        f'MaxFragments=2, FragmentDelimiter=" {_ELLIPSIS} "',
    )
    page = (
        select(*_HIT_COLUMNS, ranked.c.rank, ranked.c.total, headline.label("snippet"))
        .select_from(ranked.join(search_index, d.version_id == ranked.c.version_id))
        .order_by(ranked.c.rank.desc(), ranked.c.version_id)
    )
    return page, select(func.count()).select_from(matched)


def _search_postgres(session: Session, query: SearchQuery, parsed: ParsedQuery) -> SearchPage:
    values: dict[str, Any] = {
        "limit": query.limit,
        "offset": query.offset,
        "most_candidates": _PROBE_CANDIDATES,
        "candidates_read": _PROBE_CANDIDATES + 1,
    }
    indexed = _pg_indexed_values(query)
    if not _has_live_filters(query):
        # The usual query (words and indexed filters): a statement built once per shape,
        # as building it costs more client CPU than PostgreSQL takes to run it.
        page_statement, count_statement = _pg_statements(
            _pg_tsquery_shape(parsed), tuple(p for _f, p in _PG_INDEXED if p in indexed)
        )
        values |= _pg_words(parsed) | indexed
    else:
        filters = _filters(query)
        page_statement, count_statement = _pg_build(
            _pg_tsquery(parsed),
            filters[: len(indexed)],
            filters[len(indexed) :],
            selective=query.employee_id is not None or query.account_id is not None,
        )
    page = session.execute(page_statement, values).all()
    if page:
        total = int(page[0].total)
    elif query.offset == 0:
        total = 0
    else:  # a page past the end: count alone
        total = session.execute(count_statement, values).scalar_one()
    hits = [_hit(row, row.rank, row.snippet, escaped=True) for row in page]
    return SearchPage(total=total, limit=query.limit, offset=query.offset, hits=hits)
