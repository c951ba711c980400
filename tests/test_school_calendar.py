"""The school calendar: which days are school days, and where a deadline on a closed day moves."""
from __future__ import annotations

import json
from datetime import date

from engine.core.calendar import SchoolCalendar, end_of_day


def test_the_default_year_closes_weekends_swedish_holidays_lov_and_the_summer():
    calendar = SchoolCalendar()
    assert calendar.closed_because(date(2026, 6, 6)) == "helg"  # a Saturday, and Sveriges nationaldag
    assert calendar.closed_because(date(2026, 4, 3)) == "Långfredagen"
    assert calendar.closed_because(date(2026, 5, 14)) == "Kristi himmelsfärdsdag"
    assert calendar.closed_because(date(2026, 10, 28)) == "höstlov"
    assert calendar.closed_because(date(2026, 7, 15)) == "utanför terminen"
    assert calendar.next_school_day(date(2026, 6, 13)) == date(2026, 8, 19)
    assert calendar.add_school_days(date(2026, 6, 10), 2) == date(2026, 6, 12)
    assert calendar.add_school_days(date(2026, 6, 10), 3) == date(2026, 8, 19)
    assert calendar.next_school_day(date(2026, 3, 4)) == date(2026, 3, 4)


def test_a_periods_school_days_count_the_ladders_weeks():
    calendar = SchoolCalendar()
    assert calendar.school_days(date(2026, 3, 2), date(2026, 3, 8)) == 5  # an ordinary week
    assert calendar.school_days(date(2026, 5, 11), date(2026, 5, 17)) == 4  # Kristi himmelsfärd
    assert calendar.school_days(date(2026, 10, 26), date(2026, 11, 1)) == 0  # höstlov
    assert calendar.school_days(date(2026, 7, 6), date(2026, 7, 12)) == 0  # the summer
    assert calendar.school_days(date(2026, 3, 8), date(2026, 3, 2)) == 0  # an empty period


def test_the_process_owner_sets_terms_and_lov_in_a_file(tmp_path):
    path = tmp_path / "lasar.json"
    path.write_text(json.dumps({"terminer": [{"start": "2026-08-17", "slut": "2026-12-18"}],
                                "lov": [{"start": "2026-11-02", "slut": "2026-11-06", "namn": "höstlov"}]}))
    calendar = SchoolCalendar.from_file(path)
    assert calendar.is_school_day(date(2026, 8, 17)) and calendar.is_school_day(date(2026, 10, 26))
    assert calendar.closed_because(date(2026, 11, 4)) == "höstlov"
    assert calendar.next_school_day(date(2026, 10, 31)) == date(2026, 11, 9)  # weekend, then the lov
    assert calendar.closed_because(date(2027, 1, 11)) == "utanför terminen"  # only the terms it names


def test_a_day_ends_at_midnight_swedish_time_winter_and_summer():
    assert end_of_day(date(2026, 1, 19)).isoformat() == "2026-01-19T23:59:59+01:00"
    assert end_of_day(date(2026, 7, 1)).isoformat() == "2026-07-01T23:59:59+02:00"
