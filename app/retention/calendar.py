"""Business days over a holiday calendar that is data (app/retention/holidays/*.yaml).

Wis. Stat. 19.345: the periods of 19.33-19.39 (the 19.35(5) hold on records asked for under
the open-records law among them) exclude Saturdays, Sundays and legal holidays. Holiday rules
are fixed dates (with an observed-day shift when they fall on a weekend), the nth weekday of a
month (nth -1 = the last), an offset from such a day (the Tuesday after the first Monday), and
limits by year (from_year, until_year, even or odd years).
"""

from __future__ import annotations

import calendar as pycalendar
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from app.db import utcnow

SHIPPED_DIR = Path(__file__).resolve().parent / "holidays"
DEFAULT_CALENDAR = "wisconsin"
# Dates in retention (due dates, denial periods, notice days) are the city's local dates.
DEFAULT_TIMEZONE = "America/Chicago"


def local_date(value: dt.datetime, timezone: str = DEFAULT_TIMEZONE) -> dt.date:
    return value.astimezone(ZoneInfo(timezone)).date()


def local_today(timezone: str = DEFAULT_TIMEZONE) -> dt.date:
    return local_date(utcnow(), timezone)


WEEKDAYS = {
    name: index
    for index, name in enumerate(
        ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
    )
}
OBSERVED_RULES = ("federal", "sunday_to_monday", "none")


class CalendarError(ValueError):
    """A holiday calendar file is missing or wrong; the message names the file and field."""


@dataclass(frozen=True)
class HolidayRule:
    name: str
    month: int
    day: int | None = None  # a fixed date
    weekday: int | None = None  # or the nth weekday of the month
    nth: int | None = None
    offset_days: int = 0
    observed: str = "none"
    from_year: int | None = None
    until_year: int | None = None
    years: str = "all"  # all | even | odd

    def applies_in(self, year: int) -> bool:
        if self.from_year is not None and year < self.from_year:
            return False
        if self.until_year is not None and year > self.until_year:
            return False
        if self.years == "even":
            return year % 2 == 0
        if self.years == "odd":
            return year % 2 == 1
        return True

    def date_in(self, year: int) -> dt.date:
        if self.day is not None:
            actual = dt.date(year, self.month, self.day)
            return _observe(actual, self.observed)
        assert self.weekday is not None
        assert self.nth is not None
        return nth_weekday(year, self.month, self.weekday, self.nth) + dt.timedelta(
            days=self.offset_days
        )


def _observe(day: dt.date, rule: str) -> dt.date:
    if rule == "federal":
        if day.weekday() == 5:
            return day - dt.timedelta(days=1)
        if day.weekday() == 6:
            return day + dt.timedelta(days=1)
    elif rule == "sunday_to_monday" and day.weekday() == 6:
        return day + dt.timedelta(days=1)
    return day


def nth_weekday(year: int, month: int, weekday: int, nth: int) -> dt.date:
    """The nth (1-5) weekday of a month, or the last one for nth == -1."""
    if nth == -1:
        last = dt.date(year, month, pycalendar.monthrange(year, month)[1])
        return last - dt.timedelta(days=(last.weekday() - weekday) % 7)
    first = dt.date(year, month, 1)
    day = first + dt.timedelta(days=(weekday - first.weekday()) % 7 + 7 * (nth - 1))
    if day.month != month:
        raise CalendarError(f"there is no weekday number {nth} in {year}-{month:02d}")
    return day


@dataclass
class HolidayCalendar:
    id: str
    title: str
    rules: tuple[HolidayRule, ...]
    _years: dict[int, dict[dt.date, str]] = field(default_factory=dict, repr=False)

    def holidays_in(self, year: int) -> dict[dt.date, str]:
        """Every holiday observed in `year`, with its name.

        A fixed date observed on the Friday before can cross into the previous year (January 1
        on a Saturday is observed on December 31), so each year looks at its neighbours.
        """
        cached = self._years.get(year)
        if cached is not None:
            return cached
        found: dict[dt.date, str] = {}
        for y in (year - 1, year, year + 1):
            for rule in self.rules:
                if rule.applies_in(y):
                    day = rule.date_in(y)
                    if day.year == year:
                        found.setdefault(day, rule.name)
        self._years[year] = found
        return found

    def is_holiday(self, day: dt.date) -> bool:
        return day in self.holidays_in(day.year)

    def is_business_day(self, day: dt.date) -> bool:
        return day.weekday() < 5 and not self.is_holiday(day)


def add_business_days(day: dt.date, n: int, calendar: HolidayCalendar) -> dt.date:
    """The nth business day after `day` (before it for negative n; `day` itself for 0)."""
    step = 1 if n >= 0 else -1
    remaining = abs(n)
    current = day
    while remaining:
        current += dt.timedelta(days=step)
        if calendar.is_business_day(current):
            remaining -= 1
    return current


def business_days_between(a: dt.date, b: dt.date, calendar: HolidayCalendar) -> int:
    """Business days after `a` up to and including `b` (negative when b is before a)."""
    if b < a:
        return -business_days_between(b, a, calendar)
    count = 0
    current = a
    while current < b:
        current += dt.timedelta(days=1)
        if calendar.is_business_day(current):
            count += 1
    return count


