"""A measure's rows as a report prints them: per period (and the whole span), per unit (and «alla»), with the
small cells and their complements hidden."""
from __future__ import annotations

import math
import statistics

from engine.casework.report_privacy import shown, suppress

TOTAL = "hela perioden"
ALL = "alla"
COLUMNS = {"share": ("n", "met", "missed"), "open_share": ("n", "met", "missed"), "count": ("count",),
           "rungs": ("count",), "duration": ("n",)}


def percentile(values: list[int], share: float) -> int | float:
    """The nearest-rank percentile of `values` (the median as statistics.median has it)."""
    ordered = sorted(values)
    if share == 0.5:
        return statistics.median(ordered)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def _split_label(measure, split):
    if measure.kind == "rungs":
        return f"steg {split}"
    return split if split is not None else ""


def rows_of(table, periods, breakdown: str | None, threshold: int) -> dict:
    """The measure with its definition and its rows; a hidden count reads "<5", and a share or median that
    would need it reads null."""
    m = table.measure
    cols, state = COLUMNS[m.kind], m.kind in ("open_share", "rungs")
    labels = [b.label for b in periods]
    groups = sorted({g for (_, g, _) in table.counts} - {ALL}) if breakdown else []
    splits = sorted({s for (_, _, s) in table.counts}, key=lambda s: (s is None, str(s)))
    if m.split is None and m.kind != "rungs":
        splits = [None]
    has_total = len(labels) > 1 and not state
    period_keys = labels + ([TOTAL] if has_total else [])
    group_keys = groups + [ALL]
    values: dict = {}
    days: dict = {}
    for p in labels:
        for s in splits:
            for g in groups or [ALL]:
                days[(p, g, s)] = list(table.values.get((p, g, s), []))
                for c in cols:
                    values[(p, g, s, c)] = table.counts.get((p, g, s), {}).get(c, 0)
            if groups:
                days[(p, ALL, s)] = [v for g in groups for v in days[(p, g, s)]]
                for c in cols:
                    values[(p, ALL, s, c)] = sum(values[(p, g, s, c)] for g in groups)
    if has_total:
        for g in group_keys:
            for s in splits:
                days[(TOTAL, g, s)] = [v for p in labels for v in days[(p, g, s)]]
                for c in cols:
                    values[(TOTAL, g, s, c)] = sum(values[(p, g, s, c)] for p in labels)
    sums = []
    for p in period_keys:
        for g in group_keys:
            for s in splits:
                if m.kind in ("share", "open_share"):
                    sums.append(((p, g, s, "n"), [(p, g, s, "met"), (p, g, s, "missed")]))
                if groups:
                    sums += [((p, ALL, s, c), [(p, x, s, c) for x in groups]) for c in cols if g == ALL]
    if has_total:
        sums += [((TOTAL, g, s, c), [(p, g, s, c) for p in labels]) for g in group_keys for s in splits for c in cols]
    hidden = suppress(values, sums, threshold)
    rows = []
    for p in period_keys:
        for g in group_keys:
            for s in splits:
                row: dict = {"period": p}
                if breakdown:
                    row[breakdown] = g
                if m.split or m.kind == "rungs":
                    row["split"] = _split_label(m, s)
                for c in cols:
                    row[c] = shown(values[(p, g, s, c)], (p, g, s, c) in hidden, threshold)
                if m.kind in ("share", "open_share"):
                    n, met = values[(p, g, s, "n")], values[(p, g, s, "met")]
                    visible = not {(p, g, s, "n"), (p, g, s, "met")} & hidden
                    row["share"] = round(met / n, 4) if n and visible else None
                if m.kind == "duration":
                    visible = (p, g, s, "n") not in hidden and days[(p, g, s)]
                    row["median"] = percentile(days[(p, g, s)], 0.5) if visible else None
                    row["p90"] = percentile(days[(p, g, s)], 0.9) if visible else None
                rows.append(row)
    return {"key": m.key, "name": m.name, "definition": m.definition, "kind": m.kind, "goal": m.goal,
            "rows": rows}
