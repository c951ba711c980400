"""Gallring: closed cases' personal data are culled after the retention period; the access log stays."""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from factories import database_bytes, do, start_case
from forms_data import person, samtycke
from test_hlt import HLT_MOTET
from test_personnummer import PNR

from engine.access.personnummer import spellings

REGISTRAR = ("registrator",)


def _stored_child(product) -> tuple[str, str]:
    """The keyed hash and the ciphertext the database holds for the one child registered."""
    with product.app.state.db.connect() as connection:
        [(pnr_hash, cipher)] = connection.execute(sa.text("SELECT pnr_hash, pnr_cipher FROM child")).all()
    return pnr_hash, cipher


def test_a_closed_case_is_culled_after_the_period_and_the_culling_is_logged(product, db_url):
    with product.client("hugo", *HLT_MOTET) as motet, product.client("rita", *REGISTRAR) as registrar, \
            product.client("nils", "integrator") as nils:
        closed = motet.post("/cases", json={"process_key": "hlt", "barn_personnummer": PNR}).json()["id"]
        do(motet, closed, "aktualisering", {"aktualiserad_av": person("lisa"), "akut": False, "behov": "Oro",
                                            "tas_upp": False, "hanvisning": "BUP"})
        assert motet.get(f"/cases/{closed}").json()["status"] == "completed"
        sealed = _stored_child(product)  # the number is at rest only as these two: they must go
        assert all(value.encode() in database_bytes(db_url) for value in sealed), "the dump check can see them"
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
    assert not any(value.encode() in dump for value in sealed), "the child's sealed number and its hash are gone"


def test_a_child_is_kept_while_another_open_case_refers_to_it(product):
    with product.client("hugo", *HLT_MOTET) as motet, product.client("mats", "mentor") as mentor:
        closed = motet.post("/cases", json={"process_key": "hlt", "barn_personnummer": PNR}).json()["id"]
        do(motet, closed, "aktualisering", {"aktualiserad_av": person("lisa"), "akut": False, "behov": "Oro",
                                            "tas_upp": False, "hanvisning": "BUP"})
        ladder = mentor.post("/cases", json={"process_key": "skolfranvaro", "barn_personnummer": PNR,
                                             "data": {"skola": "Skolan i Höör", "elev": "e-7"}})
        assert ladder.status_code == 201, ladder.text
        sealed = _stored_child(product)
        product.clock.advance(timedelta(days=product.settings.retention_days))
        assert product.cull() == 1
        assert motet.get(f"/cases/{closed}").json()["barn_personnummer"] is None, "the culled case lost its link"
        still = mentor.get(f"/cases/{ladder.json()['id']}").json()
        assert still["status"] == "open" and still["barn_personnummer"] == PNR, "the open case still knows the child"
        assert _stored_child(product) == sealed, "one child, kept as it was"