def _rule(path: Path, index: int, raw: Any, default_observed: str) -> HolidayRule:
    where = f"{path.name}: holidays[{index}]"
    if not isinstance(raw, dict):
        raise CalendarError(f"{where}: each holiday is a mapping with a name and a date or rule")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise CalendarError(f"{where}.name: every holiday needs a name")
    where = f"{path.name}: holiday '{name}'"
    known = {
        "name",
        "date",
        "month",
        "weekday",
        "nth",
        "offset_days",
        "observed",
        "from_year",
        "until_year",
        "years",
    }
    unknown = sorted(set(raw) - known)
    if unknown:
        raise CalendarError(f"{where}: unknown field '{unknown[0]}'")
    observed = raw.get("observed", default_observed)
    if observed not in OBSERVED_RULES:
        raise CalendarError(f"{where}.observed: '{observed}' is not one of {OBSERVED_RULES}")
    years = raw.get("years", "all")
    if years not in ("all", "even", "odd"):
        raise CalendarError(f"{where}.years: '{years}' is not all, even or odd")
    limits: dict[str, int | None] = {}
    for key in ("from_year", "until_year"):
        value = raw.get(key)
        if value is not None and not isinstance(value, int):
            raise CalendarError(f"{where}.{key}: '{value}' is not a year")
        limits[key] = value
    if "date" in raw:
        text = str(raw["date"])
        try:
            month_text, day_text = text.split("-")
            month, day = int(month_text), int(day_text)
            dt.date(2000, month, day)  # 2000 is a leap year: February 29 is allowed
        except ValueError:
            raise CalendarError(f"{where}.date: '{text}' is not a MM-DD date") from None
        if any(k in raw for k in ("weekday", "nth", "offset_days")):
            raise CalendarError(f"{where}: give either date or month/weekday/nth, not both")
        return HolidayRule(
            name=name,
            month=month,
            day=day,
            observed=observed,
            years=years,
            from_year=limits["from_year"],
            until_year=limits["until_year"],
        )
    rule_month = raw.get("month")
    if not isinstance(rule_month, int) or not 1 <= rule_month <= 12:
        raise CalendarError(f"{where}.month: '{rule_month}' is not a month number 1-12")
    weekday = raw.get("weekday")
    if not isinstance(weekday, str) or weekday.lower() not in WEEKDAYS:
        raise CalendarError(f"{where}.weekday: '{weekday}' is not a weekday name")
    nth = raw.get("nth")
    if not isinstance(nth, int) or nth not in (-1, 1, 2, 3, 4):
        raise CalendarError(f"{where}.nth: '{nth}' must be 1-4, or -1 for the last")
    offset = raw.get("offset_days", 0)
    if not isinstance(offset, int) or abs(offset) > 27:
        raise CalendarError(f"{where}.offset_days: '{offset}' must be a whole number of days")
    return HolidayRule(
        name=name,
        month=rule_month,
        weekday=WEEKDAYS[weekday.lower()],
        nth=nth,
        offset_days=offset,
        observed=observed,
        years=years,
        from_year=limits["from_year"],
        until_year=limits["until_year"],
    )


def _read(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise CalendarError(f"{path.name}: not valid YAML ({exc})") from None
    if not isinstance(data, dict) or data.get("kind") != "holiday_calendar":
        raise CalendarError(f"{path.name}: kind must be holiday_calendar")
    return data


def load_calendar(name: str = DEFAULT_CALENDAR, folder: Path | None = None) -> HolidayCalendar:
    """Load calendar `name` (several joined by '+', e.g. 'wisconsin+us_federal')."""
    folder = folder or SHIPPED_DIR
    rules: list[HolidayRule] = []
    titles: list[str] = []
    for part in [p.strip() for p in name.split("+") if p.strip()]:
        path = folder / f"{part}.yaml"
        if not path.is_file():
            available = sorted(p.stem for p in folder.glob("*.yaml"))
            raise CalendarError(
                f"no holiday calendar '{part}' in {folder} (available: {', '.join(available)})"
            )
        data = _read(path)
        if data.get("id") != part:
            raise CalendarError(f"{path.name}.id: '{data.get('id')}' must match the file name")
        default_observed = data.get("observed", "none")
        if default_observed not in OBSERVED_RULES:
            raise CalendarError(
                f"{path.name}.observed: '{default_observed}' is not one of {OBSERVED_RULES}"
            )
        holidays = data.get("holidays")
        if not isinstance(holidays, list) or not holidays:
            raise CalendarError(f"{path.name}.holidays: a calendar lists at least one holiday")
        rules.extend(_rule(path, i, raw, default_observed) for i, raw in enumerate(holidays))
        titles.append(str(data.get("title", part)))
    if not rules:
        raise CalendarError("no holiday calendar named")
    return HolidayCalendar(id=name, title=" + ".join(titles), rules=tuple(rules))
