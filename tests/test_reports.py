"""Reports over HTTP: JSON with definitions, CSV as a table, SVG charts rendered, a printable term report; for
process owners and the steering group (`ledning`, who sees nothing else), every read in the access log; bad
parameters as problems; small cells hidden so no total gives them back."""
from __future__ import annotations

import csv
import io
import shutil
import struct
from datetime import date, datetime, timedelta, timezone
from xml.etree import ElementTree

import cairosvg
import numpy
import pytest
from sqlalchemy import create_engine, insert, select, text

from engine.casework.report_output import CSV_COLUMNS
from engine.casework.report_periods import buckets
from engine.casework.reports import ReportService, parse_query
from engine.casework.simulation import SIMULATOR
from engine.core.calendar import SchoolCalendar
from engine.core.models import Case, ReportDaily, ReportFact
from factories import do
from report_year import Engine
from test_hlt import HLT_MOTET, aktualisera, kontakt

SPAN = "from=2026-01-01&to=2026-12-31"


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_owners_and_the_steering_group_read_figures_in_every_form_and_nothing_else(product, db_url):
    with product.client("hugo", *HLT_MOTET) as motet, product.client("agda", "processagare") as owner, \
            product.client("lena", "ledning", agency="skola") as ledning:
        ids = [aktualisera(motet, akut=n == 0) for n in range(3)]
        for case_id in ids:
            do(motet, case_id, "kontakta_familjen", kontakt("2026-01-13"))
        product.clock.advance(timedelta(days=40))

        answer = ledning.get(f"/reports/hlt?{SPAN}&by=month,unit")
        assert answer.status_code == 200, answer.text
        report = answer.json()
        assert report["periods"][0] == "2026-01" and report["breakdown"] == "unit"
        contact = next(m for m in report["measures"] if m["key"] == "hlt_kontakt_7_dagar")
        assert "7 dagar" in contact["definition"] and contact["goal"] == 0.9
        january = next(r for r in contact["rows"] if r["period"] == "2026-01" and r["unit"] == "alla")
        assert january["n"] == "<5" and january["share"] is None, "three children: a small cell"
        assert not any(case_id in answer.text for case_id in ids), "figures only, never a case"
        keys = {m["key"] for m in report["measures"]}
        assert {"hlt_sip_30_dagar", "hlt_sdq_6_manader", "frister", "oppnade", "avslutade", "incidenter"} <= keys

        table = ledning.get(f"/reports/hlt?{SPAN}&by=term", headers={"Accept": "text/csv"})
        assert table.headers["content-type"].startswith("text/csv")
        parsed = list(csv.reader(io.StringIO(table.text)))
        assert tuple(parsed[0]) == CSV_COLUMNS
        as_json = owner.get(f"/reports/hlt?{SPAN}&by=term").json()
        assert len(parsed) - 1 == sum(len(m["rows"]) for m in as_json["measures"])
        assert {row[2] for row in parsed[1:]} == {"ht 2025", "vt 2026", "ht 2026", "hela perioden"}

        chart = ledning.get(f"/reports/hlt/charts/hlt_kontakt_7_dagar.svg?{SPAN}")
        assert chart.headers["content-type"] == "image/svg+xml"
        assert_renders(chart.content, "Kontakt inom 7 dagar", "mål 90%")
        rungs = owner.get("/reports/skolfranvaro/charts/lf_elever_per_steg.svg?from=2026-01-01&to=2026-03-31")
        assert_renders(rungs.content, "Elever per steg")

        printed = ledning.get(f"/reports/hlt/term-report?{SPAN}")
        assert printed.headers["content-type"].startswith("text/html")
        assert "@media print" in printed.text and printed.text.count("<svg") >= 5
        assert "SIP inom 30 dagar" in printed.text and "Frister hållna" in printed.text

        for path in ("/cases", "/tasks", "/deadlines", "/process-definitions", f"/cases/{ids[0]}",
                     "/process-definitions/hlt/figures", "/incidents"):
            assert ledning.get(path).status_code in (403, 404), path
        assert motet.get(f"/reports/hlt?{SPAN}").status_code == 403

        for bad, pointer in ((f"from=2026-13-01", "/query/from"), ("from=2026-05-01&to=2026-04-01", "/query/from"),
                             ("by=week", "/query/by"), ("by=unit,agency", "/query/by"),
                             ("compare_from=2025-01-01", "/query/compare_to"), ("from=0001-01-01", "/query/from"),
                             ("bogus=1", "/query/bogus")):
            problem = owner.get(f"/reports/hlt?{bad}")
            assert problem.status_code == 422, (bad, problem.text)
            assert problem.headers["content-type"].startswith("application/problem+json")
            assert pointer in problem.text, (bad, problem.text)
        assert owner.get("/reports/finns_inte").status_code == 404
        assert owner.get(f"/reports/hlt/charts/finns_inte.svg?{SPAN}").status_code == 404
        by_version = owner.get(f"/reports/hlt?{SPAN}&by=year,version").json()
        assert {r["version"] for r in by_version["measures"][0]["rows"]} == {"v1", "alla"}
        by_agency = owner.get(f"/reports/hlt?{SPAN}&by=year,agency").json()
        assert "skola" in {r["agency"] for m in by_agency["measures"] for r in m["rows"]}
        compared = owner.get(f"/reports/hlt?{SPAN}&by=year&compare_from=2025-01-01&compare_to=2025-12-31").json()
        assert compared["compare"]["from"] == "2025-01-01" and compared["compare"]["periods"] == ["2025"]

    engine = create_engine(db_url)
    with engine.connect() as connection:
        reads = connection.execute(text("SELECT \"user\", action, what FROM access_log WHERE what LIKE 'report %'"))
        reads = list(reads)
    engine.dispose()
    assert [r for r in reads if r[0] == "lena"] and all(r[1] == "read" for r in reads)
    assert len([r for r in reads if r[0] == "lena"]) == 4, "every report read is a row: json, csv, svg, print"


