"""The HLT migration scenario: cases at every step (inside the SIP subprocess, waiting on its deadline, in the
follow-up loop) move to a revised HLT (a step added, a step renamed and mapped, the SIP deadline 21 days); the
dry run names the cases that cannot move and why; the moved ones run to closure on the new version and the
others, untouched, on the old one."""
from __future__ import annotations

import re
from datetime import timedelta


from factories import deploy_files, do, events, open_elements, sign_in, start_case
from forms_data import eskalering, person, samtycke, sdq, sip, skattning

HLT = (__import__("pathlib").Path(__file__).resolve().parent.parent / "processes" / "hlt.bpmn").read_text()
PER_STEP = 2  # cases parked at each step; the scenario's cost grows with it
ADDED = """    <bpmn:userTask id="godkann_plan" name="Godkänn planen">
      <bpmn:incoming>f_planerad</bpmn:incoming>
      <bpmn:outgoing>f_godkand</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="f_godkand" sourceRef="godkann_plan" targetRef="ny_period"/>
"""


def revised(text: str) -> str:
    """HLT v2: Godkänn planen after Planering, Bedömning renamed (mapped), SIP deadline 21 days, and the SIP
    escalation replaced by a new task nobody mapped (cases at it cannot move)."""
    text = re.sub(r"\bbedomning\b", "bedomning_sdq", text)
    text = re.sub(r"\beskalera_sip\b", "eskalera_sip_chef", text)
    text = text.replace("add_days(aktualiserad_datum, 30)", "add_days(aktualiserad_datum, 21)")
    text = text.replace('<bpmn:sequenceFlow id="f_planerad" sourceRef="planering" targetRef="ny_period"/>',
                        '<bpmn:sequenceFlow id="f_planerad" sourceRef="planering" targetRef="godkann_plan"/>')
    text = text.replace("<bpmn:incoming>f_planerad</bpmn:incoming>\n      <bpmn:incoming>f_fortsatt",
                        "<bpmn:incoming>f_godkand</bpmn:incoming>\n      <bpmn:incoming>f_fortsatt")
    text = text.replace('    <bpmn:exclusiveGateway id="ny_period"', ADDED + '    <bpmn:exclusiveGateway id="ny_period"')
    text = text.replace("<bpmn:flowNodeRef>upprata_sip</bpmn:flowNodeRef>",
                        "<bpmn:flowNodeRef>upprata_sip</bpmn:flowNodeRef>\n        "
                        "<bpmn:flowNodeRef>godkann_plan</bpmn:flowNodeRef>")
    assert text.count("godkann_plan") >= 4 and "add_days(aktualiserad_datum, 21)" in text
    assert "add_days(aktualiserad_datum, 30)" not in text
    return text


STEPS = {  # element -> (who, data) for driving a case on
    "aktualisering": ("motet", {"aktualiserad_av": person("lisa", "skola", "larare"), "akut": False,
                                "behov": "Hög frånvaro, oro", "tas_upp": True}),
    "kontakta_familjen": ("motet", {"kontakt": {"datum": "2026-01-14", "av": person("lisa", "skola", "larare"),
                                                "hur": "telefon"}}),
    "samtycke": ("motet", samtycke()),
    "sammankallande": ("motet", {"traffar_familjen": [person("sam")], "samordnare": person("sam")}),
    "upprata_sip": ("sam", sip()),
    "bedomning": ("sam", {"sdq": sdq(), "svarigheter_och_behov": "Ångest", "risk_och_skyddsbedomning_gjord": True}),
    "planering": ("sam", {"planering": {"stod": "Samtal", "kontakt_datum": "2026-02-02", "kortsiktiga_mal": "50 %",
                                        "langsiktiga_mal": "Full närvaro", "hur_vi_vet": "Statistik"}}),
    "godkann_plan": ("sam", {}),
    "insats": ("sam", {"ors": skattning(5, 5, 6, 6), "srs": skattning(9, 9, 9, 9), "enligt_plan": True}),
    "uppfoljning": ("sam", {"sdq": sdq(svar=[0] * 25), "ors": skattning(8, 8, 8, 8), "sip_avstamning": "Följs",
                            "fortsatt": False}),
    "avslut": ("sam", {"sdq": sdq(svar=[0] * 25), "avslut_kommentar": "Målen nådda"}),
    "eskalera_sip": ("cia", eskalering()),
    "paminn_kontakt": ("cia", {}),
}
STEPS["bedomning_sdq"] = STEPS["bedomning"]
STEPS["eskalera_sip_chef"] = STEPS["eskalera_sip"]
ORDER = ["aktualisering", "samtycke", "sammankallande", "upprata_sip", "bedomning", "planering", "insats"]


