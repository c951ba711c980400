"""Who is in a case: appointed people hold their seats, several people share a role, units bound what an open
seat reaches, and each role's case-wide rights are the model's — walked through HTTP as the seeds' roles would."""
from __future__ import annotations

from factories import FIXTURES, OWNER, SKOLA, deploy_files, do, events, open_elements, sign_in, start_case
from forms_data import person, samtycke, sip
from test_hlt import HLT_MOTET, aktualisera, kontakt
from test_skolfranvaro import report
from test_vastbas import (EHT, IFO_DEL, KONTAKTPERSON, KOORDINATOR, MOTE, SAMORDNARE, SOCIALSEKRETERARE, SPRAKROR, follow_up,
                          handlingsplan, known, offered, planned, planned_until_plan, registered)


def _tasks(client) -> list[str]:
    return sorted(t["element_id"] for t in client.get("/tasks").json()["items"])


def test_appointed_koordinatorer_hold_the_seat_and_koordinator_2_documents_the_meetings(product):
    with product.client("siv", *SAMORDNARE) as samordnare, product.client("kim", *KOORDINATOR) as kim, \
            product.client("klara", *KOORDINATOR) as klara, \
            product.client("kurt", *KOORDINATOR, agency="polis") as polis, \
            product.client("hans", "socialsekreterare", "koordinator", agency="socialtjanst") as hans:
        known(product)
        [hans_id] = sign_in(hans)
        sign_in(polis)
        case_id = registered(samordnare)
        own = do(samordnare, case_id, "bedomning", {"vastbasarende": True, "koordinator2": person("klara"),
                                                    "koordinator1": {**person("h.hansson", "socialtjanst"),
                                                                     "person_id": hans_id}}, status=422)
        assert own["errors"][0]["location"] == "/data/koordinator1"
        assert "may not be the case's handlaggare" in own["errors"][0]["message"], "the directory knows it is him"
        do(samordnare, case_id, "bedomning", {"vastbasarende": True, "koordinator1": person("kim"),
                                             "koordinator2": person("klara")})
        assert polis.get(f"/cases/{case_id}").status_code == 404, "a koordinator, but not appointed"
        assert hans.get(f"/cases/{case_id}").status_code == 404 and _tasks(hans) == [], "nor the handläggare"
        do(kim, case_id, "erbjudande", {"familjen_tackar_ja": True, "barnets_rost": "Vill ha lugn"})
        assert klara.get(f"/cases/{case_id}").status_code == 200, "koordinator 2 keeps the case after k1 acted"
        do(klara, case_id, "formote", {
            "problemanalys": "Frånvaro", "syfte": "Tillbaka till skolan", "natverkskarta": [{"namn": "Maja",
                                                                                           "relation": "släkt"}],
            "sprakror": {"namn": "Moster Maja", "relation": "släkt", "anvandare": "maja"},
            "gastlista": [{"namn": "Lisa", "roll": "mentor"}], "natverksmote_1": MOTE})
        with product.client("maja", *SPRAKROR, agency="fritid") as sprakror:  # appointed at förmöte
            do(sprakror, case_id, "barnets_rost", {"barnets_rost": "Vill ha en vuxen att prata med"})
        do(klara, case_id, "natverksmote_1", {"behovsanalys": "Trygghet", "hemuppgifter": [],
                                              "natverksmote_2": MOTE})
        seats = {(p["user"], p["role"], p["source"]) for p in kim.get(f"/cases/{case_id}/participants").json()}
        assert {("kim", "koordinator", "appointed"), ("klara", "koordinator", "appointed"),
                ("maja", "sprakror", "appointed")} <= seats
        assert ("seat_appointed", "bedomning") in events(kim, case_id)


