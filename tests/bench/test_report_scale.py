"""Benchmark: the HLT term report over 100,000 cases on PostgreSQL.

The cases and their report facts (what their steps' history gave: opened, contact, SIP, consent, SDQ,
three deadlines, closed for most; about 1.1 million fact rows) are written with generate_series, spread
over 2026 at 30 schools. A report reads only the facts, through `ix_report_fact_process_day`, in grouped
queries, so the history table's size does not enter; it is not generated here. Measured: the autumn
term report (`by=term,unit`, the whole year `by=month,unit` too), median of five runs after one warm-up.
`SAMVERKA_BENCH_REPORT_CASES` sets the scale.
"""
from __future__ import annotations

import os
import statistics
import time
import uuid
from pathlib import Path
from datetime import date, datetime, timezone

import pytest
from sqlalchemy import event, text

from engine.casework.report_output import chart_svg
from engine.casework.reports import ReportService, parse_query
from engine.casework.simulation import SIMULATOR
from engine.core.calendar import SchoolCalendar
from report_year import Engine

CASES = int(os.environ.get("SAMVERKA_BENCH_REPORT_CASES", "100000"))

FACTS = """
WITH c AS (SELECT i, ('00000000-0000-0000-0000-' || lpad(i::text, 12, '0')) AS id,
                  DATE '2026-01-01' + (i % 365) AS raised, 'Skola ' || (i % 30) AS unit FROM generate_series(1, :n) i)
INSERT INTO report_fact (case_id, process_key, process_version_id, unit, agency, measure, day, task_id, detail,
                         outcome, value)
SELECT c.id, 'hlt', :version, c.unit, 'skola', f.measure, c.raised + f.offset_days, NULL, f.detail,
       CASE WHEN f.measure IN ('hlt_kontakt', 'hlt_sip', 'deadline')
            THEN CASE WHEN (c.i * 7919 + f.k) % 100 < 82 THEN 'met' ELSE 'missed' END
            WHEN f.measure = 'closed' THEN 'avslutat' WHEN f.measure = 'hlt_samtycke' THEN 'lamnat' END,
       CASE WHEN f.measure = 'hlt_sip' THEN 8 + (c.i * 31) % 40 WHEN f.measure = 'hlt_kontakt' THEN (c.i % 11) END
FROM c CROSS JOIN (VALUES ('opened', 0, NULL, 1), ('hlt_kontakt', 0, 'ej_akut', 2), ('hlt_sip', 0, NULL, 3),
                          ('hlt_samtycke', 1, NULL, 4), ('hlt_sdq', 20, 'bedomning', 5),
                          ('deadline', 7, 'kontakta_familjen', 6), ('deadline', 30, 'upprata_sip', 7),
                          ('deadline', 120, 'uppfoljning', 8), ('closed', 150, NULL, 9))
     AS f(measure, offset_days, detail, k)
WHERE f.measure <> 'closed' OR c.i % 5 <> 0
"""
DAILY = """
INSERT INTO report_daily (process_key, measure, day, unit, agency, process_version_id, detail, outcome, value, count,
                          folded)
SELECT process_key, measure, day, coalesce(unit, ''), coalesce(agency, ''), process_version_id, coalesce(detail, ''),
       coalesce(outcome, ''), CASE WHEN measure = 'hlt_sip' AND value IS NOT NULL THEN value ELSE -2147483648 END,
       count(*), true
FROM report_fact GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9
"""
UNKEPT = """DELETE FROM report_fact WHERE measure NOT IN ('opened', 'closed', 'hlt_sdq', 'hlt_kontakt', 'hlt_sip')
            AND NOT (measure = 'deadline' AND outcome = 'missed')"""
