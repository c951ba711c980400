"""A year per process, several cases each (late and on time): every deadline of ../shared/domain.md
shows in the timeline with the event it counts from.

The simulations run in-process on the real models (processes/, forms/), each case on its own
sandbox; the timeline is what `samverka simulate` prints (README, "Deadlines on a virtual clock").
"""
from __future__ import annotations

import pytest

from conftest import FIXTURES, ROOT
from engine.casework.simulation import load_script, simulate


def year(script: str) -> dict[str, list[str]]:
    """Each case's rendered deadlines: a deadline line, then the lines of what it counts from, per case label."""
    rendered = simulate(load_script((FIXTURES / "simulation" / script).read_text()), ROOT / "processes",
                        ROOT / "forms").render()
    cases, label = {}, None
    for line in rendered.splitlines():
        if line.startswith("=== "):
            label = line[4:].split(":")[0]
            cases[label] = []
        elif line.startswith("case ") or line.startswith("  ") or line.startswith("             from "):
            cases[label].append(line)
    return cases


def counted(lines: list[str], deadline: str) -> list[str]:
    """What the deadline line `deadline` counts from (the lines after it)."""
    assert deadline in lines, f"{deadline!r} not among {lines}"
    after = lines[lines.index(deadline) + 1:]
    starts = []
    for line in after:
        if not line.startswith("             from "):
            break
        starts.append(line.removeprefix("             from "))
    return starts


@pytest.fixture(scope="module")
def hlt():
    return year("hlt_ar.yaml")


def test_hlt_contact_within_7_days_acute_the_same_day_from_the_aktualisering(hlt):
    assert counted(hlt["Elsa"], "  met      Första kontakt med familjen: due 2026-01-19 23:59, done 2026-01-14") == [
        "aktualiserad_datum 2026-01-12, set by Aktualiserad i dag (om inget annat anges) 2026-01-12"]
    assert counted(hlt["Omar"], "  met      Första kontakt med familjen: due 2026-02-02 23:59, done 2026-02-02") == [
        "aktualiserad_datum 2026-02-02, set by Aktualiserad i dag (om inget annat anges) 2026-02-02"]  # akut
    # raised a week before the meeting (aktualiserad_datum): 7 days from then, missed
    assert counted(hlt["Nils"], "  missed   Första kontakt med familjen: due 2026-03-16 23:59, done 2026-03-18") == [
        "aktualiserad_datum 2026-03-09, set by Aktualisering 2026-03-16"]


def test_hlt_sip_within_30_days_from_the_aktualisering_late_and_on_time(hlt):
    start = ["aktualiserad_datum 2026-01-12, set by Aktualiserad i dag (om inget annat anges) 2026-01-12"]
    assert counted(hlt["Elsa"], "  missed   Upprätta SIP: due 2026-02-11 23:59, done 2026-02-16") == start
    assert counted(hlt["Elsa"], "  missed   Fram till SIP (inom 30 dagar): due 2026-02-11 23:59, done 2026-02-16") == start
    assert counted(hlt["Omar"], "  met      Upprätta SIP: due 2026-03-04 23:59, done 2026-02-18") == [
        "aktualiserad_datum 2026-02-02, set by Aktualiserad i dag (om inget annat anges) 2026-02-02"]
    assert "  cancelled Upprätta SIP: due 2026-04-08 23:59, not done" in hlt["Nils"]


def test_hlt_sdq_six_months_from_the_last_sdq_and_follow_ups_on_the_plans_dates(hlt):
    assert counted(hlt["Elsa"], "  met      Uppföljning (SDQ, SIP-avstämning): due 2026-08-01 23:59, done 2026-07-16") == [
        "sdq.datum 2026-02-17, set by Bedömning (SDQ) 2026-02-16",
        "nasta_uppfoljning 2026-08-01, set by Planens uppföljningsdatum blir frist 2026-02-16"]
    assert counted(hlt["Elsa"], "  missed   Uppföljning (SDQ, SIP-avstämning): due 2027-01-15 23:59, done 2027-02-16") == [
        "sdq.datum 2026-07-17, set by Uppföljning (SDQ, SIP-avstämning) 2026-07-16",
        "nasta_uppfoljning 2027-01-15, set by Uppföljning (SDQ, SIP-avstämning) 2026-07-16"]
    assert counted(hlt["Omar"], "  met      Uppföljning (SDQ, SIP-avstämning): due 2026-06-01 23:59, done 2026-05-18")[1] \
        == "nasta_uppfoljning 2026-06-01, set by Planens uppföljningsdatum blir frist 2026-02-18"


