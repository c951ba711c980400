"""A training deployment: a process owner moves the clock forward to try deadlines; never in production."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from conftest import ROOT, Server
from factories import do, open_elements, start_case
from forms_data import person

from engine.core.clock import TrainingClock


def test_a_process_owner_advances_the_training_clock_and_deadlines_fall_due(db_url, tmp_path):
    with Server(db_url, tmp_path / "var", forms_dir=ROOT / "forms",
                training_clock=True, environment="training") as server:
        with server.client("agda", "processagare") as owner, server.client("hugo", "hlt_motet") as motet, \
                server.client("mats", "mentor") as mentor:
            files = [("files", (p.name, p.read_bytes(), "application/xml"))
                     for p in sorted((ROOT / "processes").iterdir()) if p.suffix in (".bpmn", ".dmn")]
            assert owner.post("/process-definitions", files=files).status_code == 201
            assert mentor.get("/training/clock").status_code == 403
            before = owner.get("/training/clock").json()["now"]
            case = start_case(motet, "hlt")
            do(motet, case["id"], "aktualisering", {"aktualiserad_av": person("lisa"), "akut": False,
                                                    "behov": "Oro", "tas_upp": True})
            for bad in ("P0D", "-P1D", "P2Y", "en vecka", "P99999999Y"):  # the last: past any horizon, at once
                refused = owner.post("/training/clock/advance", json={"by": bad})
                assert refused.status_code == 422 and refused.json()["errors"][0]["location"] == "/by", bad
            moved = owner.post("/training/clock/advance", json={"by": "P8D"})
            assert moved.status_code == 200 and moved.json()["now"] > before
            server.fire_timers()
            assert "paminn_kontakt" in open_elements(motet, case["id"])  # the 7-day contact deadline fell due


def test_without_the_setting_there_is_no_training_clock(product):
    with product.client("agda", "processagare") as owner:
        assert owner.get("/training/clock").status_code == 404
        assert owner.post("/training/clock/advance", json={"by": "P1D"}).status_code == 404


def test_a_training_clock_is_refused_in_production(tmp_path):
    from api.app import create_app
    from engine.core.settings import Settings
    with pytest.raises(ValueError, match="production"):
        create_app(Settings(database_url=f"sqlite:///{tmp_path / 'p.db'}", var_dir=tmp_path, training_clock=True,
                            environment="production"))


def test_the_training_clock_runs_with_system_time_and_only_moves_forward():
    clock = TrainingClock()
    assert abs(clock.now() - datetime.now(timezone.utc)) < timedelta(minutes=1), "no offset until someone moves it"
    moved = clock.advance(timedelta(days=8))
    assert moved - datetime.now(timezone.utc) > timedelta(days=7, hours=23)
    assert clock.advance(timedelta(days=1)) - moved >= timedelta(days=1), "offsets add up"
