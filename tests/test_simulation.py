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
    assert "case completed after 400 days (virtual)" in lines
