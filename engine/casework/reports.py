"""Reports for process owners and the steering group: the measures per period and unit, figures only.

A report reads the report facts of one process over a span of days, in two or three grouped queries
(the period each fact falls in is a CASE over the periods' last days, so the database hands back one
row per period, unit and outcome rather than one per fact), and the cases open at each period's end
for the measures of a state. Small cells are hidden (engine.casework.report_privacy). Every read of a
report is a row in the access log.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import and_, case, exists, func, literal, or_, select
from sqlalchemy.orm import Session, aliased

from engine.access import audit
from engine.access.identity import Principal
from engine.access.policy import OWNER_ROLE, STEERING_ROLE, is_system
from engine.casework import deployments, measures
from engine.casework.report_facts import NO_VALUE
from engine.casework.report_periods import MAX_DAYS, PERIODS, Bucket, buckets
from engine.casework.report_rows import ALL, COLUMNS, rows_of
from engine.core.calendar import SchoolCalendar
from engine.core.clock import Clock
from engine.core.errors import FieldError, InvalidInput, Refused
from engine.core.models import ProcessVersion, ReportDaily, ReportFact

BREAKDOWNS = ("unit", "agency", "version")
NONE_LABEL = "(ingen)"
OTHER_REFERRAL = "övrigt"
_VALUED = ("duration",)
MIN_YEAR, MAX_YEAR = 1900, 2999
MAX_PERIODS = 60  # five years by month: a table and a chart a person can still read


@dataclass
class Query:
    process_key: str
    start: date
    end: date
    period: str = "month"
    breakdown: str | None = None


@dataclass
class Table:
    """One measure's cells before suppression: per (period, group, split) its additive columns."""

    measure: measures.Measure
    counts: dict = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))
    values: dict = field(default_factory=lambda: defaultdict(list))  # (period, group, split) -> sorted days


def require_reader(principal: Principal) -> None:
    """Reports are read by process owners and the steering group (and the engine's own jobs)."""
    if not (principal.has_role(OWNER_ROLE) or principal.has_role(STEERING_ROLE) or is_system(principal)):
        raise Refused(f"reports are for the roles {OWNER_ROLE} and {STEERING_ROLE}")


def parse_query(process_key: str, start: date | None, end: date | None, by: str | None, today: date,
                prefix: str = "") -> Query:
    """The report asked for, checked: 422 naming the parameter for a span or `by` the report cannot give."""
    for name, day in ((f"{prefix}from", start), (f"{prefix}to", end)):
        if day is not None and not MIN_YEAR <= day.year <= MAX_YEAR:
            raise InvalidInput(f"{name} is out of range", [FieldError(f"/query/{name}",
                                                                      f"a year from {MIN_YEAR} to {MAX_YEAR}")])
    end = end or today
    start = start or (end - timedelta(days=364))
    if start > end:
        raise InvalidInput(f"{prefix}from must not be after {prefix}to",
                           [FieldError(f"/query/{prefix}from", f"after {prefix}to ({end.isoformat()})")])
    if (end - start).days > MAX_DAYS:
        raise InvalidInput("the span is too long", [FieldError(f"/query/{prefix}to", f"at most {MAX_DAYS} days "
                                                                                     f"after {prefix}from")])
    period, breakdown = "month", None
    for part in [p.strip() for p in (by or "").split(",") if p.strip()]:
        if part in PERIODS:
            period = part
        elif part in BREAKDOWNS and breakdown is None:
            breakdown = part
        else:
            raise InvalidInput("by names a period and at most one breakdown", [FieldError(
                "/query/by", f"{part[:40]!r} is not one of {', '.join(PERIODS + BREAKDOWNS)} (one breakdown)")])
    return Query(process_key, start, end, period, breakdown)


