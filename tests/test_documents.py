"""Printable documents from case data: the SIP, the handlingsplan and the kallelse, escaped and refused when absent."""
from __future__ import annotations

from factories import do, sign_in
from forms_data import person, samtycke, sip
from test_hlt import HLT_MOTET, SAMORDNARE, aktualisera
from test_vastbas import KOORDINATOR
from test_vastbas import SAMORDNARE as VASTBAS_SAMORDNARE
from test_vastbas import assessed, known, planned


def test_sip_document_prints_the_plan_with_data_escaped(product):
    with product.client("hugo", *HLT_MOTET) as motet, product.client("sam", *SAMORDNARE) as samordnare:
        sign_in(samordnare)
        case_id = aktualisera(motet)
        early = motet.get(f"/cases/{case_id}/documents/sip")
        assert early.status_code == 409 and "no SIP" in early.json()["detail"]
        do(motet, case_id, "samtycke", samtycke())
        do(motet, case_id, "sammankallande", {"traffar_familjen": [person("sam")], "samordnare": person("sam")})
        plan = sip()
        plan["sip"]["barnets_asikt"] = "<script>alert('x')</script> vill gå i skolan"
        do(samordnare, case_id, "upprata_sip", plan)
        response = samordnare.get(f"/cases/{case_id}/documents/sip")
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
        html = response.text
        assert "<h1>Samordnad individuell plan (SIP)</h1>" in html
        assert "Samtalsstöd" in html and "Försäkringskassan" in html and "Kommunen, Sara Socialsekreterare" in html
        assert "<script>alert" not in html and "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
        assert "@media print" in html


def test_handlingsplan_and_kallelse_for_vastbas(product):
    with product.client("siv", *VASTBAS_SAMORDNARE) as samordnare, product.client("kim", *KOORDINATOR) as koordinator:
        case_id = planned(product, samordnare, koordinator)
        kallelse = koordinator.get(f"/cases/{case_id}/documents/kallelse").text
        assert "Kallelse till nätverksmöte" in kallelse and "Skolans konferensrum" in kallelse
        assert "Lärare Lisa" in kallelse and "Kim" in kallelse
        plan = koordinator.get(f"/cases/{case_id}/documents/handlingsplan").text
        assert "Närvaro över 80 %" in plan and "Kurator Karin" in plan and "Moster Maja" in plan


def test_unknown_or_traversing_document_names_are_refused(product):
    known(product)
    with product.client("siv", *VASTBAS_SAMORDNARE) as samordnare:
        case_id = assessed(samordnare)
        for name in ("okand", "..%2F..%2Fpyproject.toml", "%2E%2E%2Fsamtycke.schema.json", "_bas", "SIP"):
            response = samordnare.get(f"/cases/{case_id}/documents/{name}")
            assert response.status_code == 404, (name, response.text)
            assert response.headers["content-type"] == "application/problem+json"
        assert samordnare.get(f"/cases/{case_id}/documents/handlingsplan").status_code == 409
