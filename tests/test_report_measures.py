"""The measures, checked against a generated year: a couple of hundred HLT cases at three schools on the
engine's virtual clock (late, acute, not taken up, declined, withdrawn, SIPs late or never written) and a
school year of the absence ladder. The expected figures are computed here from the dates the generator
chose, never from the report facts."""
from __future__ import annotations

import math
import statistics
import shutil
from collections import defaultdict
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from engine.casework.reports import ReportService, parse_query
from engine.casework.simulation import SIMULATOR
from engine.core.calendar import STOCKHOLM, SchoolCalendar
from engine.core.models import Case
from report_year import SCHOOLS, Engine, morning, plan_hlt_year, plan_vastbas_year, run_hlt_year, run_vastbas_year

HLT_CASES = 150
VASTBAS_CASES = 12
YEAR = (date(2026, 1, 1), date(2026, 12, 31))


@pytest.fixture(scope="module")
def year(sqlite_template, tmp_path_factory):
    """One database holding the generated year, shared by the tests of this module. SQLite: the engine's
    steps are the same on both databases and this keeps the year fast; the report's queries run on
    PostgreSQL in test_reports.py and the benchmark."""
    path = tmp_path_factory.mktemp("year") / "year.db"
    shutil.copy(sqlite_template, path)
    engine = Engine(f"sqlite:///{path}", datetime(2026, 1, 1, tzinfo=timezone.utc))
    hlt = plan_hlt_year(HLT_CASES)
    run_hlt_year(engine, hlt, datetime(2027, 1, 31, tzinfo=timezone.utc))
    # the ladder's year on a clock of its own: the HLT cases' timers up to 2027 have all fired already
    school = Engine(f"sqlite:///{path}", datetime(2026, 1, 1, tzinfo=timezone.utc))
    ladder = run_ladder_year(school)
    school.close()
    engine.ladder_engine = school
    network = Engine(f"sqlite:///{path}", datetime(2026, 1, 1, tzinfo=timezone.utc))
    vastbas = plan_vastbas_year(VASTBAS_CASES)
    run_vastbas_year(network, vastbas, datetime(2027, 1, 31, tzinfo=timezone.utc))
    network.close()
    engine.vastbas = vastbas
    yield engine, hlt, ladder
    engine.close()


def report(engine, process: str, by: str, start=YEAR[0], end=YEAR[1], threshold: int = 5) -> dict:
    with engine.sessions() as session:
        service = ReportService(session, engine.clock, SchoolCalendar(), threshold)
        result = service.report(SIMULATOR, parse_query(process, start, end, by, end))
        session.commit()
    return result


def rows(result: dict, key: str) -> list[dict]:
    return next(m for m in result["measures"] if m["key"] == key)["rows"]


def expected_shares(cases, outcome_of, period_of) -> dict:
    """(period, school) -> [met, missed] from the generated dates; also (period, 'alla')."""
    counts: dict = defaultdict(lambda: [0, 0])
    for case in cases:
        outcome = outcome_of(case)
        if outcome is None:
            continue
        for key in ((period_of(case), case.school), (period_of(case), "alla")):
            counts[key][0 if outcome else 1] += 1
    return counts


def contact_in_time(case):
    if not case.taken_up:
        return None
    return (case.contact - case.raised).days <= (0 if case.akut else 7)


def sip_in_time(case):
    if not case.taken_up or not case.consent:
        return None
    return case.sip is not None and (case.sip - case.raised).days <= 30


def check_shares(result_rows, expected, threshold=5) -> int:
    """Every shown cell equals the expected one; hidden cells are small or hide a small one. Returns how many
    cells were compared."""
    compared = 0
    for row in result_rows:
        if row["period"] == "hela perioden":
            continue
        met, missed = expected.get((row["period"], row["unit"]), [0, 0])
        for column, value in (("n", met + missed), ("met", met), ("missed", missed)):
            if isinstance(row[column], int):
                assert row[column] == value, (row, column, value)
                compared += 1
            else:  # a small cell, or a complement hidden so that no sum gives a small one back
                assert row[column] == (f"<{threshold}" if value < threshold else "x"), (row, column, value)
        if row["share"] is not None:
            assert row["share"] == round(met / (met + missed), 4), row
            compared += 1
    return compared


def test_contact_within_7_days_per_month_and_school_equals_the_generated_dates(year):
    engine, hlt, _ = year
    expected = expected_shares(hlt, contact_in_time, lambda c: f"{c.raised:%Y-%m}")
    result = report(engine, "hlt", "month,unit")
    assert result["periods"] == [f"2026-{m:02}" for m in range(1, 13)]
    assert {r["unit"] for r in rows(result, "hlt_kontakt_7_dagar")} == set(SCHOOLS) | {"alla"}
    assert check_shares(rows(result, "hlt_kontakt_7_dagar"), expected) > 60
    late = sum(1 for c in hlt if contact_in_time(c) is False)
    acute = sum(1 for c in hlt if c.akut and c.taken_up)
    assert late > 10 and acute > 5, "the year has late and acute contacts"


