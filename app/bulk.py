"""Many rows into one table in one statement, in the caller's transaction.

On PostgreSQL the rows go as one JSON parameter through `json_to_recordset` (one short
statement, whatever the row count: no per-row statements, no statement text growing with the
rows for the driver to parse), and the ids of new rows are drawn from the table's sequence
first, in one query, when the caller needs them. Elsewhere (SQLite) it is SQLAlchemy's executemany
(insertmanyvalues: a few multi-row statements), the new ids read after it.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import JSON, ColumnElement, Table, any_, bindparam, cast, func, insert, select, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import QueryableAttribute, Session
from sqlalchemy.sql import FromClause

# Rows per statement: bounds the size of one statement's parameter.
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
        session.execute(insert(table), list(rows))
        if not return_ids:
            return []
        if "id" in rows[0]:
            return [int(row["id"]) for row in rows]
        # SQLite gives a new row the id after the table's largest, and the first INSERT of a
        # transaction takes the database's one write lock until it ends: the rows just
        # written, in their order, are the last `len(rows)` ids. (RETURNING with the
        # parameters' order would insert one row per statement.)
        last = session.scalar(select(func.max(table.c.id)))
        assert last is not None
        return list(range(last - len(rows) + 1, last + 1))
    ids: list[int] = []
    for start in range(0, len(rows), _PAGE):
        page = rows[start : start + _PAGE]
        ids += _insert_postgresql(session, table, page, return_ids=return_ids)
    return ids


def _json_value(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} cannot go into a bulk INSERT")


def _insert_postgresql(
    session: Session, table: Table, rows: Sequence[Mapping[str, Any]], *, return_ids: bool
) -> list[int]:
    dialect = session.get_bind().dialect
    names = list(rows[0])
    processors = {}
    for name in names:
        column_type = table.c[name].type
        if not isinstance(column_type, JSON):
            processor = column_type.bind_processor(dialect)
            if processor is not None:
                processors[name] = processor
    records = [
        {name: processors[name](v) if name in processors else v for name, v in row.items()}
        for row in rows
    ]
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
        for record, new_id in zip(records, ids, strict=True):
            record["id"] = new_id
    quote = dialect.identifier_preparer.quote
    quoted = ", ".join(quote(name) for name in names)
    definition = ", ".join(
        f"{quote(name)} {table.c[name].type.compile(dialect=dialect)}" for name in names
    )
    # One parameter: the rows as a JSON array, made into rows by the server (a JSON null is
    # SQL NULL, strings go through each column type's input function, JSON columns are kept
    # as written). A few times faster than one array per column for the driver to build.
    session.execute(
        text(
            f"INSERT INTO {dialect.identifier_preparer.format_table(table)} ({quoted}) "
            f"SELECT {quoted} FROM json_to_recordset(CAST(:rows AS json)) AS r({definition})"
        ),
        {
            "rows": json.dumps(
                records, default=_json_value, ensure_ascii=False, separators=(",", ":")
            )
        },
    )
    return ids


def in_values(
    session: Session,
    column: ColumnElement[Any] | QueryableAttribute[Any],
    values: Sequence[Any],
) -> ColumnElement[bool]:
    """`column IN (values)`; on PostgreSQL `column = ANY(array)`: one parameter, the same
    statement text whatever the number of values (no long parameter lists for the driver to
    parse and the server to plan)."""
    element = column.__clause_element__() if isinstance(column, QueryableAttribute) else column
    if session.get_bind().dialect.name != "postgresql":
        return element.in_(values)
    array_type = postgresql.ARRAY(element.type)
    return element == any_(cast(bindparam(None, list(values), type_=array_type), array_type))


def in_parameter(
    column: ColumnElement[Any] | QueryableAttribute[Any], name: str, *, postgresql_: bool
) -> ColumnElement[bool]:
    """`in_values` with the values left to a bound parameter called `name`, for a statement
    built once and run with many lists (give the list as that parameter's value)."""
    element = column.__clause_element__() if isinstance(column, QueryableAttribute) else column
    if not postgresql_:
        return element.in_(bindparam(name, expanding=True))
    array_type = postgresql.ARRAY(element.type)
    return element == any_(cast(bindparam(name, type_=array_type), array_type))
