"""Input bounds shared by every domain's schemas and routes, so that bad input is a 422
naming the field, never a database error.

Ids and counts are bounded to the columns' range: PostgreSQL's `integer` (2^31 - 1) is the
smaller of the two databases' (SQLite's is 2^63 - 1). Dates are bounded to years the
business-day calendar can count in. URLs may not hide characters: control characters,
bidi overrides and zero-width characters make a URL read differently from where it goes.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from typing import Annotated

from annotated_types import Ge, Le
from pydantic import AfterValidator

DB_INT_MAX = 2**31 - 1

DbId = Annotated[int, Ge(1), Le(DB_INT_MAX)]
"""A row id: 1 .. 2^31 - 1."""

DbCount = Annotated[int, Ge(0), Le(DB_INT_MAX)]
"""A count or an offset: 0 .. 2^31 - 1."""

EARLIEST_DATE = dt.date(1900, 1, 1)
LATEST_DATE = dt.date(2999, 12, 31)

RecordDate = Annotated[dt.date, Ge(EARLIEST_DATE), Le(LATEST_DATE)]
"""A calendar date a person enters (a request's received date, a notice date)."""

# Bidi embeddings/overrides/isolates and zero-width characters (Unicode category Cf covers
# them with soft hyphens and similar format characters, none of which belong in a URL).
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})


def hidden_character(text: str) -> str | None:
    """The first control, format (bidi, zero-width) or line-separator character, named."""
    for char in text:
        if unicodedata.category(char) in _HIDDEN_CATEGORIES:
            name = unicodedata.name(char, "a control character")
            return f"U+{ord(char):04X} {name}"
    return None


def _visible_url(value: str) -> str:
    found = hidden_character(value)
    if found is not None:
        raise ValueError(
            f"the URL contains an invisible or control character ({found}); "
            "copy the address again from the browser's address bar"
        )
    return value


VisibleUrl = Annotated[str, AfterValidator(_visible_url)]
"""A URL without control, bidi-override or zero-width characters."""


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("text may not contain NUL characters")
    return value


NoNulStr = Annotated[str, AfterValidator(_no_nul)]
