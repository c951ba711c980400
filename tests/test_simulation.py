"""`samverka simulate`: a process owner walks a case through months of deadlines in seconds, on a sandbox."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import FIXTURES

ROOT = Path(__file__).resolve().parent.parent
SIMULATION = FIXTURES / "simulation"


def simulate(tmp_path: Path, script: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "SAMVERKA_VAR_DIR": str(tmp_path / "var"),
           "SAMVERKA_DATABASE_URL": f"sqlite:///{tmp_path / 'real.db'}"}
    return subprocess.run([sys.executable, "-m", "api.cli", "simulate", "--script", str(script), "--processes",
                           str(SIMULATION), "--forms", str(FIXTURES / "forms")], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_hlt_case_with_a_missed_sip_and_two_follow_ups(tmp_path):
    result = simulate(tmp_path, SIMULATION / "hlt_missad_sip.yaml")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "2026-02-13 09:00  timer_fired      SIP inte upprättad inom 30 dagar  (due 2026-02-13)" in lines
    assert "2026-02-13 09:00  deadline_missed  Upprätta SIP" in lines
    assert [line[:16] for line in lines if "timer_fired      Sex månader" in line] == [
        "2026-08-18 10:00", "2027-02-18 09:00"]  # Swedish time: summer time in August
    assert "case completed after 402 days (virtual)" in lines
    assert "  met      Kontakta familjen: due 2026-01-19 09:00, done 2026-01-14" in lines
    assert "  missed   Upprätta SIP: due 2026-02-13 09:00, done 2026-02-18" in lines
    assert not (tmp_path / "real.db").exists()  # the configured database is never touched


def test_a_script_step_that_cannot_run_names_the_step(tmp_path):
    script = tmp_path / "fel.yaml"
    script.write_text("process: hlt_frister\nstart: 2026-01-12T08:00:00+00:00\nsteps:\n"
                      "  - complete: kontakta_familjen\n  - complete: uppfoljning\n")
    result = simulate(tmp_path, script)
    assert result.returncode == 1
    assert "/steps/1: no open task uppfoljning" in result.stderr


def test_a_malformed_script_is_refused_with_the_field(tmp_path):
    script = tmp_path / "fel.yaml"
    script.write_text("process: hlt_frister\nsteps:\n  - complete: kontakta_familjen\n    efter: P2D\n")
    result = simulate(tmp_path, script)
    assert result.returncode == 1
    assert "/steps/0/efter" in result.stderr and "Extra inputs are not permitted" in result.stderr


def test_the_real_hlt_model_counts_each_deadline_from_its_own_event(tmp_path):
    env = {**os.environ, "SAMVERKA_VAR_DIR": str(tmp_path / "var")}
    result = subprocess.run([sys.executable, "-m", "api.cli", "simulate", "--script",
                             str(SIMULATION / "hlt_processen.yaml"), "--processes", str(ROOT / "processes"),
                             "--forms", str(ROOT / "forms")], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    # contact: 7 days from aktualisering (12 Jan), met by the real contact on the 14th
    assert "  met      Första kontakt med familjen: due 2026-01-19 23:59, done 2026-01-14" in lines
    # SIP: 30 days from aktualisering, shown on the SIP task itself and kept after the escalation
    assert "2026-02-11 23:59  deadline_missed  Fram till SIP (inom 30 dagar)" in lines
    assert "  missed   Upprätta SIP: due 2026-02-11 23:59, done 2026-02-16" in lines
    # the follow-up is due on the plan's own date (sip.uppfoljning_datum, then the next follow-up's date)
    assert "  met      Uppföljning (SDQ, SIP-avstämning): due 2026-08-01 23:59, done 2026-07-16" in lines
    assert "2027-01-15 23:59  deadline_missed  Uppföljning (SDQ, SIP-avstämning)" in lines
    # SDQ: six months after the last SDQ (17 Feb, then 17 Jul), whatever step the case is in
    assert "  met      Insats (ORS/SRS): due 2026-08-17 23:59, done 2026-02-16" in lines
    assert "2027-01-17 23:59  timer_fired      SDQ äldre än 6 månader  (due 2027-01-17)" in lines
    assert "case completed (avslutat) after 400 days (virtual)" in lines


def _real(tmp_path: Path, script: str, *extra: str) -> list[str]:
    env = {**os.environ, "SAMVERKA_VAR_DIR": str(tmp_path / "var"),
           "SAMVERKA_DATABASE_URL": f"sqlite:///{tmp_path / 'real.db'}"}
    result = subprocess.run([sys.executable, "-m", "api.cli", "simulate", "--script", str(SIMULATION / script),
                             *extra], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def test_a_year_of_vastbas_counts_each_deadline_from_its_own_event(tmp_path):
    lines = _real(tmp_path, "vastbas_ar.yaml", "--processes", str(ROOT / "processes"), "--forms", str(ROOT / "forms"))
    # network meeting 1: 21 days from the koordinatorer's appointment (14 Jan), missed
    assert "  missed   5. Nätverksmöte 1: behovsanalys: due 2026-02-04 23:59, done 2026-02-09" in lines
    # network meeting 2: its own target (42 days: 25 Feb) or the day booked at NM1 (24 Feb), whichever is first
    assert "  met      6. Nätverksmöte 2: handlingsplan: due 2026-02-24 23:59, done 2026-02-23" in lines
    # the plan's follow-up date, and the EHT review two months after the plan (23 Feb)
    assert "  met      8. Uppföljning av handlingsplanen: due 2026-04-15 23:59, done 2026-03-23" in lines
    assert "  missed   8. Ta upp ärendet i elevhälsoteamet: due 2026-04-23 23:59, done 2026-05-23" in lines
    # the evaluation six months after the plan, then six months after that evaluation
    assert "  met      10. Ny utvärdering: due 2026-08-23 23:59, done 2026-08-23" in lines
    assert "  missed   10. Ny utvärdering: due 2027-02-23 23:59, done 2027-03-23" in lines


def test_a_school_year_of_the_ladder_follows_the_table_and_the_school_calendar(tmp_path):
    lines = _real(tmp_path, "skolfranvaro_ar.yaml", "--processes", str(ROOT / "processes"), "--forms", str(ROOT / "forms"))
    # same-day contact: the absence day the report names
    assert "  met      Steg 1: informera vårdnadshavare samma dag: due 2026-05-06 23:59, done 2026-05-06" in lines
    # rung tasks in school days (Kristi himmelsfärd 14 May is closed); rektor's across the summer holiday
    assert "  met      Steg 2: mentorn följer upp med elev och vårdnadshavare: due 2026-05-13 23:59, done 2026-05-08" in lines
    assert "  missed   Steg 3: EHT kartlägger orsakerna: due 2026-05-28 23:59, done 2026-05-30" in lines
    assert "  missed   Steg 4: rektors utredning, huvudmannen informeras: due 2026-08-24 23:59, done 2026-08-25" in lines
    # a report that names a day already past: the same-day contact is overdue from the start, and recorded so
    assert "  missed   Steg 1: informera vårdnadshavare samma dag: due 2026-08-24 23:59, done 2026-09-04" in lines
    # the no-report check counts school days: nothing fires in the summer
    fired = [line[:10] for line in lines if "timer_fired      Ingen rapport" in line]
    assert fired[:2] == ["2026-06-03", "2026-08-31"]
    assert any("message_received franvarorapport" in line for line in lines)  # message steps
    assert any("task_created     Steget sänkt" in line for line in lines)


def test_by_default_the_deployed_models_run(tmp_path):
    db = f"sqlite:///{tmp_path / 'real.db'}"
    env = {**os.environ, "SAMVERKA_VAR_DIR": str(tmp_path / "var"), "SAMVERKA_DATABASE_URL": db}
    run = lambda *args: subprocess.run([sys.executable, "-m", "api.cli", *args], cwd=ROOT, env=env,  # noqa: E731
                                       capture_output=True, text=True, timeout=120)
    nothing = run("simulate", "--script", str(SIMULATION / "hlt_processen.yaml"))
    assert nothing.returncode == 1 and "nothing is deployed" in nothing.stderr
    assert not (tmp_path / "real.db").exists()
    assert run("migrate").returncode == 0 and run("deploy", str(ROOT / "processes")).returncode == 0
    before = (tmp_path / "real.db").read_bytes()
    result = run("simulate", "--script", str(SIMULATION / "hlt_processen.yaml"))
    assert result.returncode == 0, result.stderr
    assert "  met      Första kontakt med familjen: due 2026-01-19 23:59, done 2026-01-14" in result.stdout
    assert (tmp_path / "real.db").read_bytes() == before