class ReportService:
    def __init__(self, session: Session, clock: Clock, calendar: SchoolCalendar, threshold: int = 5):
        self.session, self.clock, self.calendar, self.threshold = session, clock, calendar, max(1, threshold)

    def report(self, principal: Principal, query: Query, compare: Query | None = None,
               only: str | None = None) -> dict:
        """The report as plain data; `compare`: a second span with the same breakdown; `only`: one measure."""
        require_reader(principal)
        deployments.get_version(self.session, query.process_key)  # NotFound for an unknown process
        chosen = measures.of_process(query.process_key)
        if only is not None:
            chosen = [m for m in chosen if m.key == only]
        audit.record(self.session, self.clock, principal, [None], "read",
                     f"report {query.process_key} {query.start}..{query.end}"
                     + (f" vs {compare.start}..{compare.end}" if compare else ""))
        result = self._one(query, chosen)
        if compare is not None:
            result["compare"] = self._one(compare, chosen)
        return result

    def _one(self, query: Query, chosen: list[measures.Measure]) -> dict:
        periods = buckets(query.period, query.start, query.end, self.calendar)
        if len(periods) > MAX_PERIODS:
            raise InvalidInput("too many periods for one report", [FieldError(
                "/query/by", f"{query.period} over {query.start}..{query.end} makes {len(periods)} periods; "
                             f"at most {MAX_PERIODS}")])
        tables = {m.key: Table(m) for m in chosen}
        labels = self._labels(query)
        self._events(query, periods, [t for t in tables.values() if t.measure.kind in COLUMNS and
                                      t.measure.kind not in ("open_share", "rungs")], labels)
        for table in tables.values():
            if table.measure.kind in ("open_share", "rungs"):
                self._states(query, periods, table, labels)
        return {"process_key": query.process_key, "from": query.start.isoformat(), "to": query.end.isoformat(),
                "period": query.period, "breakdown": query.breakdown, "threshold": self.threshold,
                "periods": [b.label for b in periods],
                "measures": [rows_of(t, periods, query.breakdown, self.threshold) for t in tables.values()]}

    def _labels(self, query: Query) -> dict:
        if query.breakdown != "version":
            return {}
        return dict(self.session.execute(select(ProcessVersion.id, ProcessVersion.version)
                                         .where(ProcessVersion.key == query.process_key)).all())

    def _group(self, breakdown: str | None, table=ReportFact):
        column = {"unit": table.unit, "agency": table.agency,
                  "version": table.process_version_id}.get(breakdown or "")
        return column if column is not None else literal(ALL)

    def _group_label(self, value, breakdown: str | None, labels: dict) -> str:
        if breakdown is None:
            return ALL
        if breakdown == "version":
            return f"v{labels.get(value, value)}"
        return value if value not in (None, "") else NONE_LABEL

    def _events(self, query: Query, periods: list[Bucket], tables: list[Table], labels: dict) -> None:
        """Sum the daily counts per period (a CASE over the periods' last days), breakdown, detail and outcome,
        and per value for the measures that need the days themselves."""
        if not tables:
            return
        facts = {t.measure.fact for t in tables}
        daily = ReportDaily
        bucket = case(*[(daily.day <= b.end, i) for i, b in enumerate(periods)], else_=-1).label("bucket")
        group = self._group(query.breakdown, daily).label("grp")
        where = (daily.process_key == query.process_key, daily.day >= query.start, daily.day <= query.end)
        rows = self.session.execute(select(daily.measure, daily.detail, daily.outcome, bucket, group,
                                           func.sum(daily.count))
                                    .where(*where, daily.measure.in_(facts))
                                    .group_by(daily.measure, daily.detail, daily.outcome, bucket, group)).all()
        valued = {t.measure.fact for t in tables if t.measure.kind in _VALUED or t.measure.split == "value"}
        value_rows = []
        if valued:
            value_rows = self.session.execute(
                select(daily.measure, daily.detail, bucket, group, daily.value, func.sum(daily.count))
                .where(*where, daily.measure.in_(valued), daily.value != NO_VALUE)
                .group_by(daily.measure, daily.detail, bucket, group, daily.value)).all()
        for table in tables:
            m = table.measure
            if m.kind in _VALUED or m.split == "value":
                for fact, detail, index, grp, value, count in value_rows:
                    if fact != m.fact or index < 0 or (m.details and detail not in m.details) or not count:
                        continue
                    key = (periods[index].label, self._group_label(grp, query.breakdown, labels),
                           self._split(m, detail, None, value))
                    if m.kind == "duration":
                        table.counts[key]["n"] += count
                        table.values[key].extend([value] * count)
                    else:
                        table.counts[key]["count"] += count
                continue
            for fact, detail, outcome, index, grp, count in rows:
                if fact != m.fact or index < 0 or (m.details and detail not in m.details) or not count:
                    continue
                key = (periods[index].label, self._group_label(grp, query.breakdown, labels),
                       self._split(m, detail, outcome, None))
                if m.kind == "share":
                    if outcome in ("met", "missed"):
                        table.counts[key][outcome] += count
                        table.counts[key]["n"] += count
                else:
                    table.counts[key]["count"] += count
        for table in tables:
            if table.measure.key == "hlt_ej_upptagna":
                self._group_rare_referrals(table)

    @staticmethod
    def _split(m: measures.Measure, detail, outcome, value):
        split = {"detail": detail, "outcome": outcome, "value": value}.get(m.split or "", None)
        return None if split == "" else split

    def _group_rare_referrals(self, table: Table) -> None:
        """Referrals are free text: one seen fewer times than the threshold is shown as «övrigt», never by name."""
        totals: dict = defaultdict(int)
        for (_, _, split), cols in table.counts.items():
            totals[split] += cols["count"]
        merged: dict = defaultdict(lambda: defaultdict(int))
        for (period, grp, split), cols in table.counts.items():
            label = split if totals[split] >= self.threshold else OTHER_REFERRAL
            merged[(period, grp, label)]["count"] += cols["count"]
        table.counts = merged

    def _states(self, query: Query, periods: list[Bucket], table: Table, labels: dict) -> None:
        """Cases open at each period's end: those with a fact in the window (open_share), or by rung (rungs)."""
        m, opened, closed = table.measure, aliased(ReportFact), aliased(ReportFact)
        group = {"unit": opened.unit, "agency": opened.agency, "version": opened.process_version_id}.get(
            query.breakdown or "", literal(ALL)).label("grp")
        for bucket in periods:
            day = bucket.end
            still_open = and_(opened.process_key == query.process_key, opened.measure == "opened", opened.day <= day,
                              ~exists().where(closed.case_id == opened.case_id, closed.measure == "closed",
                                              closed.day <= day))
            if m.kind == "open_share" and query.breakdown != "agency":
                if bucket is periods[0]:
                    self._open_share_fast(query, periods, table, labels)
            elif m.kind == "open_share":
                fact = aliased(ReportFact)
                since = _months_before(day, m.window_months)
                has = exists().where(fact.case_id == opened.case_id, fact.measure == m.fact, fact.day > since,
                                     fact.day <= day)
                rows = self.session.execute(select(group, func.count(), func.sum(case((has, 1), else_=0)))
                                            .where(still_open).group_by(group)).all()
                for grp, n, met in rows:
                    cols = table.counts[(bucket.label, self._group_label(grp, query.breakdown, labels), None)]
                    cols["n"] += n
                    cols["met"] += int(met or 0)
                    cols["missed"] += n - int(met or 0)
            else:
                rung, latest = aliased(ReportFact), aliased(ReportFact)
                newest = (select(func.max(latest.id)).where(latest.case_id == opened.case_id,
                                                            latest.measure == m.fact, latest.day <= day)
                          .scalar_subquery())
                rows = self.session.execute(select(group, rung.value, func.count()).select_from(opened)
                                            .join(rung, rung.id == newest).where(still_open)
                                            .group_by(group, rung.value)).all()
                for grp, value, n in rows:
                    table.counts[(bucket.label, self._group_label(grp, query.breakdown, labels), value)]["count"] += n


    def _open_share_fast(self, query: Query, periods: list[Bucket], table: Table, labels: dict) -> None:
        """open_share by unit or version for every period's end at once: the cases open then are those opened by
        it minus those closed by it (summed from the daily counts; a case's unit and version are the same on all
        its facts, so they subtract, which its agency is not: that takes the exact query), and those of them with
        a fact in the window come from one pass over the facts of the whole span, each case once."""
        m, ends = table.measure, [b.end for b in periods]
        daily_group = self._group(query.breakdown, ReportDaily).label("grp")
        # opened and closed by each end: per period sums (days before the first fall in the first), added up
        index = case(*[(ReportDaily.day <= end, i) for i, end in enumerate(ends)], else_=len(ends)).label("bucket")
        running: dict = {}
        for measure, grp, i, n in self.session.execute(
                select(ReportDaily.measure, daily_group, index, func.sum(ReportDaily.count)).where(
                    ReportDaily.process_key == query.process_key, ReportDaily.measure.in_(("opened", "closed")),
                    ReportDaily.day <= ends[-1]).group_by(ReportDaily.measure, daily_group, index)):
            per_end = running.setdefault((measure, grp or ""), [0] * len(ends))
            for later in range(i, len(ends)):
                per_end[later] += int(n or 0)

        def by_end(measure: str, i: int) -> dict:
            return {grp: values[i] for (m_, grp), values in running.items() if m_ == measure}

        closing = (select(ReportFact.case_id, func.min(ReportFact.day).label("closed"))
                   .where(ReportFact.process_key == query.process_key, ReportFact.measure == "closed",
                          # a case closed before the first window cannot have a fact in one
                          ReportFact.day > _months_before(ends[0], m.window_months), ReportFact.day <= ends[-1])
                   .group_by(ReportFact.case_id).subquery())
        group = self._group(query.breakdown).label("grp")
        windows = [func.max(case((and_(ReportFact.day > _months_before(end, m.window_months), ReportFact.day <= end),
                                  1), else_=0)).label(f"w{i}") for i, end in enumerate(ends)]
        per_case = (select(ReportFact.case_id, group, closing.c.closed, *windows)
                    .outerjoin(closing, closing.c.case_id == ReportFact.case_id)
                    .where(ReportFact.process_key == query.process_key, ReportFact.measure == m.fact,
                           ReportFact.day > _months_before(ends[0], m.window_months), ReportFact.day <= ends[-1])
                    .group_by(ReportFact.case_id, group, closing.c.closed).subquery())
        sums = [func.sum(case((or_(per_case.c.closed.is_(None), per_case.c.closed > end), per_case.c[f"w{i}"]),
                              else_=0)) for i, end in enumerate(ends)]
        covered = {(g or ""): values for g, *values in self.session.execute(
            select(per_case.c.grp, *sums).group_by(per_case.c.grp))}
        for i, bucket in enumerate(periods):
            opened, closed = by_end("opened", i), by_end("closed", i)
            for grp in set(opened) | set(covered):
                n = opened.get(grp, 0) - closed.get(grp, 0)
                met = int((covered.get(grp) or [0] * len(ends))[i] or 0)
                cols = table.counts[(bucket.label, self._group_label(grp, query.breakdown, labels), None)]
                cols["n"] += n
                cols["met"] += met
                cols["missed"] += n - met


def _months_before(day: date, months: int) -> date:
    """The same day `months` earlier (the last day of a shorter month when it has none)."""
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    for candidate in range(day.day, 27, -1) if day.day > 28 else [day.day]:
        try:
            return date(year, month + 1, candidate)
        except ValueError:
            continue
    return date(year, month + 1, 28)
