"""Gallring: closed cases' personal data are culled after the retention period; the access log stays."""
from __future__ import annotations

from datetime import timedelta

from factories import database_bytes, do, start_case
from forms_data import person, samtycke
from test_hlt import HLT_MOTET
from test_personnummer import PNR

from engine.access.personnummer import spellings

REGISTRAR = ("registrator",)


def test_a_closed_case_is_culled_after_the_period_and_the_culling_is_logged(product, db_url):
    with product.client("hugo", *HLT_MOTET) as motet, product.client("rita", *REGISTRAR) as registrar, \
            product.client("nils", "integrator") as nils:
        closed = motet.post("/cases", json={"process_key": "hlt", "barn_personnummer": PNR}).json()["id"]
        do(motet, closed, "aktualisering", {"aktualiserad_av": person("lisa"), "akut": False, "behov": "Oro",
                                            "tas_upp": False, "hanvisning": "BUP"})
        assert motet.get(f"/cases/{closed}").json()["status"] == "completed"
        still_open = start_case(motet, "hlt")["id"]
        do(motet, still_open, "aktualisering", {"aktualiserad_av": person("lisa"), "akut": False, "behov": "Oro",
                                                "tas_upp": True})
        do(motet, still_open, "samtycke", samtycke())
        log_before = registrar.get(f"/cases/{closed}/access-log").json()["items"]

        product.clock.advance(timedelta(days=product.settings.retention_days - 1))
        assert product.cull() == 0, "not before the period is over"
        product.clock.advance(timedelta(days=1))
        assert product.cull() == 1 and product.cull() == 0, "once"

        culled = motet.get(f"/cases/{closed}").json()
        assert culled["status"] == "completed" and culled["data"] == {} and culled["barn_personnummer"] is None
        history = motet.get(f"/cases/{closed}/history").json()["items"]
        assert all(h["data_changes"] is None for h in history) and history[-1]["event"] == "case_culled"
        assert motet.get(f"/cases/{still_open}").json()["data"]["behov"] == "Oro", "open cases are kept"
        log_after = registrar.get(f"/cases/{closed}/access-log").json()["items"]
        assert log_after[:len(log_before)] == log_before, "the access log is kept as it was"
        assert [(r["action"], r["user"]) for r in log_after if r["action"] == "cull"] == [("cull", "samverka-gallring")]
        events = nils.get("/events", params={"types": "se.samverka.case.culled"}).json()["items"]
        assert [e["subject"] for e in events] == [closed]
    dump = database_bytes(db_url)  # the SQLite files (free pages included) or a pg_dump
    assert b"BUP" not in dump, "the culled case's data are gone from the database"
    assert not any(s.encode() in dump for s in spellings(PNR))