def test_sip_within_30_days_per_month_and_school_and_per_year_exactly(year):
    engine, hlt, _ = year
    monthly = expected_shares(hlt, sip_in_time, lambda c: f"{c.raised:%Y-%m}")
    assert check_shares(rows(report(engine, "hlt", "month,unit"), "hlt_sip_30_dagar"), monthly) > 60
    yearly = expected_shares(hlt, sip_in_time, lambda c: "2026")
    per_school = rows(report(engine, "hlt", "year,unit"), "hlt_sip_30_dagar")
    assert check_shares(per_school, yearly) == 4 * 4, "per school and year every cell is large enough to show"
    never = [c for c in hlt if c.taken_up and c.consent and c.sip is None]
    assert never, "some SIPs are never drawn up: they count as missed once the 30 days have passed"


def test_days_to_sip_median_and_p90_per_school(year):
    engine, hlt, _ = year
    result = rows(report(engine, "hlt", "year,unit"), "hlt_dagar_till_sip")
    for row in result:
        cases = [c for c in hlt if c.sip is not None and row["unit"] in (c.school, "alla")]
        days = sorted((c.sip - c.raised).days for c in cases)
        assert row["n"] == len(days)
        assert row["median"] == statistics.median(days)
        assert row["p90"] == days[math.ceil(0.9 * len(days)) - 1]


def test_consent_declined_and_withdrawn_and_children_not_taken_up(year):
    engine, hlt, _ = year
    result = report(engine, "hlt", "all")
    consent = {r["split"]: r["count"] for r in rows(result, "hlt_samtycke")}
    assert consent["nekat"] == sum(1 for c in hlt if c.taken_up and not c.consent)
    assert consent["aterkallat"] == sum(1 for c in hlt if c.withdrawn)
    assert consent["lamnat"] == sum(1 for c in hlt if c.taken_up and c.consent)
    referred = {r["split"]: r["count"] for r in rows(result, "hlt_ej_upptagna")}
    by_place = defaultdict(int)
    for c in hlt:
        if not c.taken_up:
            by_place[c.referral.casefold()] += 1
    for place, count in by_place.items():
        if count >= 5:
            assert referred[place] == count
    assert sum(v if isinstance(v, int) else 0 for v in referred.values()) <= sum(by_place.values())
    assert not any(label in referred for label, count in by_place.items() if count < 5), \
        "a referral named fewer times than the threshold is never shown by name"
    opened = rows(result, "oppnade")[0]["count"]
    assert opened == HLT_CASES


# --- the absence ladder: pupils per rung on given dates ---

LADDER_PUPILS = 24


def run_ladder_year(engine: Engine) -> list[list[tuple[date, int, str]]]:
    """24 pupils at three schools, weekly reports over the spring term with rising or falling absence.
    For each pupil, what the case said after each report: (day, rung, status)."""
    pupils, informed = [], []
    engine.informed = informed
    weeks = [date(2026, 1, 12) + timedelta(weeks=w) for w in range(14)]
    case_ids = [engine.start("skolfranvaro", {"skola": SCHOOLS[n % 3], "elev": f"elev-{n}"}) for n in range(LADDER_PUPILS)]
    for n, case_id in enumerate(case_ids):
        pupils.append([(date(2026, 1, 1), 0, "open")])
    for index, monday in enumerate(weeks):
        engine.at(morning(monday, 7))
        for n, case_id in enumerate(case_ids):
            if pupils[n][-1][2] != "open":
                continue
            profile = n % 4  # 0: rises steadily, 1: rises then recovers, 2: stays low, 3: unexcused now and then
            percent = {0: 6 + 2 * index, 1: 18 if index < 6 else 2, 2: 3, 3: 8}[profile]
            unexcused = profile == 3 and index % 3 == 0
            period = {"period_start": (monday - timedelta(days=7)).isoformat(),
                      "period_slut": (monday - timedelta(days=1)).isoformat(),
                      "franvaro_procent": percent, "ogiltig_franvaro": unexcused,
                      **({"ogiltig_dag": (monday - timedelta(days=3)).isoformat()} if unexcused else {})}
            if "mentorsuppfoljning" in engine.open_elements(case_id):  # the mentor follows up within the week
                engine.complete(case_id, "mentorsuppfoljning", {"mentorssamtal": {
                    "datum": monday.isoformat(), "med_elev": True, "med_vardnadshavare": True, "atgarder": "Plan"}})
            after = engine.message(case_id, "franvarorapport", period)
            pupils[n].append((monday, after["data"]["steg"], after["status"]))
            if unexcused and "informera_vardnadshavare" in engine.open_elements(case_id):
                told = date.fromisoformat(period["ogiltig_dag"]) + timedelta(days=0 if n % 8 == 3 else 2)
                engine.complete(case_id, "informera_vardnadshavare", {"vardnadshavare_informerad": {
                    "datum": told.isoformat(), "hur": "telefon"}})
                informed.append((SCHOOLS[n % 3], told == date.fromisoformat(period["ogiltig_dag"])))
    engine.at(datetime(2026, 5, 1, tzinfo=timezone.utc))
    return pupils