def assert_renders(svg: bytes, *texts: str) -> None:
    """The chart is well-formed SVG holding `texts`, and cairosvg draws it as a PNG of its size with ink on it."""
    root = ElementTree.fromstring(svg)
    assert root.tag.endswith("svg")
    words = " ".join(t for t in root.itertext())
    for wanted in texts:
        assert wanted in words, (wanted, words[:300])
    png = cairosvg.svg2png(bytestring=svg)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    assert width > 300 and height > 150
    assert len(png) > 5_000, "a blank picture compresses to almost nothing"


def test_terms_and_school_years_come_from_the_calendar():
    labels = [b.label for b in buckets("term", date(2026, 1, 1), date(2026, 12, 31), SchoolCalendar())]
    assert labels == ["ht 2025", "vt 2026", "ht 2026"]
    spring = buckets("term", date(2026, 1, 1), date(2026, 12, 31), SchoolCalendar())[1]
    assert (spring.start, spring.end) == (date(2026, 1, 9), date(2026, 8, 18)), "the summer counts with spring"
    years = [b.label for b in buckets("lasar", date(2026, 1, 1), date(2026, 12, 31), SchoolCalendar())]
    assert years == ["2025/26", "2026/27"]


# --- small cells: a school with 3 late SIPs ---

LATE_SIPS = {"Skolan i Höör": (9, 3), "Norra skolan": (12, 6), "Södra skolan": (10, 7)}  # (in time, late)


