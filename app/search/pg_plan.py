"""The PostgreSQL search's choice of plan when the filters leave few rows.

With an employee's or an account's posts over some months (a hundred rows), the planner
still ANDs the GIN bitmap of the words with the B-tree bitmap of the filters: for frequent
words the GIN scan reads tens of thousands of postings (tens of ms at 1,000,000 posts),
where checking the hundred rows' tsvectors takes well under one. Past a bounded count over
the filters' covering index (it stops at CANDIDATES + 1), the rows are fenced in a subquery
(OFFSET 0: the match is not pushed into it, so no GIN scan) and the text matched in them.
Both plans answer the same rows, ranks and order.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

# At most this many rows passing the B-tree-indexed filters: match the text in those rows.
CANDIDATES = 2_000


def few_rows(session: Session, rows: Select[Any]) -> bool:
    """Whether `rows` (a select over indexed filters) has at most CANDIDATES rows."""
    bounded = rows.limit(CANDIDATES + 1).subquery()
    found = session.execute(select(func.count()).select_from(bounded)).scalar_one()
    return int(found) <= CANDIDATES
