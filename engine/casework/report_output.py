"""A report as a spreadsheet (CSV), as charts (SVG drawn by matplotlib) and as a printable term report (HTML).

Everything here reads the report's rows after suppression: a hidden cell stays hidden in every form.
"""
from __future__ import annotations

import csv
import io
import math

from jinja2 import Environment, select_autoescape
from markupsafe import Markup

from engine.casework.report_rows import ALL, TOTAL
from engine.core.errors import NotFound

CSV_COLUMNS = ("measure", "name", "period", "breakdown", "group", "split", "n", "met", "missed", "share", "count",
               "median", "p90")
CHART_KINDS = ("share", "open_share", "rungs", "count", "duration")
MAX_LINES = 8  # a chart with more lines than this is unreadable; the table has them all


def to_csv(report: dict) -> str:
    """One row per measure × period × breakdown value × split, with a header."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\r\n")
    writer.writeheader()
    breakdown = report["breakdown"]
    for measure in report["measures"]:
        for row in measure["rows"]:
            writer.writerow({**row, "measure": measure["key"], "name": measure["name"], "breakdown": breakdown or "",
                             "group": row.get(breakdown, ALL) if breakdown else ALL})
    return out.getvalue()


def find_measure(report: dict, key: str) -> dict:
    """The measure `key` of the report; NotFound when the process is not reported on it."""
    for measure in report["measures"]:
        if measure["key"] == key:
            return measure
    raise NotFound(f"{report['process_key']} has no measure {key}; it has: "
                   + ", ".join(m["key"] for m in report["measures"]))


def _number(value) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else math.nan


def _series(measure: dict, report: dict, column: str) -> dict[str, list[float]]:
    """Per line (a group, or a split), the value of `column` for each period, NaN where it is hidden or empty."""
    breakdown, periods = report["breakdown"], report["periods"]
    lines: dict[str, dict[str, float]] = {}
    for row in measure["rows"]:
        if row["period"] == TOTAL:
            continue
        group = row.get(breakdown, ALL) if breakdown else ALL
        if breakdown and group == ALL:
            continue
        name = " · ".join(x for x in (group if breakdown else "", row.get("split") or "") if x) or measure["name"]
        lines.setdefault(name, {})[row["period"]] = _number(row.get(column))
    return {name: [values.get(p, math.nan) for p in periods] for name, values in list(lines.items())[:MAX_LINES]}


def chart_svg(report: dict, key: str) -> bytes:
    """The measure as an SVG chart: shares per period against the goal line, pupils per rung as bars,
    counts as bars, durations as the median per period. Hidden cells are gaps, never zeros."""
    import matplotlib  # imported on first use: the server starts without it

    matplotlib.use("svg", force=False)
    from matplotlib.figure import Figure

    measure = find_measure(report, key)
    kind, periods = measure["kind"], report["periods"]
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "samverka", "font.size": 9}):
        figure = Figure(figsize=(7.5, 3.6))
        axes = figure.subplots()
        axes.set_title(measure["name"])
        positions = list(range(len(periods)))
        if kind in ("share", "open_share"):
            for name, values in _series(measure, report, "share").items():
                axes.plot(positions, [v * 100 for v in values], marker="o", label=name)
            if measure.get("goal") is not None:
                axes.axhline(measure["goal"] * 100, color="#b03030", linestyle="--", label=f"mål {measure['goal']:.0%}")
            axes.set_ylim(0, 105)
            axes.set_ylabel("andel inom frist, %")
        elif kind == "rungs":
            last = periods[-1]
            rows = [r for r in measure["rows"] if r["period"] == last
                    and (not report["breakdown"] or r.get(report["breakdown"]) == ALL)]
            counts = [_number(r["count"]) for r in rows]
            bars = axes.bar([r["split"] for r in rows], [0 if math.isnan(c) else c for c in counts], color="#3060a0")
            for bar, row in zip(bars, rows):
                axes.annotate(str(row["count"]), (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                              ha="center", va="bottom")
            axes.set_ylabel(f"elever {last}")
        else:
            column = "median" if kind == "duration" else "count"
            series = _series(measure, report, column)
            width = 0.8 / max(1, len(series))
            for index, (name, values) in enumerate(series.items()):
                axes.bar([p + index * width for p in positions], [0 if math.isnan(v) else v for v in values],
                         width=width, label=name)
            axes.set_ylabel("median, dagar" if kind == "duration" else "antal")
        if kind != "rungs":
            axes.set_xticks(positions, periods, rotation=45 if len(periods) > 4 else 0, ha="right"
                            if len(periods) > 4 else "center")
        if axes.get_legend_handles_labels()[0]:
            axes.legend(loc="best", fontsize=7)
        figure.tight_layout()
        out = io.BytesIO()
        figure.savefig(out, format="svg", metadata={"Date": None})
    return out.getvalue()


_TEMPLATE = """<!DOCTYPE html>
<html lang="sv"><head><meta charset="utf-8"><title>{{ title }}</title>
<style>
  body { font-family: system-ui, sans-serif; margin: 2em; color: #111; }
  h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 1.6em; }
  table { border-collapse: collapse; margin: .5em 0; font-size: .85em; }
  th, td { border: 1px solid #999; padding: .2em .5em; text-align: right; } th:first-child, td:first-child { text-align: left; }
  .definition { font-size: .9em; color: #333; max-width: 48em; }
  .chart svg { max-width: 100%; height: auto; }
  section { page-break-inside: avoid; break-inside: avoid; }
  @media print { body { margin: 0; } @page { size: A4; margin: 15mm; } a { color: inherit; text-decoration: none; } }
</style></head><body>
<h1>{{ title }}</h1>
<p>Period {{ report["from"] }} – {{ report["to"] }}, per {{ report["period"] }}{% if report["breakdown"] %} och {{ report["breakdown"] }}{% endif %}.
Celler med färre än {{ report["threshold"] }} visas som «&lt;{{ report["threshold"] }}», och så många andra att summorna inte avslöjar dem.
Rapporten innehåller bara siffror, aldrig ett ärende eller ett barn.</p>
{% for m in report["measures"] %}<section>
<h2>{{ m["name"] }}</h2>
<p class="definition">{{ m["definition"] }}{% if m["goal"] is not none %} Mål: {{ "%.0f"|format(m["goal"] * 100) }} %.{% endif %}</p>
{% if m["key"] in charts %}<div class="chart">{{ charts[m["key"]] }}</div>{% endif %}
<table><tr>{% for c in columns[m["key"]] %}<th>{{ c }}</th>{% endfor %}</tr>
{% for row in m["rows"] %}<tr>{% for c in columns[m["key"]] %}<td>{{ cell(c, row.get(c)) }}</td>{% endfor %}</tr>
{% endfor %}</table></section>
{% endfor %}
</body></html>
"""
_ENV = Environment(autoescape=select_autoescape(default=True, default_for_string=True))


def _cell(column: str, value) -> str:
    if value is None:
        return "–"
    if column == "share" and isinstance(value, (int, float)):
        return f"{value:.1%}".replace(".", ",")
    return f"{value:g}".replace(".", ",") if isinstance(value, float) else str(value)


def term_report_html(report: dict, title: str, charted: tuple[str, ...] | None = None) -> str:
    """The printable report: each measure's definition, its chart and its table."""
    charts = {}
    for measure in report["measures"]:
        if charted is None or measure["key"] in charted:
            svg = chart_svg(report, measure["key"]).decode("utf-8")
            charts[measure["key"]] = Markup(svg[svg.index("<svg"):])  # drawn by matplotlib, not from user text
    columns = {m["key"]: [c for c in (m["rows"][0].keys() if m["rows"] else ())] for m in report["measures"]}
    return _ENV.from_string(_TEMPLATE).render(report=report, title=title, charts=charts, columns=columns, cell=_cell)