def test_hlt_each_end_records_its_outcome(hlt):
    assert "case completed (avslutat) after 400 days (virtual)" in hlt["Elsa"]
    assert "case completed (avslutat) after 105 days (virtual)" in hlt["Omar"]
    assert "case completed (myndighetsutövning) after 7 days (virtual)" in hlt["Nils"]


def test_vastbas_meetings_from_the_appointment_review_and_evaluation_from_the_plan():
    cases = year("vastbas_ar.yaml")
    appointed = "koordinatorer_utsedda_datum 2026-01-14, set by Koordinatorerna utsedda: mötesmålen räknas härifrån 2026-01-14"
    assert counted(cases["Elsa"], "  missed   5. Nätverksmöte 1: behovsanalys: due 2026-02-04 23:59, done 2026-02-09") == [
        appointed, "natverksmote_1.datum 2026-02-10, set by 4. Förmöte 2026-01-24"]
    assert counted(cases["Elsa"], "  met      6. Nätverksmöte 2: handlingsplan: due 2026-02-24 23:59, done 2026-02-23") == [
        appointed, "natverksmote_2.datum 2026-02-24, set by 5. Nätverksmöte 1: behovsanalys 2026-02-09"]
    plan = "Handlingsplanen fastställd: dess datum blir frister 2026-02-23"
    assert counted(cases["Elsa"], "  missed   8. Ta upp ärendet i elevhälsoteamet: due 2026-04-23 23:59, done 2026-05-23") == [
        f"plan_datum 2026-02-23, set by {plan}"]
    assert counted(cases["Elsa"], "  met      10. Ny utvärdering: due 2026-08-23 23:59, done 2026-08-23") == [
        f"utvardering_datum 2026-08-23, set by {plan}"]
    assert counted(cases["Elsa"], "  missed   10. Ny utvärdering: due 2027-02-23 23:59, done 2027-03-23") == [
        "utvardering_datum 2027-02-23, set by 10. Fortsatta insatser: nästa utvärdering om sex månader 2026-08-23"]
    theo = [line for line in cases["Theo"] if line.startswith("  ") and not line.lstrip().startswith("from ")]
    assert theo and all(line.startswith("  met") for line in theo), "Theo: every deadline met"
    assert counted(cases["Theo"], "  met      8. Ta upp ärendet i elevhälsoteamet: due 2026-06-06 23:59, done 2026-05-04") == [
        "plan_datum 2026-04-06, set by Handlingsplanen fastställd: dess datum blir frister 2026-04-06"]


def test_the_ladder_same_day_contact_from_the_absence_day_rung_tasks_from_the_report():
    cases = year("skolfranvaro_ar.yaml")
    assert counted(cases["Elsa"], "  met      Steg 2: mentorn följer upp med elev och vårdnadshavare: "
                                  "due 2026-05-13 23:59, done 2026-05-08") == ["the step that opened it: franvarorapport 2026-05-06"]
    assert counted(cases["Elsa"], "  missed   Steg 1: informera vårdnadshavare samma dag: due 2026-08-24 23:59, "
                                  "done 2026-09-04")[0].startswith("ogiltig_dag 2026-08-24")
    ali = [line for line in cases["Ali"] if line.startswith("  ") and not line.lstrip().startswith("from ")]
    assert len(ali) == 4 and all(line.startswith("  met") for line in ali), "Ali: told the same day each time"
    assert "case completed after 77 days (virtual)" in cases["Ali"], "closed after three good school weeks"


@pytest.mark.parametrize("expression, start", [
    ("end_of_day(add_days(aktualiserad_datum, 0 if akut else 7))", ("aktualiserad_datum", None)),
    ('end_of_day(add_months(sdq["datum"], 6))', ("sdq", "datum")),
    ("end_of_day(add_school_days(today(), frist_upp_skoldagar))", ("today()", None)),
    ("end_of_day(nasta_uppfoljning)", ("nasta_uppfoljning", None)),
    ("max(a, b)", None), ("sdq[0]", None), ("'2026-01-01'", None), ("end_of_day(", None),
])
def test_what_a_deadline_counts_from_is_read_from_its_expression(expression, start):
    from engine.bpmn.deadline_starts import start_of
    assert start_of(expression) == start