def drive(clients: dict, case_id: str, until: str | None = None) -> None:
    """Complete open tasks in the case's order until `until` is open (None: until the case is closed)."""
    for _ in range(30):
        case = clients["motet"].get(f"/cases/{case_id}").json()
        opened = sorted(t["element_id"] for t in case["open_tasks"])
        if case["status"] != "open" or (until is not None and until in opened):
            return
        element = next(e for e in opened if e.startswith(("eskalera", "paminn"))) \
            if any(e.startswith(("eskalera", "paminn")) for e in opened) else opened[0]
        who, data = STEPS[element]
        do(clients[who], case_id, element, data)
    raise AssertionError(f"case {case_id} did not get to {until or 'closure'}")


def test_hlt_cases_at_every_step_move_to_the_revised_model_and_run_to_closure(product):
    clock = product.clock
    with product.client("hugo", "hlt_motet") as motet, product.client("sam", "samordnare") as sam, \
            product.client("cia", "chef") as cia, product.client("agda", "processagare", agency=None) as agda:
        clients = {"motet": motet, "sam": sam, "cia": cia}
        sign_in(sam)  # the samordnare the HLT meeting appoints is known to the directory

        def park(element: str) -> list[str]:
            ids = [start_case(motet, "hlt")["id"] for _ in range(PER_STEP)]
            for case_id in ids:
                drive(clients, case_id, until=element)
            return ids

        escalated = park("upprata_sip")  # their SIP deadline passes before the migration
        clock.advance(timedelta(days=8))
        overdue_after = park("upprata_sip")  # 23 days in at the migration: past the new 21-day deadline
        clock.advance(timedelta(days=23))
        product.fire_timers()
        assert all("eskalera_sip" in open_elements(motet, c) for c in escalated)
        assert not any("eskalera_sip" in open_elements(motet, c) for c in overdue_after)
        parked = {element: park(element) for element in ORDER}
        parked["uppfoljning"] = park("uppfoljning")
        parked["loop"] = park("uppfoljning")
        for case_id in parked["loop"]:  # round the follow-up loop once: the second period's Insats is open
            do(sam, case_id, "uppfoljning", {**STEPS["uppfoljning"][1], "fortsatt": True,
                                              "nasta_uppfoljning": "2026-09-01"})
            assert open_elements(motet, case_id) == ["insats"]

        assert deploy_files(agda, "hlt.bpmn", overrides={"hlt.bpmn": revised(HLT).encode()}).status_code == 201
        body = {"from_version": 1, "to_version": 2, "mapping": [{"from": "bedomning", "to": "bedomning_sdq"}]}
        report = agda.post("/process-definitions/hlt/migrations", params={"dry_run": "true"}, json=body).json()
        plans = {c["case_id"]: c for c in report["cases"]}
        assert len(plans) == PER_STEP * (len(ORDER) + 4), "every open case is in the report"
        refused = {case_id for case_id, plan in plans.items() if not plan["movable"]}
        assert refused == set(escalated), "only the cases at the unmapped escalation cannot move"
        assert all("eskalera_sip" in plans[c]["reasons"][0] for c in escalated)
        assert all(any("fires at once" in e for e in plans[c]["effects"]) for c in overdue_after)

        job = agda.post("/process-definitions/hlt/migrations", json=body).json()
        assert product.run_migrations() == 1
        done = agda.get(f"/process-definitions/hlt/migrations/{job['id']}").json()
        assert done["status"] == "done" and done["moved"] == len(plans) - len(escalated)
        assert {r["case_id"] for r in done["refused"]} == set(escalated)

        product.fire_timers()  # the shortened SIP deadline of the overdue cases fires at once
        for case_id in overdue_after:
            assert "eskalera_sip_chef" in open_elements(motet, case_id)
        renamed = motet.get(f"/cases/{parked['bedomning'][0]}").json()
        assert renamed["process_version"] == 2 and renamed["open_tasks"][0]["element_id"] == "bedomning_sdq"
        moved = [c for ids in parked.values() for c in ids] + overdue_after
        for case_id in moved:
            drive(clients, case_id)
            case = motet.get(f"/cases/{case_id}").json()
            assert case["status"] == "completed" and case["process_version"] == 2, case_id
            assert [e for e, _ in events(motet, case_id)].count("migrated") == 1
        for case_id in parked["planering"]:
            assert ("task_completed", "godkann_plan") in events(motet, case_id), "the added step ran"
        for case_id in escalated:
            assert motet.get(f"/cases/{case_id}").json()["process_version"] == 1
            drive(clients, case_id)
            assert motet.get(f"/cases/{case_id}").json()["status"] == "completed", "still works on version 1"