def test_the_kontaktperson_the_rektor_appoints_follows_up_and_nobody_else_can(product):
    with product.client("siv", *SAMORDNARE) as samordnare, product.client("kim", *KOORDINATOR) as koordinator, \
            product.client("karin", *KONTAKTPERSON) as karin, \
            product.client("rut", "rektor", "kontaktperson") as rut, product.client("kia", *KONTAKTPERSON) as kia:
        case_id = planned_until_plan(product, samordnare, koordinator)
        sign_in(kia)
        plan = handlingsplan()
        refused = do(koordinator, case_id, "natverksmote_2", {**plan, "kontaktperson": person("rut", "skola")},
                     status=422)
        assert refused["errors"][0]["location"] == "/data/kontaktperson"
        assert "holds the role rektor in the directory" in refused["errors"][0]["message"]
        assert "may not be rektor or socialsekreterare" in refused["errors"][0]["message"], "the rule, named"
        do(koordinator, case_id, "natverksmote_2", plan)  # karin
        assert rut.get(f"/cases/{case_id}").status_code == 404, "holding kontaktperson is not being appointed"
        assert _tasks(rut) == [] and _tasks(karin) == ["insatser_paborjas"]
        do(karin, case_id, "insatser_paborjas", {"paborjade": "2026-02-17"})
        [row] = [p for p in karin.get(f"/cases/{case_id}/participants").json() if p["role"] == "kontaktperson"]
        by_rut = rut.post(f"/cases/{case_id}/seats/kontaktperson/handover", json={"participant_id": row["id"],
                                                                                  "user": "kia", "agency": "skola"})
        assert by_rut.status_code == 404, "not in the case"
        handed = karin.post(f"/cases/{case_id}/seats/kontaktperson/handover",
                            json={"participant_id": row["id"], "user": "kia", "agency": "skola"})
        assert handed.status_code == 200, handed.text
        assert karin.get(f"/cases/{case_id}").status_code == 404, "she handed it over"
        do(kia, case_id, "uppfoljning", {"resultat": "utvardering", "uppfoljning": "Bättre närvaro"})
        [handover] = [e for e in kia.get(f"/cases/{case_id}/history").json()["items"]
                      if e["event"] == "seat_handed_over"]
        assert handover["actor"]["user"] == "karin"


def test_the_rektor_appoints_the_kontaktperson_directly_and_only_the_appointee_follows_up(product):
    with product.client("siv", *SAMORDNARE) as samordnare, product.client("kim", *KOORDINATOR) as koordinator, \
            product.client("karin", *KONTAKTPERSON) as karin, product.client("kia", *KONTAKTPERSON) as kia, \
            product.client("rut", "rektor", "kontaktperson") as rut, product.client("eva", *EHT) as eht, \
            product.client("rolf", "rektor", units=("Tyrings skola",)) as other_rektor:
        case_id = planned(product, samordnare, koordinator)  # nätverksmöte 2 recorded karin
        sign_in(kia)
        url = f"/cases/{case_id}/seats/kontaktperson/appointments"
        refused = rut.post(url, json={"user": "rut", "agency": "skola"})
        assert refused.status_code == 422, refused.text
        [error] = refused.json()["errors"]
        assert error["location"] == "/user" and "holds the role rektor in the directory" in error["message"]
        assert "may not be rektor or socialsekreterare" in error["message"], "the rule, named"
        assert other_rektor.post(url, json={"user": "kia", "agency": "skola"}).status_code == 404, \
            "another school's rektor learns nothing of the case"
        by_koordinator = koordinator.post(url, json={"user": "kia", "agency": "skola"})
        assert by_koordinator.status_code == 403 and "gives it to: rektor" in by_koordinator.json()["detail"]
        appointed = rut.post(url, json={"user": "kia", "agency": "skola"})
        assert appointed.status_code == 200, appointed.text
        assert [p["user"] for p in appointed.json() if p["role"] == "kontaktperson"] == ["kia"], "karin steps down"
        assert _tasks(karin) == [] and karin.get(f"/cases/{case_id}").status_code == 404
        assert _tasks(rut) == [], "the rektor appoints; holding the role is not being appointed"
        [task] = kia.get("/tasks", params={"case_id": case_id}).json()["items"]
        assert karin.post(f"/tasks/{task['id']}/complete", json={"data": {"paborjade": "2026-02-17"}}).status_code \
            == 404
        follow_up(kia, eht, case_id, "utvardering")
        [appointment] = [e for e in kia.get(f"/cases/{case_id}/history").json()["items"]
                         if e["event"] == "seat_appointed" and e["element_id"] is None]
        assert appointment["actor"]["user"] == "rut" and appointment["element_name"] == "Kontaktperson"


