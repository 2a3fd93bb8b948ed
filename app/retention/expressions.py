"""Retention expressions: parse `PERM`, `AV`, `CR+7Y`, `YR+2Y`, `FIS+3Y`, `EVT+2Y`, and
comma-separated terms meaning "whichever is later"; compute the due date.

The notation is the one Wisconsin schedules use (DOMAIN.md): CR created or received, YR
December 31 of the year, FIS the end of the fiscal year, EVT an event (e.g. the post's removal),
PERM permanent, AV "until no longer needed" (due only when a records officer says so).
Pure functions, no database.
"""

from __future__ import annotations

import calendar
import datetime as dt
import enum
import re
from dataclasses import dataclass


class ExpressionError(ValueError):
    """The expression does not follow the grammar; the message says which part and why."""


class Anchor(enum.StrEnum):
    CR = "CR"  # created or received
    YR = "YR"  # December 31 of the year created
    FIS = "FIS"  # end of the fiscal year that contains the created date
    EVT = "EVT"  # the series' trigger event


class Unit(enum.StrEnum):
    Y = "Y"
    M = "M"
    W = "W"
    D = "D"


ANCHORS = frozenset(a.value for a in Anchor)
UNITS = frozenset(u.value for u in Unit)

_TERM = re.compile(r"^(?P<anchor>[A-Za-z]+)\s*\+\s*(?P<n>\d+)\s*(?P<unit>[A-Za-z]+)$")
_BARE_ANCHOR = re.compile(r"^[A-Za-z]+$")


@dataclass(frozen=True)
class Term:
    anchor: Anchor
    n: int
    unit: Unit

    def __str__(self) -> str:
        return f"{self.anchor.value}+{self.n}{self.unit.value}"


@dataclass(frozen=True)
class Expression:
    """`kind` is perm, av or terms; `terms` is empty unless kind is terms."""

    kind: str
    terms: tuple[Term, ...] = ()

    @property
    def uses_event(self) -> bool:
        return any(t.anchor is Anchor.EVT for t in self.terms)

    def __str__(self) -> str:
        if self.kind == "perm":
            return "PERM"
        if self.kind == "av":
            return "AV"
        return ", ".join(str(t) for t in self.terms)


def parse(text: str) -> Expression:
    """Parse an expression; raise ExpressionError naming the bad part."""
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError("the retention expression is empty")
    stripped = text.strip()
    if stripped.upper() == "PERM":
        return Expression("perm")
    if stripped.upper() == "AV":
        return Expression("av")
    terms: list[Term] = []
    for raw in stripped.split(","):
        part = raw.strip()
        if not part:
            raise ExpressionError(f"'{text}' has an empty term between commas")
        if part.upper() in ("PERM", "AV"):
            raise ExpressionError(f"'{part}' cannot be combined with other terms in '{text}'")
        match = _TERM.match(part)
        if match is None:
            if _BARE_ANCHOR.match(part) and part.upper() not in ANCHORS:
                raise ExpressionError(
                    f"unknown anchor '{part}' in '{text}' (known: {', '.join(sorted(ANCHORS))})"
                )
            raise ExpressionError(
                f"'{part}' is not a term: write ANCHOR+N UNIT, e.g. CR+7Y "
                f"(anchors {', '.join(sorted(ANCHORS))}; units {', '.join(sorted(UNITS))})"
            )
        anchor, unit = match["anchor"].upper(), match["unit"].upper()
        if anchor not in ANCHORS:
            raise ExpressionError(
                f"unknown anchor '{match['anchor']}' in '{text}' "
                f"(known: {', '.join(sorted(ANCHORS))})"
            )
        if unit not in UNITS:
            raise ExpressionError(
                f"unknown unit '{match['unit']}' in '{text}' (known: Y years, M months, "
                "W weeks, D days)"
            )
        terms.append(Term(Anchor(anchor), int(match["n"]), Unit(unit)))
    return Expression("terms", tuple(terms))


def add_months(day: dt.date, months: int) -> dt.date:
    """Calendar-month arithmetic that clamps to the month's end: Jan 31 + 1M = Feb 28/29."""
    index = day.year * 12 + (day.month - 1) + months
    year, month0 = divmod(index, 12)
    last = calendar.monthrange(year, month0 + 1)[1]
    return dt.date(year, month0 + 1, min(day.day, last))


def add_period(day: dt.date, n: int, unit: Unit) -> dt.date:
    if unit is Unit.Y:
        return add_months(day, 12 * n)  # Feb 29 + 1Y = Feb 28
    if unit is Unit.M:
        return add_months(day, n)
    if unit is Unit.W:
        return day + dt.timedelta(weeks=n)
    return day + dt.timedelta(days=n)


def fiscal_year_end(day: dt.date, month: int, dom: int) -> dt.date:
    """The end of the fiscal year that contains `day` (fiscal years end on month/dom)."""

    def end_in(year: int) -> dt.date:
        return dt.date(year, month, min(dom, calendar.monthrange(year, month)[1]))

    this_year = end_in(day.year)
    return this_year if day <= this_year else end_in(day.year + 1)


@dataclass(frozen=True)
class DueDate:
    """`due_on` None means never due (yet): PERM, AV not released, or an event not happened."""

    due_on: dt.date | None
    reason: str


def compute_due(
    expression: Expression,
    *,
    created: dt.date,
    event: dt.date | None = None,
    event_name: str = "event",
    fiscal_year_end_month: int = 12,
    fiscal_year_end_day: int = 31,
    released_on: dt.date | None = None,
) -> DueDate:
    """The day a record falls due: the latest of its terms, each counted from its anchor."""
    if expression.kind == "perm":
        return DueDate(None, "PERM: kept permanently, never due")
    if expression.kind == "av":
        if released_on is None:
            return DueDate(None, "AV: due only when a records officer releases it")
        return DueDate(released_on, f"AV: released by a records officer on {released_on}")
    if expression.uses_event and event is None:
        return DueDate(None, f"{expression}: {event_name} has not happened, so never due yet")
    candidates: list[tuple[dt.date, str]] = []
    for term in expression.terms:
        if term.anchor is Anchor.CR:
            anchor, what = created, f"created {created}"
        elif term.anchor is Anchor.YR:
            anchor = dt.date(created.year, 12, 31)
            what = f"end of {created.year}"
        elif term.anchor is Anchor.FIS:
            anchor = fiscal_year_end(created, fiscal_year_end_month, fiscal_year_end_day)
            what = f"fiscal year end {anchor}"
        else:
            assert event is not None
            anchor, what = event, f"{event_name} {event}"
        candidates.append((add_period(anchor, term.n, term.unit), f"{term} from {what}"))
    due, why = max(candidates, key=lambda c: c[0])
    if len(candidates) > 1:
        why += " (the later of its terms)"
    return DueDate(due, why)


def shortest_span_end(expression: Expression, start: dt.date) -> dt.date | None:
    """The earliest a record created on `start` could fall due (None: never, i.e. PERM).

    Every anchor can coincide with the created date (a post made on December 31 or on the last
    day of the fiscal year, an event the moment the post is made), and AV may be released at
    once, so the shortest span is the longest term counted from `start`. Used to check a
    series against the 7-year floor of 19.21(4)(b).
    """
    if expression.kind == "perm":
        return None
    if expression.kind == "av":
        return start
    return max(add_period(start, t.n, t.unit) for t in expression.terms)
