"""Report periods: a span of days cut into months, terms (from the school calendar), läsår, years or one whole."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from engine.core.calendar import SchoolCalendar, default_year

PERIODS = ("month", "term", "lasar", "year", "all")
MAX_DAYS = 3660  # ten years: a report's span is bounded, and so is the work it costs


@dataclass(frozen=True)
class Bucket:
    label: str
    start: date
    end: date  # inclusive


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def _term_starts(calendar: SchoolCalendar, start: date, end: date) -> list[tuple[date, str]]:
    """Each term's first day with its label (vt 2026, ht 2026): a day after a term's end belongs to it until the
    next begins, so the summer counts with the spring term and the days before the spring term with the autumn."""
    if calendar.terms is not None:
        terms = list(calendar.terms)
    else:
        terms = [t for year in range(start.year - 1, end.year + 1) for t in default_year(year)[0]]
    return sorted((t.start, f"{'vt' if t.start.month < 7 else 'ht'} {t.start.year}") for t in terms)


def _lasar(label: str) -> str:
    kind, year = label.split()
    first = int(year) if kind == "ht" else int(year) - 1
    return f"{first}/{str(first + 1)[-2:]}"


def buckets(kind: str, start: date, end: date, calendar: SchoolCalendar) -> list[Bucket]:
    """The periods of `kind` that cover start..end (both inclusive), clipped to it, in order."""
    if kind == "all":
        return [Bucket(f"{start.isoformat()}–{end.isoformat()}", start, end)]
    cuts: list[tuple[date, str]] = []
    if kind == "month":
        day = _month_start(start)
        while day <= end:
            cuts.append((day, f"{day:%Y-%m}"))
            day = _next_month(day)
    elif kind == "year":
        cuts = [(date(y, 1, 1), str(y)) for y in range(start.year, end.year + 1)]
    else:
        terms = _term_starts(calendar, start, end)
        if kind == "lasar":
            seen: dict[str, date] = {}
            for first, label in terms:
                seen.setdefault(_lasar(label), first)
            terms = sorted((first, label) for label, first in seen.items())
        before = [t for t in terms if t[0] <= start]
        cuts = ([before[-1]] if before else []) + [t for t in terms if start < t[0] <= end]
        if not cuts:
            cuts = [(start, "före första terminen")]
    out = []
    for index, (first, label) in enumerate(cuts):
        last = cuts[index + 1][0] - timedelta(days=1) if index + 1 < len(cuts) else end
        bucket = Bucket(label, max(first, start), min(last, end))
        if bucket.start <= bucket.end:
            out.append(bucket)
    return out
