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
        assert early.status_code == 409 and "ingen SIP" in early.json()["detail"]
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


def _sections(html: str) -> dict[str, str]:
    """Each <h2> heading of a document with the text under it, in order."""
    import re
    parts = re.split(r"<h2>(.*?)</h2>", html.split("<h1>", 1)[1])
    return {parts[i]: re.sub(r"<[^>]+>", " ", parts[i + 1]) for i in range(1, len(parts) - 1, 2)}


def test_the_printed_sip_has_sips_mandatory_contents_heading_by_heading(product):
    with product.client("hugo", *HLT_MOTET) as motet, \
            product.client("sam", *SAMORDNARE, agency="socialtjanst") as samordnare:
        sign_in(samordnare)  # the directory knows her, of socialtjänst, before she is appointed
        case_id = aktualisera(motet, barnets_namn="Elsa Exempel")
        do(motet, case_id, "kontakta_familjen", {"kontakt": {"datum": "2026-01-13", "av": person("lisa"), "hur": "telefon"}})
        do(motet, case_id, "samtycke", samtycke())
        do(motet, case_id, "sammankallande", {"traffar_familjen": [person("sam", "socialtjanst")],
                                              "samordnare": person("sam", "socialtjanst", namn="Sam Samordnare")})
        do(samordnare, case_id, "upprata_sip", sip())
        html = samordnare.get(f"/cases/{case_id}/documents/sip").text
        sections = _sections(html)
        assert list(sections)[:10] == [
            "Barnet", "Samtycke", "Samordnare", "Deltagare", "Insatser som behövs",
            "Insatser som kommunen ansvarar för", "Insatser som regionen ansvarar för",
            "Åtgärder av andra än kommunen och regionen", "Övergripande ansvar", "Nästa uppföljning"]
        assert "Elsa Exempel" in sections["Barnet"]
        consent = sections["Samtycke"]  # who, when, scope, in words
        assert "Vera Vårdnadshavare (vårdnadshavare)" in consent and "2026-01-13" in consent
        assert "skola och elevhälsa, socialtjänst, hälso- och sjukvård" in consent
        assert "Sam Samordnare, socialtjänst" in sections["Samordnare"]
        assert "Samtalsstöd" in sections["Insatser som behövs"] and "Anpassad studiegång" in sections["Insatser som behövs"]
        assert "Samtalsstöd" in sections["Insatser som regionen ansvarar för"]  # hälso- och sjukvård
        assert "Inga." in sections["Insatser som kommunen ansvarar för"]
        others = sections["Åtgärder av andra än kommunen och regionen"]
        assert "Anpassad studiegång" in others and "Försäkringskassan" in others
        assert "Kommunen, Sara Socialsekreterare" in sections["Övergripande ansvar"]
        assert "2026-04-30" in sections["Nästa uppföljning"]
        assert "halso_sjukvard" not in html and "socialtjanst<" not in html  # words, not slugs
        number = samordnare.get(f"/cases/{case_id}").json()["case_number"]
        assert number.startswith("HLT-2026-") and f"Ärende {number}" in html


def test_case_numbers_run_per_process_and_year(product):
    with product.client("hugo", *HLT_MOTET) as motet, product.client("siv", *VASTBAS_SAMORDNARE) as samordnare:
        first, second = (motet.post("/cases", json={"process_key": "hlt"}).json() for _ in range(2))
        vastbas = samordnare.post("/cases", json={"process_key": "vastbas"}).json()
        assert int(second["case_number"][-4:]) == int(first["case_number"][-4:]) + 1
        assert first["case_number"][:9] == "HLT-2026-" and vastbas["case_number"].startswith("VB-2026-")
        product.clock.advance(__import__("datetime").timedelta(days=365))
        assert motet.post("/cases", json={"process_key": "hlt"}).json()["case_number"] == "HLT-2027-0001"