def test_ifo_does_its_part_of_the_vastbas_bedomning_before_the_samordnare_completes_it(product):
    with product.client("siv", *SAMORDNARE) as samordnare, product.client("kim", *KOORDINATOR) as kim, \
            product.client("sara", *SOCIALSEKRETERARE, agency="socialtjanst") as sara, \
            product.client("sonja", *SOCIALSEKRETERARE, agency="socialtjanst", units=("IFO Hörby",)) as elsewhere:
        known(product)
        case_id = registered(samordnare, ifo=False)
        [task] = [t for t in samordnare.get(f"/cases/{case_id}").json()["open_tasks"] if t["element_id"] == "bedomning"]
        decided = {"vastbasarende": True, "koordinator1": person("kim"), "koordinator2": person("klara")}
        waiting = do(samordnare, case_id, "bedomning", decided, status=409)
        assert "waits for its required part ifo_bedomning (socialsekreterare)" in waiting["detail"]
        assert _tasks(sara) == ["bedomning"], "IFO of the case's area sees the task its part is in"
        [part] = sara.get(f"/tasks/{task['id']}").json()["parts"]
        assert (part["name"], part["required"], part["state"], part["yours"]) == ("ifo_bedomning", True, "open", True)
        url = f"/tasks/{task['id']}/parts/ifo_bedomning"
        assert _tasks(elsewhere) == [] and elsewhere.post(url, json={"data": IFO_DEL}).status_code == 404, \
            "IFO of another area learns nothing of the case"
        by_samordnare = samordnare.post(url, json={"data": IFO_DEL})
        assert by_samordnare.status_code == 403 and "for the role socialsekreterare" in by_samordnare.json()["detail"]
        invalid = sara.post(url, json={"data": {"instammer": True}})
        assert invalid.status_code == 422 and invalid.json()["errors"][0]["location"] == "/data"
        done = sara.post(url, json={"data": IFO_DEL})
        assert done.status_code == 200 and done.json()[0]["state"] == "done", done.text
        assert sara.post(f"/tasks/{task['id']}/complete", json={"data": decided}).status_code == 403, \
            "IFO does its part; the samordnare completes the task"
        assert sara.post(f"/tasks/{task['id']}/parts/ingen_sadan", json={"data": IFO_DEL}).status_code == 404
        do(samordnare, case_id, "bedomning", decided)
        assert sara.post(url, json={"data": IFO_DEL}).status_code == 409, "the task is completed"
        case = kim.get(f"/cases/{case_id}").json()
        assert case["data"]["ifo_bedomning"] == IFO_DEL, "the part is case data, under consent like any"
        assert ("task_part_done", "bedomning") in events(kim, case_id)
        assert ("sara", "socialsekreterare") in {(p["user"], p["role"]) for p in
                                                 kim.get(f"/cases/{case_id}/participants").json()}


def test_myndighetsutovning_is_for_a_socialsekreterare_of_the_area_not_for_a_sprakror(product):
    with product.client("siv", *SAMORDNARE) as samordnare, product.client("kim", *KOORDINATOR) as koordinator, \
            product.client("maja", *SPRAKROR, agency="fritid") as sprakror, \
            product.client("sune", *SOCIALSEKRETERARE, agency="socialtjanst") as sara:
        case_id = offered(product, samordnare, koordinator)
        assert "sune" not in {p["user"] for p in koordinator.get(f"/cases/{case_id}/participants").json()}
        refused = sprakror.post(f"/cases/{case_id}/messages", json={"name": "myndighetsutovning", "data": {}})
        assert refused.status_code == 403, "in the case, so she is told why"
        assert "your role may not send myndighetsutovning" in refused.json()["detail"]
        assert sprakror.post(f"/cases/{case_id}/cancel").status_code == 403
        assert sprakror.get(f"/cases/{case_id}").json()["status"] == "open"
        started = sara.post("/messages", json={"name": "myndighetsutovning", "correlation": {"case_id": case_id}})
        assert started.status_code == 200 and started.json()["delivered_to"] == [case_id], started.text
        assert open_elements(sara, case_id) == ["registrera_myndighetsbeslut"]