CASE_ROWS = """
INSERT INTO "case" (id, process_key, process_version_id, status, data, state, serializer_version, version,
                    created_at, updated_at, created_by, data_origin, unit)
SELECT '00000000-0000-0000-0000-' || lpad(i::text, 12, '0'), 'hlt', :version, 'open', '{}', '', '1', 1,
       TIMESTAMPTZ '2026-01-01 08:00+00' + (i % 365) * INTERVAL '1 day', now(), 'bench', '{}', 'Skola ' || (i % 30)
FROM generate_series(1, :n) i
"""


def _start(conn, cursor, statement, *rest):
    conn.info["began"] = time.perf_counter()


def _stop(spent, conn, cursor, statement, *rest):
    spent.append((time.perf_counter() - conn.info.pop("began", time.perf_counter()), " ".join(statement.split())))


@pytest.mark.bench
def test_term_report_over_100000_cases(postgres):
    name = f"b_{uuid.uuid4().hex[:12]}"
    postgres.admin(f"CREATE DATABASE {name} TEMPLATE template_samverka")
    engine = Engine(postgres.url(name), datetime(2027, 1, 15, tzinfo=timezone.utc))
    try:
        with engine.sessions() as session:
            version = session.execute(text("SELECT id FROM process_version WHERE key = 'hlt'")).scalar_one()
            began = time.perf_counter()
            session.execute(text(CASE_ROWS), {"n": CASES, "version": version})
            session.execute(text(FACTS), {"n": CASES, "version": version})
            session.execute(text(DAILY))  # what the steps would have counted, folded
            session.execute(text(UNKEPT))  # and the facts they would not have kept one per row
            session.commit()
            session.execute(text("ANALYZE report_fact"))
            session.execute(text("ANALYZE report_daily"))
            session.commit()
            facts = session.execute(text("SELECT count(*) FROM report_fact")).scalar_one()
            print(f"\n{CASES} cases, {facts} facts written in {time.perf_counter() - began:.1f} s")
        for by, start, end in (("term,unit", date(2026, 8, 19), date(2026, 12, 31)),
                               ("term", date(2026, 8, 19), date(2026, 12, 31)),
                               ("month,unit", date(2026, 1, 1), date(2026, 12, 31))):
            times, spent = [], []
            event.listen(engine.engine, "before_cursor_execute", _start)
            event.listen(engine.engine, "after_cursor_execute", lambda *a: _stop(spent, *a))
            for _ in range(6):
                with engine.sessions() as session:
                    began = time.perf_counter()
                    result = ReportService(session, engine.clock, SchoolCalendar()).report(
                        SIMULATOR, parse_query("hlt", start, end, by, end))
                    session.commit()
                    times.append(time.perf_counter() - began)
            event.remove(engine.engine, "before_cursor_execute", _start)
            slowest = sorted(spent[-len(spent) // 6:], reverse=True)[:3]
            print("  slowest statements of the last run: " + "; ".join(f"{t * 1000:.0f} ms {q[:70]!r}"
                                                                       for t, q in slowest))
            sip = next(m for m in result["measures"] if m["key"] == "hlt_sip_30_dagar")["rows"]
            print(f"by={by} {start}..{end}: median {statistics.median(times[1:]) * 1000:.0f} ms, "
                  f"max {max(times[1:]) * 1000:.0f} ms, {sum(len(m['rows']) for m in result['measures'])} rows; "
                  f"SIP share {sip[-1]['share']}")
            if by.startswith("term"):
                assert statistics.median(times[1:]) < 1.0, times
        chart_dir = os.environ.get("SAMVERKA_BENCH_CHART_DIR")
        if chart_dir:  # the README's example chart: the share per month of the whole year
            with engine.sessions() as session:
                year = ReportService(session, engine.clock, SchoolCalendar()).report(
                    SIMULATOR, parse_query("hlt", date(2026, 1, 1), date(2026, 12, 31), "month", date(2026, 12, 31)))
            for key in ("hlt_sip_30_dagar", "hlt_kontakt_7_dagar"):
                (Path(chart_dir) / f"{key}.svg").write_bytes(chart_svg(year, key))
    finally:
        engine.close()
        postgres.admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
