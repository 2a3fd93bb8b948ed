"""Retention expressions: grammar, due dates, and property tests of the date arithmetic."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.retention.expressions import (
    ExpressionError,
    Term,
    Unit,
    add_months,
    add_period,
    compute_due,
    parse,
    shortest_span_end,
)

dates = st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2150, 12, 31))
units = st.sampled_from(list(Unit))
anchors = st.sampled_from(["CR", "YR", "FIS", "EVT"])


def test_parses_the_wisconsin_notation() -> None:
    assert parse("PERM").kind == "perm"
    assert parse("av").kind == "av"
    expr = parse("CR+7Y, EVT + 2Y,YR+30D")
    assert [str(t) for t in expr.terms] == ["CR+7Y", "EVT+2Y", "YR+30D"]
    assert expr.uses_event
    assert str(parse(" FIS+3M ")) == "FIS+3M"


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("", "empty"),
        ("XX+7Y", "unknown anchor 'XX'"),
        ("CR+7Q", "unknown unit 'Q'"),
        ("CR-7Y", "not a term"),
        ("CR+Y", "not a term"),
        ("CR+7Y,", "empty term"),
        ("PERM, CR+7Y", "cannot be combined"),
        ("NEVER", "unknown anchor 'NEVER'"),
    ],
)
def test_rejects_bad_expressions(text: str, needle: str) -> None:
    with pytest.raises(ExpressionError, match=needle):
        parse(text)


def test_month_ends_and_leap_days() -> None:
    assert add_months(dt.date(2025, 1, 31), 1) == dt.date(2025, 2, 28)
    assert add_months(dt.date(2024, 1, 31), 1) == dt.date(2024, 2, 29)
    assert add_months(dt.date(2024, 3, 31), -1) == dt.date(2024, 2, 29)
    assert add_period(dt.date(2024, 2, 29), 1, Unit.Y) == dt.date(2025, 2, 28)
    assert add_period(dt.date(2024, 2, 29), 4, Unit.Y) == dt.date(2028, 2, 29)
    assert add_period(dt.date(2025, 12, 31), 2, Unit.W) == dt.date(2026, 1, 14)


def test_due_dates_by_anchor() -> None:
    created = dt.date(2019, 5, 10)
    assert compute_due(parse("CR+7Y"), created=created).due_on == dt.date(2026, 5, 10)
    assert compute_due(parse("YR+2Y"), created=created).due_on == dt.date(2021, 12, 31)
    fiscal = compute_due(
        parse("FIS+1Y"), created=created, fiscal_year_end_month=6, fiscal_year_end_day=30
    )
    assert fiscal.due_on == dt.date(2020, 6, 30)
    after_june = compute_due(
        parse("FIS+0D"),
        created=dt.date(2019, 7, 1),
        fiscal_year_end_month=6,
        fiscal_year_end_day=30,
    )
    assert after_june.due_on == dt.date(2020, 6, 30)


def test_event_series_is_never_due_before_its_event() -> None:
    expr = parse("CR+2Y, EVT+2Y")
    waiting = compute_due(expr, created=dt.date(2010, 1, 1), event_name="post_removed")
    assert waiting.due_on is None
    assert "post_removed has not happened" in waiting.reason
    removed = compute_due(expr, created=dt.date(2010, 1, 1), event=dt.date(2020, 3, 3))
    assert removed.due_on == dt.date(2022, 3, 3)
    # The later term wins: removed soon after creation, two years after creation counts.
    early = compute_due(expr, created=dt.date(2010, 1, 1), event=dt.date(2010, 2, 1))
    assert early.due_on == dt.date(2012, 2, 1)


def test_perm_and_av() -> None:
    assert compute_due(parse("PERM"), created=dt.date(2000, 1, 1)).due_on is None
    assert compute_due(parse("AV"), created=dt.date(2000, 1, 1)).due_on is None
    released = compute_due(
        parse("AV"), created=dt.date(2000, 1, 1), released_on=dt.date(2001, 1, 2)
    )
    assert released.due_on == dt.date(2001, 1, 2)


def test_shortest_span_counts_every_anchor_from_creation() -> None:
    start = dt.date(2001, 1, 1)
    assert shortest_span_end(parse("PERM"), start) is None
    assert shortest_span_end(parse("AV"), start) == start
    assert shortest_span_end(parse("YR+6Y"), start) == dt.date(2007, 1, 1)
    assert shortest_span_end(parse("CR+2Y, EVT+7Y"), start) == dt.date(2008, 1, 1)


@settings(max_examples=200, deadline=None)
@given(day=dates, n=st.integers(0, 400), unit=units)
def test_due_is_never_before_its_anchor(day: dt.date, n: int, unit: Unit) -> None:
    assert add_period(day, n, unit) >= day


@settings(max_examples=200, deadline=None)
@given(day=dates, n=st.integers(0, 300), unit=units)
def test_due_is_monotonic_in_n(day: dt.date, n: int, unit: Unit) -> None:
    assert add_period(day, n, unit) <= add_period(day, n + 1, unit)


@settings(max_examples=200, deadline=None)
@given(day=dates, months=st.integers(0, 1200))
def test_month_arithmetic_clamps_to_month_end(day: dt.date, months: int) -> None:
    result = add_months(day, months)
    assert (result.year * 12 + result.month) - (day.year * 12 + day.month) == months
    assert result.day == day.day or (result.day < day.day and (result + dt.timedelta(1)).day == 1)


@settings(max_examples=200, deadline=None)
@given(
    created=dates,
    event=dates,
    terms=st.lists(st.tuples(anchors, st.integers(0, 50), units), min_size=1, max_size=4),
)
def test_whichever_is_later_is_the_max_of_its_terms(
    created: dt.date, event: dt.date, terms: list[tuple[str, int, Unit]]
) -> None:
    text = ", ".join(f"{a}+{n}{u.value}" for a, n, u in terms)
    combined = compute_due(parse(text), created=created, event=event).due_on
    singles = [
        compute_due(
            parse(str(Term(parse(f"{a}+{n}{u.value}").terms[0].anchor, n, u))),
            created=created,
            event=event,
        ).due_on
        for a, n, u in terms
    ]
    assert combined is not None
    assert all(s is not None for s in singles)
    assert combined == max(s for s in singles if s is not None)
    # Every term counts from a day no earlier than creation except EVT, which counts from the
    # event; the due date is never before the earliest anchor.
    assert combined >= min(created, event)