def test_the_hlt_meetings_three_key_persons_each_do_their_agencys_part(product):
    with product.client("hugo", *HLT_MOTET) as skolan, product.client("hilda", *HLT_MOTET) as hilda, \
            product.client("sonja", *HLT_MOTET, agency="socialtjanst") as soc, \
            product.client("hedda", *HLT_MOTET, agency="halso_sjukvard") as halsa, \
            product.client("sam", "samordnare", agency="socialtjanst") as sam, \
            product.client("hanna", "sjukskoterska", agency="halso_sjukvard") as hanna, \
            product.client("sten", "samordnare") as sten:
        sign_in(sam, hanna, sten)
        case_id = aktualisera(skolan)  # the school's key person takes the school's seat
        assert _tasks(hilda) == [] and hilda.get(f"/cases/{case_id}").status_code == 404, "the school's seat is taken"
        assert _tasks(soc) == _tasks(halsa) == ["kontakta_familjen", "samtycke"]
        do(skolan, case_id, "kontakta_familjen", kontakt())
        do(soc, case_id, "samtycke", samtycke())
        assert _tasks(halsa) == ["sammankallande"], "health's seat is still free"
        do(halsa, case_id, "sammankallande", {
            "traffar_familjen": [person("sam", "socialtjanst"), person("hanna", "halso_sjukvard")],
            "samordnare": person("sam", "socialtjanst")})
        seats = {(p["user"], p["agency"], p["role"]) for p in skolan.get(f"/cases/{case_id}/participants").json()}
        assert {("hugo", "skola", "hlt_motet"), ("sonja", "socialtjanst", "hlt_motet"),
                ("hedda", "halso_sjukvard", "hlt_motet")} <= seats
        assert sten.get(f"/cases/{case_id}").status_code == 404, "a samordnare the meeting did not appoint"
        do(sam, case_id, "upprata_sip", sip())
        do(hanna, case_id, "bedomning", {"sdq": {"informant": "foralder", "datum": "2026-01-20", "svar": [1] * 25},
                                         "svarigheter_och_behov": "Oro", "risk_och_skyddsbedomning_gjord": True})
        assert _tasks(sam) == ["planering"] and _tasks(hanna) == ["planering"], "both who meet the family plan"


def test_the_hlt_meetings_key_persons_each_do_their_agencys_part_of_the_meetings_decision(product):
    with product.client("hugo", *HLT_MOTET) as skolan, product.client("hilda", *HLT_MOTET) as hilda, \
            product.client("sonja", *HLT_MOTET, agency="socialtjanst") as soc, \
            product.client("hedda", *HLT_MOTET, agency="halso_sjukvard") as halsa, \
            product.client("sam", "samordnare", agency="socialtjanst") as sam:
        sign_in(sam)
        case_id = aktualisera(skolan)
        do(skolan, case_id, "kontakta_familjen", kontakt())
        do(skolan, case_id, "samtycke", samtycke())
        [task] = [t for t in skolan.get(f"/cases/{case_id}").json()["open_tasks"] if t["element_id"] == "sammankallande"]
        parts = {p["name"]: p for p in soc.get(f"/tasks/{task['id']}").json()["parts"]}
        assert [n for n, p in parts.items() if p["yours"]] == ["hlt_motet_socialtjanst"], "her agency's part only"
        assert not any(p["required"] for p in parts.values()), "offered: the meeting decides with whoever is there"
        view = {"bedomning": "Familjen är känd, vi träffar dem", "instammer": True}
        for client, agency in ((skolan, "skola"), (soc, "socialtjanst"), (halsa, "halso_sjukvard")):
            done = client.post(f"/tasks/{task['id']}/parts/hlt_motet_{agency}", json={"data": view})
            assert done.status_code == 200, (agency, done.text)
        assert hilda.post(f"/tasks/{task['id']}/parts/hlt_motet_skola", json={"data": view}).status_code == 404, \
            "the school's seat is hugo's"
        assert soc.post(f"/tasks/{task['id']}/parts/hlt_motet_skola", json={"data": view}).status_code == 403
        do(halsa, case_id, "sammankallande", {"traffar_familjen": [person("sam", "socialtjanst")],
                                              "samordnare": person("sam", "socialtjanst")})
        data = halsa.get(f"/cases/{case_id}").json()["data"]
        assert {k for k in data if k.startswith("hlt_motet_")} == {
            "hlt_motet_skola", "hlt_motet_socialtjanst", "hlt_motet_halso_sjukvard"}, "shared under the consent"
        done_by = [(e["actor"]["user"], e["details"]["part"]) for e in skolan.get(f"/cases/{case_id}/history").json()
                   ["items"] if e["event"] == "task_part_done"]
        assert done_by == [("hugo", "hlt_motet_skola"), ("sonja", "hlt_motet_socialtjanst"),
                           ("hedda", "hlt_motet_halso_sjukvard")]


