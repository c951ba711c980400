"""Aggregate figures for process owners: counts by status and overdue work, never a case."""
from __future__ import annotations

from datetime import timedelta

from factories import do, start_case
from forms_data import person
from test_hlt import HLT_MOTET


def test_owners_see_counts_and_overdue_steps_but_no_case(product):
    with product.client("hugo", *HLT_MOTET) as motet, product.client("agda", "processagare") as owner:
        ids = [start_case(motet, "hlt")["id"] for n in range(3)]
        do(motet, ids[0], "aktualisering", {"aktualiserad_av": person("lisa"), "akut": False, "behov": "Oro",
                                            "tas_upp": False, "hanvisning": "BUP"})
        do(motet, ids[1], "aktualisering", {"aktualiserad_av": person("lisa"), "akut": False, "behov": "Oro",
                                            "tas_upp": True})
        product.clock.advance(timedelta(days=8))
        figures = owner.get("/process-definitions/hlt/figures").json()
        assert figures["cases"] == {"open": 2, "completed": 1, "cancelled": 0}
        steps = {s["element_id"]: (s["open"], s["overdue"]) for s in figures["open_tasks"]}
        # a case taken up has two open tasks: the first contact with the family and the consent
        assert steps["aktualisering"][0] == 1 and sum(o for o, _ in steps.values()) == 3
        assert steps["kontakta_familjen"] == (1, 1)
        assert sum(late for _, late in steps.values()) >= 1, "the 7-day contact deadline has passed"
        assert not any(case_id in owner.get("/process-definitions/hlt/figures").text for case_id in ids)
        assert owner.get("/process-definitions/finns_inte/figures").status_code == 404
        assert motet.get("/process-definitions/hlt/figures").status_code == 403