def test_pupils_per_rung_on_each_month_end_equal_what_the_cases_said(year):
    engine, _, pupils = year
    result = report(engine, "skolfranvaro", "month,unit", date(2026, 1, 1), date(2026, 4, 30))
    found = rows(result, "lf_elever_per_steg")
    expected: dict = defaultdict(int)
    month_ends = {"2026-01": date(2026, 1, 31), "2026-02": date(2026, 2, 28), "2026-03": date(2026, 3, 31),
                  "2026-04": date(2026, 4, 30)}
    for n, history in enumerate(pupils):
        for month, end in month_ends.items():
            day, rung, status = [h for h in history if h[0] <= end][-1]
            if status == "open":
                for unit in (SCHOOLS[n % 3], "alla"):
                    expected[(month, unit, f"steg {rung}")] += 1
    compared = 0
    for row in found:
        value = expected.get((row["period"], row["unit"], row["split"]), 0)
        if isinstance(row["count"], int):
            assert row["count"] == value, row
            compared += 1
        else:
            assert row["count"] == ("<5" if value < 5 else "x"), (row, value)
    rungs = {r for h in pupils for _, r, _ in h}
    assert len(rungs) >= 3 and compared >= 8, (rungs, compared)
    closed = sum(1 for h in pupils if h[-1][2] != "open")
    assert closed >= 1, "some pupils' attendance recovered and their cases closed"


def test_vastbas_evaluations_on_time_per_month_and_school_equal_the_generated_dates(year):
    engine, _, _ = year
    cases = engine.vastbas
    expected = expected_shares(cases, lambda c: c.evaluated <= c.due, lambda c: "2026")
    # twelve cases: every cell would be small, so the threshold is 1 (nothing hidden) to compare them all
    result = rows(report(engine, "vastbas", "year,unit", date(2026, 1, 1), date(2026, 12, 31), threshold=1),
                  "vb_utvardering_i_tid")
    assert check_shares(result, expected, threshold=1) == 16
    late = sum(1 for c in cases if c.evaluated > c.due)
    assert 0 < late < len(cases), "some evaluations are late, some on time"
    steps = rows(report(engine, "vastbas", "all", threshold=1), "vb_dagar_per_steg")
    assert {r["split"] for r in steps} >= {"utvardering", "nytt_arende"}
    evaluation = next(r for r in steps if r["split"] == "utvardering")
    assert evaluation["median"] == statistics.median((c.evaluated - c.plan).days for c in cases)


def test_guardians_told_the_same_day_per_school_equal_what_was_recorded(year):
    engine, _, _ = year
    informed = engine.ladder_engine.informed
    expected = expected_shares([type("Told", (), {"school": s, "same": same})() for s, same in informed],
                               lambda t: t.same, lambda t: "2026-01-01–2026-04-30")
    result = rows(report(engine, "skolfranvaro", "all,unit", date(2026, 1, 1), date(2026, 4, 30), threshold=1),
                  "lf_informerad_samma_dag")
    assert check_shares(result, expected, threshold=1) == 16
    assert 0 < sum(1 for _, same in informed if not same) < len(informed)
    mentor = rows(report(engine, "skolfranvaro", "all", date(2026, 1, 1), date(2026, 4, 30), threshold=1),
                  "lf_dagar_till_mentor")[0]
    assert mentor["n"] >= 6 and mentor["median"] is not None


def test_open_cases_at_each_month_end_are_those_raised_and_not_yet_closed(year):
    """The SDQ measure's base: cases open at the month's end (this year's cases take no SDQ, so none has one)."""
    engine, hlt, _ = year
    month_ends = [date(2026, m + 1, 1) - timedelta(days=1) for m in range(1, 12)] + [date(2026, 12, 31)]

    # when each case closed, from the case rows (not from the facts): one not taken up closes at once, one
    # declined closes unless a reminder of a late contact still waits, ...
    with engine.sessions() as session:
        closed = {case_id: at for case_id, at in session.execute(select(Case.id, Case.closed_at))}

    def closed_on(case):
        at = closed.get(case.id)
        return None if at is None else at.replace(tzinfo=at.tzinfo or timezone.utc).astimezone(STOCKHOLM).date()

    compared = 0
    for row in rows(report(engine, "hlt", "month,unit"), "hlt_sdq_6_manader"):
        end = next(e for e in month_ends if f"{e:%Y-%m}" == row["period"])
        expected = sum(1 for c in hlt if row["unit"] in (c.school, "alla") and c.raised <= end
                       and (closed_on(c) is None or closed_on(c) > end))
        if isinstance(row["n"], int):
            assert row["n"] == expected and row["met"] == 0, (row, expected)
            compared += 1
    assert compared >= 40