def test_a_ladder_case_is_its_schools_mentors_and_eht_only(product):
    with product.client("mats", "mentor", units=(SKOLA,)) as mentor, \
            product.client("eva", "eht", units=(SKOLA,)) as eht, \
            product.client("tove", "mentor", "eht", units=("Tyrings skola",)) as elsewhere:
        case_id = start_case(mentor, "skolfranvaro", skola=SKOLA, elev="elev-ref-9")["id"]
        assert mentor.get(f"/cases/{case_id}").json()["unit"] == SKOLA, "the pupil's school is the case's unit"
        report(mentor, case_id, 16)  # the ladder climbs one step at a time (issue-14): the mentor's step first
        assert open_elements(mentor, case_id) == ["mentorsuppfoljning"] and _tasks(elsewhere) == []
        do(mentor, case_id, "mentorsuppfoljning", {"mentorssamtal": {
            "datum": "2026-01-20", "med_elev": True, "med_vardnadshavare": True, "atgarder": "Schemaanpassning"}})
        report(mentor, case_id, 16)
        assert open_elements(mentor, case_id) == ["eht_kartlaggning"]
        assert _tasks(eht) == ["eht_kartlaggning"], "the school's EHT, participant or not"
        assert _tasks(elsewhere) == [] and elsewhere.get(f"/cases/{case_id}").status_code == 404
        [task] = mentor.get(f"/cases/{case_id}").json()["open_tasks"]
        assert elsewhere.post(f"/tasks/{task['id']}/claim").status_code == 404
        refused = elsewhere.post(f"/cases/{case_id}/messages", json={"name": "orosanmalan", "data": {}})
        assert refused.status_code == 404, "another school's staff learn nothing of the pupil"


def _lane_declaring(**properties) -> bytes:
    """The loop fixture with its kontaktperson lane declaring `properties`."""
    block = "".join(f'<camunda:property name="{k}" value="{v}"/>' for k, v in properties.items())
    return (FIXTURES / "loop.bpmn").read_text().replace(
        '<bpmn:lane id="Lane_kp" name="kontaktperson">',
        f'<bpmn:lane id="Lane_kp" name="kontaktperson"><bpmn:extensionElements><camunda:properties>{block}'
        '</camunda:properties></bpmn:extensionElements>').encode()


def test_a_lanes_seat_declaration_is_checked_at_deploy_naming_the_lane(server):
    with server.client("agda", *OWNER) as owner:
        for properties, rule in (({"seat": "valfri"}, "seat is one of appointed, unit, area, agency"),
                                 ({"seat": "appointed"}, "an appointed seat names the step fields"),
                                 ({"appointed_by": "steg utan falt"}, "write STEP: FIELD"),
                                 ({"may": "radera"}, "is not cancel, add_participant or message:NAME"),
                                 ({"handed_over_by": "chef@kommun"}, "the reach after @ is one of unit, area"),
                                 ({"vem": "alla"}, "unknown lane property 'vem'")):
            refused = deploy_files(owner, "loop.bpmn",
                                   overrides={"loop.bpmn": _lane_declaring(**properties)})
            assert refused.status_code == 422, (properties, refused.text)
            [error] = refused.json()["errors"]
            assert error["element"] == "Lane_kp" and rule in error["message"], (properties, error)


