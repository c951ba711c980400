"""The school calendar and local time: which days are school days, and when a day ends in Sweden.

Deadlines of the absence ladder follow the school year: a deadline that falls on a closed day
(a weekend, a Swedish public holiday, a lov or the summer break) moves to the next school day
where the model says so (`next_school_day` in a timer expression). The process owner sets the
läsår in a JSON file named by SAMVERKA_SCHOOL_CALENDAR; without one a typical Swedish year is used.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

import holidays

STOCKHOLM = ZoneInfo("Europe/Stockholm")
MAX_CLOSED_RUN = 400  # days: a calendar with no school day for over a year is a mistake, not a long break


@dataclass(frozen=True)
class Span:
    start: date
    end: date  # inclusive
    name: str = ""

    def __contains__(self, day: date) -> bool:
        return self.start <= day <= self.end


def _week(year: int, week: int, name: str) -> Span:
    monday = date.fromisocalendar(year, week, 1)
    return Span(monday, monday + timedelta(days=4), name)


def default_year(year: int) -> tuple[list[Span], list[Span]]:
    """Terms and lov of a typical Swedish school year for calendar year `year` (spring and autumn terms)."""
    terms = [Span(date(year, 1, 9), date(year, 6, 12), "vårtermin"), Span(date(year, 8, 19), date(year, 12, 20), "hösttermin")]
    easter_monday = next(d for d, n in holidays.Sweden(years=year, language="sv").items() if n == "Annandag påsk")
    lov = [_week(year, 8, "sportlov"), _week(year, 44, "höstlov"),
           Span(easter_monday - timedelta(days=7), easter_monday - timedelta(days=3), "påsklov")]
    return terms, lov


class SchoolCalendar:
    """School days: weekdays inside a term that are neither a lov nor a Swedish public holiday."""

    def __init__(self, terms: list[Span] | None = None, lov: list[Span] | None = None):
        self.terms, self.lov = terms, lov or []
        self.public_holidays = holidays.Sweden(include_sundays=False, language="sv")

    @classmethod
    def from_file(cls, path: Path) -> "SchoolCalendar":
        """Read {"terminer": [{"start", "slut"}], "lov": [{"start", "slut", "namn"}]} (dates ISO)."""
        raw = json.loads(Path(path).read_text(encoding="utf-8"))

        def spans(items):
            return [Span(date.fromisoformat(i["start"]), date.fromisoformat(i["slut"]), i.get("namn", ""))
                    for i in items]
        return cls(spans(raw["terminer"]), spans(raw.get("lov", [])))

    def _terms_and_lov(self, day: date) -> tuple[list[Span], list[Span]]:
        if self.terms is not None:
            return self.terms, self.lov
        return default_year(day.year)

    def closed_because(self, day: date) -> str | None:
        """Why `day` is no school day (helg, the holiday's name, the lov, sommarlov), or None."""
        if day.weekday() >= 5:
            return "helg"
        if day in self.public_holidays:
            return self.public_holidays.get(day)
        terms, lov = self._terms_and_lov(day)
        for span in lov:
            if day in span:
                return span.name or "lov"
        if not any(day in term for term in terms):
            return "utanför terminen"
        return None

    def is_school_day(self, day: date) -> bool:
        return self.closed_because(day) is None

    def next_school_day(self, day: date) -> date:
        """`day` itself if it is a school day, else the first school day after it."""
        for offset in range(MAX_CLOSED_RUN):
            candidate = day + timedelta(days=offset)
            if self.is_school_day(candidate):
                return candidate
        raise ValueError(f"no school day within {MAX_CLOSED_RUN} days of {day}")

    def add_school_days(self, day: date, count: int) -> date:
        """The school day `count` school days after `day` (0: the next school day on or after it)."""
        current = self.next_school_day(day)
        for _ in range(int(count)):
            current = self.next_school_day(current + timedelta(days=1))
        return current

    def school_days(self, first: date, last: date) -> int:
        """How many school days lie in `first`..`last` (both included): 0 for a week of lov or summer."""
        return sum(self.is_school_day(first + timedelta(days=n)) for n in range(min((last - first).days + 1, 400)))


def end_of_day(day: date) -> datetime:
    """The last second of `day` in Swedish time, as an aware datetime."""
    return datetime.combine(day, time(23, 59, 59), STOCKHOLM)


@lru_cache(maxsize=8)
def calendar_from(path: str) -> SchoolCalendar:
    """The configured calendar (a JSON file), or the built-in typical year when `path` is empty."""
    return SchoolCalendar.from_file(Path(path)) if path else SchoolCalendar()