@pytest.fixture
def three_late(sqlite_template, tmp_path):
    path = tmp_path / "small.db"
    shutil.copy(sqlite_template, path)
    engine = Engine(f"sqlite:///{path}", datetime(2026, 3, 1, tzinfo=timezone.utc))
    started = {school: [engine.start("hlt", unit=school) for _ in range(sum(counts))]
               for school, counts in LATE_SIPS.items()}
    with engine.sessions() as session:
        version = session.scalar(select(Case.process_version_id).limit(1))
        for school, (met, missed) in LATE_SIPS.items():  # the SIP facts and their daily counts, as steps write them
            facts = [{"case_id": case_id, "process_key": "hlt", "unit": school, "measure": "hlt_sip",
                      "day": date(2026, 2, 1 + n), "outcome": "met" if n < met else "missed",
                      "value": 20 if n < met else 40, "process_version_id": version}
                     for n, case_id in enumerate(started[school])]
            session.execute(insert(ReportFact), facts)
            session.execute(insert(ReportDaily), [
                {**{k: v for k, v in f.items() if k != "case_id"}, "agency": "", "detail": "", "count": 1}
                for f in facts])
        session.commit()
    yield engine
    engine.close()


def test_a_school_with_three_late_sips_shows_less_than_five_and_no_sum_gives_it_back(three_late):
    with three_late.sessions() as session:
        report = ReportService(session, three_late.clock, SchoolCalendar(), 5).report(
            SIMULATOR, parse_query("hlt", date(2026, 1, 1), date(2026, 6, 30), "month,unit", date(2026, 6, 30)))
    sip = next(m for m in report["measures"] if m["key"] == "hlt_sip_30_dagar")["rows"]
    feb = {r["unit"]: r for r in sip if r["period"] == "2026-02"}
    assert feb["Skolan i Höör"]["missed"] == "<5" and feb["Skolan i Höör"]["share"] is None
    assert feb["Norra skolan"]["missed"] in (6, "x"), "6 is no small cell: shown, or hidden as a complement"
    assert not revealed(sip, ("2026-02", "Skolan i Höör", "missed"))
    with three_late.sessions() as session:  # the check can fail: hiding the one cell alone gives it away
        plain = ReportService(session, three_late.clock, SchoolCalendar(), 2).report(
            SIMULATOR, parse_query("hlt", date(2026, 1, 1), date(2026, 6, 30), "month,unit", date(2026, 6, 30)))
    naive = next(m for m in plain["measures"] if m["key"] == "hlt_sip_30_dagar")["rows"]
    assert next(r for r in naive if r["period"] == "2026-02" and r["unit"] == "Skolan i Höör")["missed"] == 3
    for row in naive:
        if row["period"] == "2026-02" and row["unit"] == "Skolan i Höör":
            row["missed"] = "<5"
    assert revealed(naive, ("2026-02", "Skolan i Höör", "missed"))


def revealed(rows: list[dict], cell: tuple) -> bool:
    """Whether the JSON's shown cells determine `cell` through the sums a reader knows: n = met + missed in a row,
    «alla» = the sum of the units, «hela perioden» = the sum of the months. A linear-algebra test: the hidden
    cell is determined iff its unit vector lies in the row space of the equations over the hidden cells."""
    values = {(r["period"], r["unit"], c): r[c] for r in rows for c in ("n", "met", "missed")}
    unknown = sorted(k for k, v in values.items() if not isinstance(v, int))
    index = {k: i for i, k in enumerate(unknown)}
    periods = sorted({k[0] for k in values} - {"hela perioden"})
    units = sorted({k[1] for k in values} - {"alla"})
    equations = []
    for (p, u, _) in {(k[0], k[1], None) for k in values}:
        equations.append([((p, u, "n"), 1), ((p, u, "met"), -1), ((p, u, "missed"), -1)])
    for p in periods + ["hela perioden"]:
        for c in ("n", "met", "missed"):
            equations.append([((p, "alla", c), 1)] + [((p, u, c), -1) for u in units])
    for u in units + ["alla"]:
        for c in ("n", "met", "missed"):
            equations.append([(("hela perioden", u, c), 1)] + [((p, u, c), -1) for p in periods])
    matrix = numpy.zeros((len(equations), len(unknown)))
    for row, terms in enumerate(equations):
        for key, sign in terms:
            if key in index:
                matrix[row, index[key]] += sign
    target = numpy.zeros((1, len(unknown)))
    target[0, index[cell]] = 1
    return numpy.linalg.matrix_rank(numpy.vstack([matrix, target])) == numpy.linalg.matrix_rank(matrix)