def test_a_seat_is_handed_over_only_by_whom_the_model_says(server):
    model = _lane_declaring(seat="unit", handed_over_by="chef", may="add_participant")
    with server.client("agda", *OWNER) as owner:
        assert deploy_files(owner, "loop.bpmn",
                            overrides={"loop.bpmn": model}).status_code == 201
    with server.client("kim", "kontaktperson") as kim, server.client("kalle", "kontaktperson") as kalle, \
            server.client("cia", "chef") as cia:
        sign_in(kalle, cia)
        case = start_case(kim, "uppfoljning")
        [row] = kim.get(f"/cases/{case['id']}/participants").json()
        body = {"participant_id": row["id"], "user": "kalle", "agency": "skola"}
        refused = kim.post(f"/cases/{case['id']}/seats/kontaktperson/handover", json=body)
        assert refused.status_code == 403 and "your role may not hand over the seat" in refused.json()["detail"]
        assert kim.post(f"/cases/{case['id']}/cancel").status_code == 403, "cancel is nobody's in this model"
        assert kim.post(f"/cases/{case['id']}/participants", json={"user": "cia", "agency": "skola",
                                                                   "role": "chef"}).status_code == 201
        handed = cia.post(f"/cases/{case['id']}/seats/kontaktperson/handover", json=body)
        assert handed.status_code == 200, handed.text
        assert [(p["user"], p["role"]) for p in handed.json()] == [("cia", "chef"), ("kalle", "kontaktperson")]
        again = cia.post(f"/cases/{case['id']}/seats/kontaktperson/handover",
                         json={**body, "participant_id": handed.json()[1]["id"]})
        assert again.status_code == 409, "kalle holds it already"
        assert cia.post(f"/cases/{case['id']}/seats/kung/handover", json=body).status_code in (403, 404)


def _task_declaring(part: str) -> bytes:
    """The loop fixture with its follow-up task declaring one part."""
    return (FIXTURES / "loop.bpmn").read_text().replace(
        '<bpmn:userTask id="folj_upp" name="Följ upp" camunda:formKey="uppfoljning">',
        '<bpmn:userTask id="folj_upp" name="Följ upp" camunda:formKey="uppfoljning"><bpmn:extensionElements>'
        f'<camunda:properties><camunda:property name="part" value="{part}"/></camunda:properties>'
        '</bpmn:extensionElements>').encode()


def test_a_tasks_part_and_the_retired_form_rules_are_checked_at_deploy(server):
    with server.client("agda", *OWNER) as owner:
        for part, rule in (("kalas", "write NAME: ROLE"), ("del: kung", "'kung' is not a lane (role) of the process"),
                           ("del: chef, snart", "'snart' is not required, agency=AGENCY or form=FORMKEY"),
                           ("del: chef, form=saknas", "the part's form 'saknas' names no form in the deployment")):
            refused = deploy_files(owner, "loop.bpmn", overrides={"loop.bpmn": _task_declaring(part)})
            assert refused.status_code == 422, (part, refused.text)
            [error] = refused.json()["errors"]
            assert error["element"] == "folj_upp" and rule in error["message"], (part, error)
        form = (FIXTURES / "forms" / "uppfoljning.schema.json").read_text().replace(
            '{', '{"x-samverka-rules": [{"rule": "not_one_of", "field": "/x/befattning", "values": ["rektor"], '
                 '"message": "nej"}], ', 1)
        refused = deploy_files(owner, "loop.bpmn", "uppfoljning.schema.json",
                               overrides={"uppfoljning.schema.json": form.encode()})
        assert refused.status_code == 422 and "x-samverka-rules are retired" in refused.text, refused.text
        assert deploy_files(owner, "loop.bpmn", overrides={"loop.bpmn": _task_declaring(
            "chefens_syn: chef, required")}).status_code == 201
