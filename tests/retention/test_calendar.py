"""The holiday calendars (data) and business-day arithmetic for 19.345."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.retention.calendar import (
    CalendarError,
    add_business_days,
    business_days_between,
    load_calendar,
)

D = dt.date


def test_federal_holidays_with_observed_days() -> None:
    federal = load_calendar("us_federal")
    assert federal.is_holiday(D(2026, 11, 26))  # Thanksgiving 2026, fourth Thursday
    assert not federal.is_holiday(D(2026, 11, 19))
    # Juneteenth 2027 is a Saturday: observed Friday the 18th.
    assert federal.is_holiday(D(2027, 6, 18))
    assert not federal.is_business_day(D(2027, 6, 18))
    # Juneteenth 2022 is a Sunday: observed Monday the 20th; none before 2021.
    assert federal.is_holiday(D(2022, 6, 20))
    assert not federal.is_holiday(D(2019, 6, 19))
    # Christmas 2022 on a Sunday: Monday the 26th; 2021 on a Saturday: Friday the 24th.
    assert federal.is_holiday(D(2022, 12, 26))
    assert federal.is_holiday(D(2021, 12, 24))
    # New Year's Day 2022 is a Saturday: observed Friday December 31, 2021.
    assert federal.is_holiday(D(2021, 12, 31))
    assert federal.is_holiday(D(2026, 5, 25))  # Memorial Day, last Monday of May
    assert federal.is_holiday(D(2026, 1, 19))  # third Monday of January
    assert federal.is_holiday(D(2026, 9, 7))  # Labor Day
    assert federal.is_holiday(D(2026, 10, 12))  # Columbus Day
    assert federal.is_holiday(D(2100, 11, 25))  # Thanksgiving 2100
    assert len(federal.holidays_in(2026)) == 11


def test_wisconsin_legal_holidays() -> None:
    wisconsin = load_calendar("wisconsin")
    assert wisconsin.is_holiday(D(2026, 11, 26))
    assert wisconsin.is_holiday(D(2026, 11, 3))  # general election, even years
    assert not wisconsin.is_holiday(D(2027, 11, 2))
    # 995.20 moves only Sunday holidays: Christmas 2022 (Sunday) to Monday, but Christmas
    # 2021 (Saturday) stays on the Saturday.
    assert wisconsin.is_holiday(D(2022, 12, 26))
    assert not wisconsin.is_holiday(D(2021, 12, 24))
    assert wisconsin.is_holiday(D(2021, 12, 25))


def test_business_days_skip_weekends_and_holidays() -> None:
    wisconsin = load_calendar("wisconsin")
    # Wednesday before Thanksgiving 2026: the next business day is Friday.
    assert add_business_days(D(2026, 11, 25), 1, wisconsin) == D(2026, 11, 27)
    # Friday December 24, 2027 + 1: Christmas is Saturday, so Monday the 27th.
    assert add_business_days(D(2027, 12, 24), 1, wisconsin) == D(2027, 12, 27)
    # December 2026: Christmas Friday the 25th, New Year Friday January 1.
    assert add_business_days(D(2026, 12, 23), 3, wisconsin) == D(2026, 12, 29)
    assert business_days_between(D(2026, 12, 23), D(2026, 12, 29), wisconsin) == 3
    assert business_days_between(D(2026, 12, 29), D(2026, 12, 23), wisconsin) == -3
    assert add_business_days(D(2026, 12, 23), 0, wisconsin) == D(2026, 12, 23)
    assert add_business_days(D(2026, 12, 28), -1, wisconsin) == D(2026, 12, 24)
    # 60 business days after a denial on Monday March 2, 2026 (21 in March, 22 in April,
    # 16 in May before Memorial Day on the 25th, then the 26th).
    assert add_business_days(D(2026, 3, 2), 60, wisconsin) == D(2026, 5, 26)


@settings(max_examples=100, deadline=None)
@given(start=st.dates(min_value=D(2000, 1, 1), max_value=D(2099, 6, 1)), n=st.integers(0, 120))
def test_add_and_count_agree(start: dt.date, n: int) -> None:
    calendar = load_calendar("wisconsin+us_federal")
    end = add_business_days(start, n, calendar)
    assert business_days_between(start, end, calendar) == n
    assert n == 0 or calendar.is_business_day(end)


def test_bad_calendar_files_name_file_and_field(tmp_path: Path) -> None:
    def write(body: str) -> None:
        (tmp_path / "city.yaml").write_text(body, encoding="utf-8")

    with pytest.raises(CalendarError, match="no holiday calendar 'nope'"):
        load_calendar("nope", tmp_path)
    write("kind: holiday_calendar\nid: city\nholidays:\n  - name: X\n    date: '02-30'\n")
    with pytest.raises(CalendarError, match=r"city.yaml: holiday 'X'.date"):
        load_calendar("city", tmp_path)
    write(
        "kind: holiday_calendar\nid: city\nholidays:\n"
        "  - name: Y\n    month: 5\n    weekday: funday\n    nth: 1\n"
    )
    with pytest.raises(CalendarError, match=r"holiday 'Y'.weekday"):
        load_calendar("city", tmp_path)
    write("kind: holiday_calendar\nid: town\nholidays: []\n")
    with pytest.raises(CalendarError, match=r"city.yaml.id"):
        load_calendar("city", tmp_path)
