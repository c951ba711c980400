"""A form's 422 says what is wrong in Swedish, with Swedish words for the slugs (`hälso- och sjukvård`)."""
from __future__ import annotations

import pytest
from jsonschema import Draft202012Validator

from engine.casework.form_messages import swedish
from factories import do, start_case
from forms_data import samtycke

HLT_MOTET = ("hlt_motet",)


def test_a_refused_consent_names_each_field_in_swedish_with_swedish_words(product):
    with product.client("hugo", *HLT_MOTET) as motet:
        case_id = start_case(motet, "hlt")["id"]
        refused = do(motet, case_id, "aktualisering", {"akut": "ja", "behov": "", "tas_upp": True,
                                                        "okand": 1}, status=422)
        assert refused["detail"] == "uppgifterna stämmer inte med formuläret hlt_aktualisering"
        messages = {e["location"]: e["message"] for e in refused["errors"]}
        assert messages["/data"] in ("saknas: 'aktualiserad_av' måste fyllas i", "okänt fält: 'okand'")
        assert messages["/data/akut"] == "måste vara ja eller nej (true/false)"
        assert messages["/data/behov"] == "får inte vara tomt"
        do(motet, case_id, "aktualisering", {"aktualiserad_av": {"namn": "Lisa", "anvandare": "lisa",
                                                                  "verksamhet": "skola", "befattning": "larare"},
                                              "akut": False, "behov": "Oro", "tas_upp": True})
        wrong = samtycke(datum="13/1", barnets_alder=21, omfattning=["skola", "halsa"], givet_av=[])
        refused = do(motet, case_id, "samtycke", wrong, status=422)
        messages = {e["location"]: e["message"] for e in refused["errors"]}
        assert messages["/data/samtycke/omfattning/1"] == (
            "'halsa' går inte: välj en av skola och elevhälsa (skola), socialtjänst (socialtjanst), "
            "hälso- och sjukvård (halso_sjukvard), fritid, polis")
        assert messages["/data/samtycke/datum"] == "måste vara ett datum (ÅÅÅÅ-MM-DD)"
        assert messages["/data/samtycke/barnets_alder"] == "21 går inte: måste vara högst 20"
        assert messages["/data/samtycke/givet_av"] == "måste ha minst en rad"
        assert not any("halso_sjukvard'" in m or "is not" in m for m in messages.values())
        early = motet.get(f"/cases/{case_id}/documents/sip")
        assert early.status_code == 409 and early.json()["detail"] == "ingen SIP har upprättats i ärendet ännu"


@pytest.mark.parametrize("schema, value, expected", [
    ({"const": "kommunen"}, "regionen", "måste vara kommunen"),
    ({"type": ["string", "null"]}, 1, "måste vara text eller tomt (null)"),
    ({"format": "email"}, "ingen", "måste vara en e-postadress"),
    ({"minLength": 3}, "ab", "måste ha minst 3 tecken"),
    ({"maxLength": 2}, "abc", "får ha högst 2 tecken"),
    ({"minItems": 2}, [1], "måste ha minst 2 rader"),
    ({"maxItems": 1}, [1, 2], "får ha högst 1 rad"),
    ({"exclusiveMinimum": 0}, 0, "0 går inte: måste vara större än 0"),
    ({"pattern": "^[0-9]+$"}, "x", "'x' har fel form (ska följa mönstret ^[0-9]+$)"),
    ({"uniqueItems": True}, [1, 1], "samma rad står två gånger"),
    ({"oneOf": [{"type": "string"}, {"type": "integer"}]}, 1.5, "passar inget av de tillåtna alternativen"),
    ({"not": {"const": 1}}, 1, "är inte tillåtet här"),
    ({"dependentRequired": {"slut": ["start"]}}, {"slut": "2026-06-01"}, "'slut' kräver 'start'"),
    ({"enum": [True]}, False, "nej går inte: välj en av ja"),
    ({"multipleOf": 2}, 3, "3 is not a multiple of 2"),  # a kind no form uses keeps the library's text
])
def test_each_schema_rule_has_its_swedish_sentence(schema, value, expected):
    [error] = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER).iter_errors(value)
    assert swedish(error) == expected
