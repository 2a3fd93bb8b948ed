"""Many rows into one table in one statement, in the caller's transaction.

On PostgreSQL the rows go as one array per column through `unnest` (one short statement,
whatever the row count: no per-row statements, no statement text growing with the rows for
the driver to parse), and the ids of new rows are drawn from the table's sequence first, in
one query, when the caller needs them. Elsewhere (SQLite) it is SQLAlchemy's executemany
(insertmanyvalues, with RETURNING in parameter order when ids are wanted).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import JSON, Table, insert, text
from sqlalchemy.orm import Session
from sqlalchemy.sql import FromClause

# Rows per statement: bounds the size of one statement's arrays.
_PAGE = 5000


def insert_rows(
    session: Session,
    table: FromClause,
    rows: Sequence[Mapping[str, Any]],
    *,
    return_ids: bool = False,
) -> list[int]:
    """Insert `rows` (dicts with the same keys, column names of `table`) in their order.
    Returns the new rows' ids in the same order when `return_ids`, else []."""
    if not rows:
        return []
    assert isinstance(table, Table), "rows go into a table"
    if session.get_bind().dialect.name != "postgresql":
        if not return_ids:
            session.execute(insert(table), list(rows))
            return []
        id_column = table.c.id
        return list(
            session.scalars(
                insert(table).returning(id_column, sort_by_parameter_order=True), list(rows)
            )
        )
    ids: list[int] = []
    for start in range(0, len(rows), _PAGE):
        page = rows[start : start + _PAGE]
        ids += _insert_postgresql(session, table, page, return_ids=return_ids)
    return ids


def _insert_postgresql(
    session: Session, table: Table, rows: Sequence[Mapping[str, Any]], *, return_ids: bool
) -> list[int]:
    dialect = session.get_bind().dialect
    names = list(rows[0])
    columns: dict[str, list[Any]] = {name: [row[name] for row in rows] for name in names}
    ids: list[int] = []
    if return_ids:
        ids = sorted(
            session.scalars(
                text(
                    "SELECT nextval(pg_get_serial_sequence(:table, 'id')) "
                    "FROM generate_series(1, :n)"
                ),
                {"table": table.name, "n": len(rows)},
            )
        )
        names = ["id", *names]
        columns["id"] = ids
    casts = []
    params: dict[str, Any] = {}
    for i, name in enumerate(names):
        column_type = table.c[name].type
        values = columns[name]
        if isinstance(column_type, JSON):
            values = [None if v is None else json.dumps(v) for v in values]
        else:
            processor = column_type.bind_processor(dialect)
            if processor is not None:
                values = [processor(v) for v in values]
        params[f"c{i}"] = values
        casts.append(f"CAST(:c{i} AS {column_type.compile(dialect=dialect)}[])")
    quoted = ", ".join(dialect.identifier_preparer.quote(name) for name in names)
    session.execute(
        text(
            f"INSERT INTO {dialect.identifier_preparer.format_table(table)} ({quoted}) "
            f"SELECT * FROM unnest({', '.join(casts)})"
        ),
        params,
    )
    return ids
